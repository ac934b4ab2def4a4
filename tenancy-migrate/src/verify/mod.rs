//! `verify`: proves isolation by attacking the database as the app role.
//!
//! Inside one transaction that is always rolled back: two organizations (A and B) and a sample
//! row of each in every tenant table (and the rows of shared tables they reference), made by
//! the connecting role. Then, per table, each probe in its own savepoint, as the app role
//! (`SET LOCAL ROLE`) with A's claim: read (only A's rows), insert a row of B, update and delete
//! B's row, move A's row to B, reference B's parent through a foreign key (the FK existence
//! oracle), read with a missing and with an empty claim; and A's own read, insert, update and
//! delete, which must work. One probe runs as the connecting role instead: moving a row between
//! organizations bypassing row-level security (a migration job, an owner), which only the
//! immutability trigger stops. Every cell keeps the statement and what it returned.
//!
//! A checksum of the catalog and of the data before and after proves nothing was left behind.

mod attacks;
mod probe;
mod render;
mod sample;

pub use attacks::Attack;
pub use render::render;

use crate::catalog::{JsonRow, as_json};
use crate::error::{Error, Result};
use diesel::{Connection, PgConnection, RunQueryDsl};
use probe::{Runner, insert_sample};
use sample::Samples;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::{Outcome, OutcomeCounts, Verification, VerifiedTable};
use tenancy_schema::{Schema, Scope};

/// The two organizations of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Org {
    A,
    B,
}

impl Org {
    pub(crate) fn index(self) -> usize {
        match self {
            Org::A => 0,
            Org::B => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Org::A => "A",
            Org::B => "B",
        }
    }
}

/// Runs every attack; the database is left as it was found.
pub fn verify(conn: &mut PgConnection, schema: &Schema) -> Result<Verification> {
    preflight(conn, schema)?;
    let checksum_before = checksum(conn, schema)?;
    let mut tables = Vec::new();
    let outcome = conn.transaction::<(), Error, _>(|conn| {
        tables = attack_all(conn, schema)?;
        // Always rolled back: nothing verify made may stay.
        Err(Error::RolledBack)
    });
    match outcome {
        Err(Error::RolledBack) => {}
        Err(err) => return Err(err),
        Ok(()) => unreachable!("the verify transaction is always rolled back"),
    }
    let checksum_after = checksum(conn, schema)?;
    let mut counts = OutcomeCounts::default();
    for cell in tables.iter().flat_map(|t| &t.cells) {
        match cell.outcome {
            Outcome::Blocked => counts.blocked += 1,
            Outcome::Leaked => counts.leaked += 1,
            Outcome::Allowed => counts.allowed += 1,
            Outcome::Error => counts.error += 1,
            Outcome::Skipped => counts.skipped += 1,
        }
    }
    Ok(Verification {
        role: schema.settings.app_role.clone(),
        attacks: Attack::ALL.iter().map(|a| a.code().to_owned()).collect(),
        tables,
        counts,
        checksum_before,
        checksum_after,
    })
}

/// Whether the run passed: no leak, no failed same-organization action, and no trace left.
pub fn passed(verification: &Verification) -> bool {
    verification.counts.leaked == 0
        && verification.counts.error == 0
        && verification.checksum_before == verification.checksum_after
        && verification.tables.iter().all(|t| t.skipped.is_none())
}

#[derive(diesel::QueryableByName)]
struct Preflight {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    role_exists: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    can_set_role: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    bypasses_rls: bool,
}

/// Fatal problems, each one line: the app role, and whether we may become it.
fn preflight(conn: &mut PgConnection, schema: &Schema) -> Result<()> {
    let role = &schema.settings.app_role;
    let check = diesel::sql_query(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1) AS role_exists,
                coalesce((SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles WHERE rolname = $1), false)
                  AS can_set_role,
                (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user) AS bypasses_rls",
    )
    .bind::<diesel::sql_types::Text, _>(role)
    .get_result::<Preflight>(conn)
    .map_err(|e| Error::query("checking the app role", e))?;
    if !check.role_exists {
        return Err(Error::Verify(format!(
            "app role {role} does not exist in this database's cluster; run `tenancy-migrate apply` (it creates it), or set app_role in the declaration"
        )));
    }
    if !check.can_set_role {
        return Err(Error::Verify(format!(
            "the connecting role cannot SET ROLE {role}; connect as a superuser or a member of it (GRANT {role} TO <you>)"
        )));
    }
    if !check.bypasses_rls {
        return Err(Error::Verify(
            "the connecting role is subject to row-level security, so it cannot make the sample rows of two organizations; connect as a superuser or a role WITH BYPASSRLS".to_owned(),
        ));
    }
    let root = schema.root();
    let exists = diesel::sql_query(as_json("SELECT to_regclass($1) IS NOT NULL AS exists"))
        .bind::<diesel::sql_types::Text, _>(ident(&root.name))
        .get_result::<JsonRow>(conn)
        .map_err(|e| Error::query("looking for the organizations table", e))?;
    if exists.row.contains("false") {
        return Err(Error::Verify(format!(
            "the declared organizations table {} does not exist; apply the migrations (or a conversion) first",
            root.name
        )));
    }
    Ok(())
}

/// A checksum of the schema's catalog and of every declared table's rows.
fn checksum(conn: &mut PgConnection, schema: &Schema) -> Result<String> {
    let mut parts = vec![format!(
        "(SELECT md5(string_agg(v, ',' ORDER BY v)) FROM (
           SELECT c.relname || ':' || c.relkind::text || ':' || c.relrowsecurity || c.relforcerowsecurity || ':' || coalesce(c.relacl::text, '')
             FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
           UNION ALL SELECT conrelid::regclass::text || conname || pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
             WHERE connamespace = 'public'::regnamespace
           UNION ALL SELECT polrelid::regclass::text || polname || coalesce(pg_catalog.pg_get_expr(polqual, polrelid), '') FROM pg_catalog.pg_policy
           UNION ALL SELECT tgrelid::regclass::text || tgname FROM pg_catalog.pg_trigger WHERE NOT tgisinternal
           UNION ALL SELECT rolname || rolsuper || rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = {role}) x(v))",
        role = literal(&schema.settings.app_role)
    )];
    for table in &schema.tables {
        parts.push(format!(
            "(SELECT count(*)::text || md5(coalesce(string_agg(md5(t::text), ',' ORDER BY md5(t::text)), '')) FROM {} t \
             WHERE to_regclass({}) IS NOT NULL)",
            ident(&table.name),
            literal(&ident(&table.name))
        ));
    }
    // Tables that do not exist would fail the query: only existing ones are summed.
    let existing: Vec<String> = crate::scan::json_rows(
        conn,
        "SELECT c.relname AS name FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')",
        "listing tables for the checksum",
    )?;
    let parts: Vec<String> = parts
        .into_iter()
        .enumerate()
        .filter(|(i, _)| {
            *i == 0 || existing.iter().any(|row| row.contains(&format!("\"{}\"", schema.tables[i - 1].name)))
        })
        .map(|(_, p)| p)
        .collect();
    let sql = format!("SELECT md5({}) AS checksum", parts.join(" || "));
    let row = diesel::sql_query(as_json(&sql))
        .get_result::<JsonRow>(conn)
        .map_err(|e| Error::query("computing the verify checksum", e))?;
    let value: serde_json::Value = serde_json::from_str(&row.row).unwrap_or_default();
    Ok(value["checksum"].as_str().unwrap_or_default().to_owned())
}

fn attack_all(conn: &mut PgConnection, schema: &Schema) -> Result<Vec<VerifiedTable>> {
    let orgs = [uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string()];
    let run_id: String = orgs[0].chars().take(8).collect();
    let runner = Runner { schema, orgs: orgs.clone() };
    let mut samples = Samples::new(&run_id);
    // Sample rows, made by the connecting role, parents first; a table that cannot have them
    // is skipped with the database's reason (its children too).
    for table in schema.tables_in_dependency_order() {
        let mut keys = [None, None];
        for org in [Org::A, Org::B] {
            let sql = match samples.insert_sql(schema, table, org, &orgs, org, None) {
                Ok(sql) => sql,
                Err(reason) => {
                    samples.skipped.insert(table.name.clone(), reason);
                    break;
                }
            };
            match insert_sample(conn, &sql) {
                Ok(key) => keys[org.index()] = Some(key),
                Err(reason) => {
                    samples.skipped.insert(table.name.clone(), format!("its sample row cannot be inserted: {reason}"));
                    break;
                }
            }
        }
        samples.keys.insert(table.name.clone(), keys);
    }

    let mut verified = Vec::new();
    for table in schema.tables_in_dependency_order() {
        if table.scope == Scope::Global {
            continue;
        }
        if let Some(reason) = samples.skipped.get(&table.name) {
            verified.push(VerifiedTable {
                table: table.name.clone(),
                skipped: Some(reason.clone()),
                cells: Vec::new(),
            });
            continue;
        }
        let cells = Attack::ALL.iter().map(|attack| attack.run(conn, &runner, &mut samples, table)).collect();
        verified.push(VerifiedTable { table: table.name.clone(), skipped: None, cells });
    }
    Ok(verified)
}
