//! Keys of several columns (`#[key]` on each): a membership table keyed `(project_id, user_name)`
//! and daily counters keyed `(project_id, day)`. A fresh database gets `(org_id, project_id,
//! user_name)` primary keys, and verify attacks those tables by their whole key with no leak; a
//! legacy database with `(project_id, user_name)` primary keys and no org column converts —
//! the backfill (in batches of ~97 rows) keeps every row, in its project's organization,
//! and the key becomes `(org_id, project_id, user_name)`.

use crate::support::{TestDb, scan_errors, verify_failures};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tenancy_migrate::convert::{self, run};
use tenancy_migrate::scan;
use tenancy_schema::report::Outcome;

const DECLARATION: &str = r#"
#[tenancy(root)]
struct Organization { #[key] id: Uuid, name: String }
#[tenancy(tenant)]
#[backfill(default_org)]
struct Project { #[key] id: i64, name: String }
#[tenancy(tenant)]
#[backfill(from_parent = "project_id")]
struct ProjectMember { #[key] #[references(projects)] project_id: i64, #[key] user_name: String, role: String }
#[tenancy(tenant)]
#[backfill(from_parent = "project_id")]
struct DailyCount { #[key] #[references(projects)] project_id: i64, #[key] day: Date, #[default("0")] hits: i64 }
"#;

fn declaration() -> tenancy_schema::Schema {
    let text = format!("#![tenancy(default_org = \"00000000-0000-4000-8000-00000000000a\")]\n{DECLARATION}");
    tenancy_schema::parse_str("keys.rs", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn primary_key(db: &TestDb, table: &str) -> String {
    #[derive(QueryableByName)]
    struct Def {
        #[diesel(sql_type = diesel::sql_types::Text)]
        def: String,
    }
    diesel::sql_query(format!(
        "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'p'"
    ))
    .get_result::<Def>(&mut db.admin())
    .unwrap()
    .def
}

/// verify attacked every tenant table by its whole key: no leak, no error, and the core attacks
/// ran (blocked) on the tables keyed by several columns.
fn assert_verified(db: &TestDb, schema: &tenancy_schema::Schema) {
    let v = tenancy_migrate::verify::verify(&mut db.admin(), schema).unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(tenancy_migrate::verify::passed(&v), "{:#?}", verify_failures(&v));
    assert_eq!(v.checksum_before, v.checksum_after, "verify left no trace");
    assert_eq!(v.counts.error, 0, "{:#?}", verify_failures(&v));
    for table in ["project_members", "daily_counts"] {
        let cells = &v.tables.iter().find(|t| t.table == table).unwrap().cells;
        for attack in [
            "read_other_org",
            "insert_other_org",
            "update_other_org_unfiltered",
            "delete_other_org_unfiltered",
            "move_to_other_org",
        ] {
            let cell = cells.iter().find(|c| c.attack == attack).unwrap_or_else(|| panic!("{table} {attack}"));
            assert_eq!(
                cell.outcome,
                Outcome::Blocked,
                "{table} {attack}: {}\n{}",
                cell.evidence.sql,
                cell.evidence.result
            );
        }
    }
}

#[test]
fn a_key_of_several_columns_is_migrated_and_verified() {
    let schema = declaration();
    let db = TestDb::new("composite_keys_fresh");
    let migration = tenancy_codegen::plan::plan(None, &schema, 1).unwrap().remove(0);
    db.admin().batch_execute(&migration.up).unwrap_or_else(|e| panic!("{e}\n{}", migration.up));
    assert_eq!(primary_key(&db, "project_members"), "PRIMARY KEY (org_id, project_id, user_name)");
    assert_eq!(primary_key(&db, "daily_counts"), "PRIMARY KEY (org_id, project_id, day)");
    assert_verified(&db, &schema);
    let options = scan::Options { data: true, ..scan::Options::default() };
    let report = scan::scan(&mut db.admin(), &schema, &options).unwrap();
    assert_eq!(scan_errors(&report), Vec::<String>::new());
}

#[test]
fn a_legacy_key_of_several_columns_converts() {
    let schema = declaration();
    let db = TestDb::new("composite_keys_legacy");
    db.admin()
        .batch_execute(
            "CREATE TABLE organizations (id uuid PRIMARY KEY, name text NOT NULL);
             INSERT INTO organizations VALUES ('00000000-0000-4000-8000-00000000000a', 'a'), ('00000000-0000-4000-8000-00000000000b', 'b');
             CREATE TABLE projects (id bigint PRIMARY KEY, name text NOT NULL,
                 org_id uuid REFERENCES organizations (id));
             INSERT INTO projects SELECT n, 'p' || n, CASE WHEN n % 2 = 0 THEN '00000000-0000-4000-8000-00000000000a'::uuid ELSE '00000000-0000-4000-8000-00000000000b' END
                 FROM generate_series(1, 40) n;
             CREATE TABLE project_members (project_id bigint NOT NULL REFERENCES projects (id), user_name text NOT NULL,
                 role text NOT NULL, PRIMARY KEY (project_id, user_name));
             INSERT INTO project_members SELECT p, 'user ' || u, 'member' FROM generate_series(1, 40) p, generate_series(1, 60) u;
             CREATE TABLE daily_counts (project_id bigint NOT NULL REFERENCES projects (id), day date NOT NULL,
                 hits bigint NOT NULL DEFAULT 0, PRIMARY KEY (day, project_id));
             INSERT INTO daily_counts SELECT p, date '2026-01-01' + d, p * d FROM generate_series(1, 40) p, generate_series(0, 29) d;",
        )
        .unwrap();
    let rows = |db: &TestDb| -> Vec<(i64, String, String)> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            project_id: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            user_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            role: String,
        }
        diesel::sql_query("SELECT project_id, user_name, role FROM project_members ORDER BY 1, 2")
            .load::<Row>(&mut db.admin())
            .unwrap()
            .into_iter()
            .map(|r| (r.project_id, r.user_name, r.role))
            .collect()
    };
    let before = rows(&db);
    assert_eq!(before.len(), 2400);
    // Small batches: many of them, the rows named by their two-column key.
    let options = convert::Options { batch_size: 97, ..convert::Options::default() };
    let plan =
        convert::plan_database(&mut db.admin(), &schema, "public", &options).unwrap_or_else(|e| panic!("plan: {e}"));
    let dir = crate::support::plan_dir("composite_keys_legacy");
    convert::write(&plan, &options, &dir).unwrap();
    let mut log = Vec::new();
    run::apply_dir(&mut db.admin(), &dir, run::RunOptions::default(), &mut |line| log.push(line.to_owned()))
        .unwrap_or_else(|e| panic!("apply: {e}"));
    assert_eq!(rows(&db), before, "every row kept, with its values");
    assert!(
        log.iter()
            .any(|l| l.contains("backfilled project_members.org_id") && l.contains("2400 rows to place, 2400 placed")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("backfilled daily_counts.org_id") && l.contains("1200 rows to place, 1200 placed")),
        "{log:#?}"
    );
    let misplaced: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM project_members m JOIN projects p ON p.id = m.project_id WHERE m.org_id IS DISTINCT FROM p.org_id)
         + (SELECT count(*) FROM daily_counts d JOIN projects p ON p.id = d.project_id WHERE d.org_id IS DISTINCT FROM p.org_id)",
    ))
    .get_result(&mut db.admin())
    .unwrap();
    assert_eq!(misplaced, 0, "each row in its project's organization");
    assert_eq!(primary_key(&db, "project_members"), "PRIMARY KEY (org_id, project_id, user_name)");
    assert_eq!(primary_key(&db, "daily_counts"), "PRIMARY KEY (org_id, project_id, day)");
    let report =
        scan::scan(&mut db.admin(), &schema, &scan::Options { data: true, ..scan::Options::default() }).unwrap();
    assert_eq!(scan_errors(&report), Vec::<String>::new());
    assert_verified(&db, &schema);
}
