//! The checks' test bench: a small declaration (root, a global, two tenant tables with a
//! composite reference, a shared table and its link), migrated into a fresh database with rows for two organizations.
//! [`case`] is every check's test: the clean database has no finding; the break gives exactly
//! the one finding; the fix clears it.

use super::{Options, scan};
use crate::testing::TestDb;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tenancy_schema::Schema;
use tenancy_schema::report::Report;

pub const DECLARATION: &str = r#"
#![tenancy(default_org = "00000000-0000-4000-8000-000000000001", claim = signed)]
#[tenancy(root)]
struct Organization { #[key] id: Uuid, name: String }
#[tenancy(global)]
struct Plan { #[key] id: i64, name: String }
#[tenancy(tenant)]
struct Agent { #[key] id: i64, name: String }
#[tenancy(tenant, unique(email))]
struct Contact { #[key] id: i64, email: String, #[references(agents)] agent_id: Option<i64> }
#[tenancy(shared(through = "memberships.user_id"))]
struct User { #[key] id: Uuid, email: String }
#[tenancy(tenant)]
struct Membership { #[key] id: i64, #[references(users)] user_id: Uuid }
"#;

const ROWS: &str = "
INSERT INTO organizations (id, name) VALUES ('0000000a-0000-4000-8000-000000000000', 'A'), ('0000000b-0000-4000-8000-000000000000', 'B');
INSERT INTO agents (org_id, id, name) VALUES ('0000000a-0000-4000-8000-000000000000', 1, 'a1'), ('0000000b-0000-4000-8000-000000000000', 2, 'b2');
INSERT INTO contacts (org_id, id, email, agent_id) VALUES ('0000000a-0000-4000-8000-000000000000', 1, 'x@a', 1), ('0000000b-0000-4000-8000-000000000000', 2, 'x@b', 2);
INSERT INTO users (id, email) VALUES ('000000aa-0000-4000-8000-000000000000', 'ua@a'), ('000000bb-0000-4000-8000-000000000000', 'ub@b');
INSERT INTO memberships (org_id, id, user_id) VALUES ('0000000a-0000-4000-8000-000000000000', 1, '000000aa-0000-4000-8000-000000000000'), ('0000000b-0000-4000-8000-000000000000', 2, '000000bb-0000-4000-8000-000000000000');
";

pub fn declaration() -> Schema {
    tenancy_schema::parse_str("fixture.rs", DECLARATION).expect("the fixture declaration is valid")
}

/// A fresh database with the fixture declaration applied and a few rows in two organizations.
pub fn fixture(test: &str) -> TestDb {
    let db = TestDb::new(&format!("scan_{test}"));
    let migration = tenancy_codegen::plan::plan(None, &declaration(), 1).expect("plan").remove(0);
    let mut conn = db.admin();
    conn.transaction(|conn| conn.batch_execute(&migration.up)).expect("apply the fixture");
    conn.batch_execute(ROWS).expect("fixture rows");
    // PUBLIC's TEMP (an info finding of its own) is off here, so that the fixture scans clean.
    conn.batch_execute(
        "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$",
    )
    .expect("revoke TEMP");
    db
}

/// The SQL that creates one fixture table exactly as generated (to restore it after a break).
pub fn recreate(table: &str) -> String {
    let schema = declaration();
    let table = schema.table(table).expect("a fixture table");
    let (mut statements, deferred) = tenancy_codegen::sql::create_table(&schema, table, &[]);
    statements.extend(tenancy_codegen::sql::security(&schema.settings, table));
    statements.extend(deferred);
    statements.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// The SQL that restores the fixture's `auth_org_id()` as generated.
pub fn recreate_auth_org_id() -> String {
    tenancy_codegen::sql::auth_org_id(&declaration().settings, true)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The SQL that creates every fixture policy as generated.
pub fn recreate_policies() -> String {
    let schema = declaration();
    let policies = schema.tables.iter().flat_map(|t| tenancy_codegen::sql::security(&schema.settings, t));
    policies.filter(|s| matches!(s, tenancy_codegen::ddl::Ddl::CreatePolicy(_))).map(|s| format!("\n{s}")).collect()
}

pub fn scan_as(conn: &mut PgConnection) -> Report {
    scan_as_with(conn, &declaration())
}

/// A scan of the fixture database against another declaration.
pub fn scan_as_with(conn: &mut PgConnection, schema: &Schema) -> Report {
    scan(conn, schema, &Options::default()).unwrap_or_else(|e| panic!("scan failed: {e}"))
}

fn codes(report: &Report) -> Vec<String> {
    report.findings.iter().map(|f| format!("{} ({})", f.cache_key, f.message)).collect()
}

/// Clean → break → exactly one finding of `code` → fix → none.
pub fn case(test: &str, code: &str, break_sql: &str, fix_sql: &str) {
    case_also(test, code, break_sql, fix_sql, &[]);
}

/// Like [`case`], when the broken object also, unavoidably, trips the checks in `also`.
pub fn case_also(test: &str, code: &str, break_sql: &str, fix_sql: &str, also: &[&str]) {
    let db = fixture(test);
    let mut conn = db.admin();
    let clean = scan_as(&mut conn);
    assert!(clean.findings.is_empty(), "the fixture should scan clean: {:#?}", codes(&clean));

    conn.batch_execute(break_sql).unwrap_or_else(|e| panic!("break: {e}"));
    let broken = scan_as(&mut conn);
    let hits: Vec<_> = broken.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(hits.len(), 1, "expected exactly one {code}: {:#?}", codes(&broken));
    let others: Vec<_> =
        broken.findings.iter().filter(|f| f.code != code && !also.contains(&f.code.as_str())).collect();
    assert!(others.is_empty(), "unexpected findings besides {code}: {:#?}", codes(&broken));
    let hit = hits[0];
    assert!(!hit.evidence.sql.is_empty() && !hit.evidence.result.is_empty(), "{code} has no evidence");
    assert!(hit.cache_key.starts_with(code), "{code}: cache key {}", hit.cache_key);

    conn.batch_execute(fix_sql).unwrap_or_else(|e| panic!("fix: {e}"));
    let fixed = scan_as(&mut conn);
    assert!(fixed.findings.is_empty(), "the fix should clear {code}: {:#?}", codes(&fixed));
}
