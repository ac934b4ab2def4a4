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

mod sample;

use crate::catalog::{JsonRow, as_json};
use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use sample::Samples;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::{Cell, Evidence, Outcome, OutcomeCounts, Verification, VerifiedTable};
use tenancy_schema::{Claim, Schema, Scope, Table};

/// The two organizations of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Org {
    A,
    B,
}

impl Org {
    fn index(self) -> usize {
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

/// The attacks, in matrix column order: (code, expected outcome).
pub const ATTACKS: &[(&str, Outcome)] = &[
    ("read_own", Outcome::Allowed),
    ("insert_own", Outcome::Allowed),
    ("update_own", Outcome::Allowed),
    ("delete_own", Outcome::Allowed),
    ("read_other_org", Outcome::Blocked),
    ("insert_other_org", Outcome::Blocked),
    ("update_other_org", Outcome::Blocked),
    ("delete_other_org", Outcome::Blocked),
    ("move_to_other_org", Outcome::Blocked),
    ("reference_other_org", Outcome::Blocked),
    ("read_missing_claim", Outcome::Blocked),
    ("read_empty_claim", Outcome::Blocked),
    ("move_bypassing_rls", Outcome::Blocked),
];

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
        attacks: ATTACKS.iter().map(|(a, _)| (*a).to_owned()).collect(),
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

/// What one statement did: rows (JSON text for queries, a count for writes) or the error.
enum Probe {
    Rows(Vec<String>),
    Affected(usize),
    Failed(String),
}

impl Probe {
    fn shown(&self) -> String {
        match self {
            Probe::Rows(rows) if rows.is_empty() => "(no rows)".to_owned(),
            Probe::Rows(rows) => rows.join("\n"),
            Probe::Affected(1) => "1 row".to_owned(),
            Probe::Affected(n) => format!("{n} rows"),
            Probe::Failed(error) => format!("ERROR: {error}"),
        }
    }
}

/// Who runs a probe.
#[derive(Clone, Copy)]
enum As<'a> {
    /// The app role with this claim value (`None`: never set; `Some("")`: empty).
    App(Option<&'a str>),
    /// The connecting role (bypasses row-level security).
    Owner,
}

struct Runner<'a> {
    schema: &'a Schema,
    orgs: [String; 2],
}

impl Runner<'_> {
    /// The SQL that sets the claim transaction-locally, as the application does.
    fn claim_sql(&self, value: &str) -> String {
        match &self.schema.settings.claim {
            Claim::Setting(name) => format!("SELECT set_config({}, {}, true)", literal(name), literal(value)),
            Claim::Postgrest => {
                let claims = if value.is_empty() {
                    String::new()
                } else {
                    format!("{{\"app_metadata\":{{\"org_id\":\"{value}\"}}}}")
                };
                format!("SELECT set_config('request.jwt.claims', {}, true)", literal(&claims))
            }
        }
    }

    /// Runs `sql` in a savepoint as `who`, then rolls the savepoint back.
    fn probe(&self, conn: &mut PgConnection, who: As<'_>, sql: &str, query: bool) -> (Evidence, Probe) {
        self.probe_after(conn, who, None, sql, query)
    }

    /// Like [`Runner::probe`], after `prelude` (a query returning a key `t`), whose key replaces
    /// `$key` in `sql`.
    fn probe_after(
        &self,
        conn: &mut PgConnection,
        who: As<'_>,
        prelude: Option<&str>,
        sql: &str,
        query: bool,
    ) -> (Evidence, Probe) {
        let mut setup = vec!["SAVEPOINT tenancy_verify".to_owned()];
        let mut shown = Vec::new();
        if let As::App(claim) = who {
            setup.push(format!("SET LOCAL ROLE {}", ident(&self.schema.settings.app_role)));
            shown.push(format!("SET LOCAL ROLE {};", ident(&self.schema.settings.app_role)));
            if let Some(value) = claim {
                let claim = self.claim_sql(value);
                setup.push(claim.clone());
                shown.push(format!("{claim};"));
            }
        }
        let mut sql = sql.to_owned();
        if let Some(prelude) = prelude {
            shown.push(format!("{prelude};"));
        }
        let result = (|| -> Result<Probe, diesel::result::Error> {
            for statement in &setup {
                conn.batch_execute(statement)?;
            }
            if let Some(prelude) = prelude {
                let key = diesel::sql_query(prelude).get_result::<Key>(conn)?;
                sql = sql.replace("$key", &literal(&key.t));
            }
            if query && sql.starts_with("INSERT") {
                // INSERT ... RETURNING key AS t: the keys of the rows it made.
                let rows = diesel::sql_query(&sql).load::<Key>(conn)?;
                Ok(Probe::Rows(rows.into_iter().map(|r| r.t).collect()))
            } else if query {
                let rows = diesel::sql_query(as_json(&sql)).load::<JsonRow>(conn)?;
                Ok(Probe::Rows(rows.into_iter().map(|r| r.row).collect()))
            } else {
                Ok(Probe::Affected(diesel::sql_query(&sql).execute(conn)?))
            }
        })();
        let probe = result.unwrap_or_else(|err| Probe::Failed(crate::error::first_line(&err.to_string())));
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_verify; RELEASE SAVEPOINT tenancy_verify");
        shown.push(format!("{sql};"));
        let evidence = Evidence { sql: shown.join("\n"), result: probe.shown() };
        (evidence, probe)
    }

    fn org_literal(&self, org: Org) -> String {
        format!("{}::uuid", literal(&self.orgs[org.index()]))
    }
}

/// The column that scopes a table: the org column, or the key of the organizations table.
fn scope_column<'t>(schema: &'t Schema, table: &'t Table) -> &'t str {
    if table.scope == Scope::Root { &table.key().name } else { &schema.settings.org_column }
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
        let cells = ATTACKS
            .iter()
            .map(|(attack, expected)| attack_one(conn, &runner, &mut samples, table, attack, *expected))
            .collect();
        verified.push(VerifiedTable { table: table.name.clone(), skipped: None, cells });
    }
    Ok(verified)
}

#[derive(diesel::QueryableByName)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Inserts a sample row in a savepoint (kept on success); returns its key or the error.
fn insert_sample(conn: &mut PgConnection, sql: &str) -> Result<String, String> {
    let result = (|| -> Result<String, diesel::result::Error> {
        conn.batch_execute("SAVEPOINT tenancy_sample")?;
        let key = diesel::sql_query(sql).get_result::<Key>(conn)?;
        conn.batch_execute("RELEASE SAVEPOINT tenancy_sample")?;
        Ok(key.t)
    })();
    result.map_err(|err| {
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_sample; RELEASE SAVEPOINT tenancy_sample");
        crate::error::first_line(&err.to_string())
    })
}

/// A number in the first row of a query probe (`{"own": 1, ...}`).
fn field(probe: &Probe, name: &str) -> Option<i64> {
    let Probe::Rows(rows) = probe else { return None };
    let row: serde_json::Value = serde_json::from_str(rows.first()?).ok()?;
    row.get(name)?.as_i64()
}

fn attack_one(
    conn: &mut PgConnection,
    runner: &Runner<'_>,
    samples: &mut Samples,
    table: &Table,
    attack: &str,
    expected: Outcome,
) -> Cell {
    let schema = runner.schema;
    let t = ident(&table.name);
    let scope = ident(scope_column(schema, table));
    let key = table.key();
    let key_is = |org: Org| {
        format!(
            "{} = {}::{}",
            ident(&key.name),
            literal(samples.key(&table.name, org).unwrap_or_default()),
            key.ty.sql_name()
        )
    };
    let a = runner.orgs[0].clone();
    let claim_a = As::App(Some(&a));
    let a_lit = runner.org_literal(Org::A);
    let b_lit = runner.org_literal(Org::B);
    // A column an UPDATE can set to itself without changing anything.
    let touch = table.columns.iter().find(|c| !c.key).unwrap_or(key);
    let touch = ident(&touch.name);
    let is_root = table.scope == Scope::Root;
    let skip = |why: &str| Cell {
        attack: attack.to_owned(),
        expected,
        outcome: Outcome::Skipped,
        evidence: Evidence { sql: String::new(), result: why.to_owned() },
    };
    let count_sql = format!(
        "SELECT count(*) FILTER (WHERE {scope} = {a_lit}) AS own, count(*) FILTER (WHERE {scope} IS DISTINCT FROM {a_lit}) AS other FROM {t}"
    );
    let (evidence, probe, judge): (Evidence, Probe, fn(&Probe) -> Outcome) = match attack {
        "read_own" => {
            let (e, p) = runner.probe(conn, claim_a, &count_sql, true);
            (e, p, |p| match (field(p, "own"), field(p, "other")) {
                (_, Some(other)) if other > 0 => Outcome::Leaked,
                (Some(own), Some(0)) if own > 0 => Outcome::Allowed,
                _ => Outcome::Error,
            })
        }
        "read_other_org" => {
            let (e, p) = runner.probe(conn, claim_a, &count_sql, true);
            (e, p, |p| match field(p, "other") {
                Some(other) if other > 0 => Outcome::Leaked,
                _ => Outcome::Blocked,
            })
        }
        "read_missing_claim" | "read_empty_claim" => {
            let claim = if attack == "read_missing_claim" { None } else { Some("") };
            let sql = format!("SELECT count(*) AS visible FROM {t}");
            let (e, p) = runner.probe(conn, As::App(claim), &sql, true);
            (e, p, |p| match field(p, "visible") {
                Some(0) => Outcome::Blocked,
                Some(_) => Outcome::Leaked,
                // The contract: no claim means no rows, never an error.
                None => Outcome::Error,
            })
        }
        "insert_own" | "insert_other_org" | "delete_own" => {
            if is_root {
                return skip("the app role may not create or delete organizations (not granted)");
            }
            let org = if attack == "insert_other_org" { Org::B } else { Org::A };
            let other = if org == Org::A { Org::B } else { Org::A };
            let insert = match samples.insert_sql(schema, table, org, &runner.orgs, other, None) {
                Ok(sql) => sql,
                Err(reason) => return skip(&reason),
            };
            let (e, p) = if attack == "delete_own" {
                // A fresh row of A (the sample row has children holding on to it).
                let delete = format!("DELETE FROM {t} WHERE {} = $key::{}", ident(&key.name), key.ty.sql_name());
                let (e, p) = runner.probe_after(conn, claim_a, Some(&insert), &delete, false);
                (
                    e,
                    match p {
                        Probe::Affected(1) => Probe::Rows(vec!["{}".to_owned()]),
                        Probe::Affected(_) => Probe::Rows(Vec::new()),
                        other => other,
                    },
                )
            } else {
                runner.probe(conn, claim_a, &insert, true)
            };
            if attack == "insert_other_org" {
                (e, p, |p| match p {
                    Probe::Rows(rows) if !rows.is_empty() => Outcome::Leaked,
                    _ => Outcome::Blocked,
                })
            } else {
                (e, p, |p| match p {
                    Probe::Rows(rows) if rows.len() == 1 => Outcome::Allowed,
                    _ => Outcome::Error,
                })
            }
        }
        "update_own" | "update_other_org" | "delete_other_org" => {
            let org = if attack == "update_own" { Org::A } else { Org::B };
            let sql = if attack == "delete_other_org" {
                format!("DELETE FROM {t} WHERE {}", key_is(org))
            } else {
                format!("UPDATE {t} SET {touch} = {touch} WHERE {}", key_is(org))
            };
            let (e, p) = runner.probe(conn, claim_a, &sql, false);
            if attack == "update_own" {
                (e, p, |p| if matches!(p, Probe::Affected(1)) { Outcome::Allowed } else { Outcome::Error })
            } else {
                (e, p, |p| if matches!(p, Probe::Affected(n) if *n > 0) { Outcome::Leaked } else { Outcome::Blocked })
            }
        }
        "move_to_other_org" | "move_bypassing_rls" => {
            if is_root {
                return skip("organizations have no org column to move");
            }
            // A fresh row of A (no children hold on to it), moved to B together with its
            // references, so that no foreign key can be what stops the move.
            let insert = match samples.insert_sql(schema, table, Org::A, &runner.orgs, Org::B, None) {
                Ok(sql) => sql,
                Err(reason) => return skip(&reason),
            };
            let mut set = vec![format!("{scope} = {b_lit}")];
            for column in &table.columns {
                let Some(reference) = &column.references else { continue };
                let parent = schema.table(&reference.table).expect("validated reference");
                if parent.is_tenant()
                    && reference.table != table.name
                    && let Some(key) = samples.key(&reference.table, Org::B)
                {
                    set.push(format!("{} = {}::{}", ident(&column.name), literal(key), parent.key().ty.sql_name()));
                }
            }
            let sql =
                format!("UPDATE {t} SET {} WHERE {} = $key::{}", set.join(", "), ident(&key.name), key.ty.sql_name());
            let who = if attack == "move_bypassing_rls" { As::Owner } else { claim_a };
            let (e, p) = runner.probe_after(conn, who, Some(&insert), &sql, false);
            (e, p, |p| match p {
                Probe::Affected(n) if *n > 0 => Outcome::Leaked,
                Probe::Affected(_) => Outcome::Error, // A's own row was not even visible
                _ => Outcome::Blocked,
            })
        }
        "reference_other_org" => {
            let through = table.columns.iter().find(|c| {
                c.references
                    .as_ref()
                    .is_some_and(|r| r.table != table.name && schema.table(&r.table).is_some_and(|p| p.is_tenant()))
            });
            let (true, Some(column)) = (table.is_tenant(), through) else {
                return skip("no reference to another tenant table");
            };
            let sql =
                match samples.insert_sql(schema, table, Org::A, &runner.orgs, Org::B, Some((&column.name, Org::B))) {
                    Ok(sql) => sql,
                    Err(reason) => return skip(&reason),
                };
            let (e, p) = runner.probe(conn, claim_a, &sql, true);
            (e, p, |p| match p {
                Probe::Rows(rows) if !rows.is_empty() => Outcome::Leaked,
                _ => Outcome::Blocked,
            })
        }
        other => unreachable!("unknown attack {other}"),
    };
    Cell { attack: attack.to_owned(), expected, outcome: judge(&probe), evidence }
}

/// The matrix as text: one row per table, one column per attack, then every failed cell with
/// its evidence.
pub fn render(out: &mut dyn std::io::Write, verification: &Verification) -> std::io::Result<()> {
    let width = verification.tables.iter().map(|t| t.table.len()).max().unwrap_or(5).max(5);
    writeln!(out, "verify as {} (two organizations, rolled back)", verification.role)?;
    for (i, attack) in verification.attacks.iter().enumerate() {
        writeln!(out, "  {:>2}  {attack}", i + 1)?;
    }
    write!(out, "{:width$}", "table")?;
    for i in 0..verification.attacks.len() {
        write!(out, " {:>5}", i + 1)?;
    }
    writeln!(out)?;
    for table in &verification.tables {
        write!(out, "{:width$}", table.table)?;
        if let Some(reason) = &table.skipped {
            writeln!(out, " skipped: {reason}")?;
            continue;
        }
        for cell in &table.cells {
            let mark = match cell.outcome {
                Outcome::Blocked | Outcome::Allowed => "ok",
                Outcome::Leaked => "LEAK",
                Outcome::Error => "ERROR",
                Outcome::Skipped => "-",
            };
            write!(out, " {mark:>5}")?;
        }
        writeln!(out)?;
    }
    for table in &verification.tables {
        for cell in table.cells.iter().filter(|c| c.failed()) {
            writeln!(out, "\n{} {}: expected {:?}, got {:?}", table.table, cell.attack, cell.expected, cell.outcome)?;
            for line in cell.evidence.sql.lines() {
                writeln!(out, "    {line}")?;
            }
            writeln!(out, "    => {}", cell.evidence.result.replace('\n', "\n       "))?;
        }
    }
    let c = verification.counts;
    writeln!(
        out,
        "\n{} blocked, {} allowed, {} leaked, {} errors, {} not applicable; checksum before {} after {}{}",
        c.blocked,
        c.allowed,
        c.leaked,
        c.error,
        c.skipped,
        verification.checksum_before,
        verification.checksum_after,
        if verification.checksum_before == verification.checksum_after { " (no trace)" } else { " (CHANGED)" }
    )
}
