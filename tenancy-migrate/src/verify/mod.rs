//! `verify`: proves isolation by attacking the database as the app role.
//!
//! Inside one transaction that is always rolled back: two organizations (A and B) and a sample
//! row of each in every tenant table (and the rows of shared tables they reference), made by
//! the connecting role with explicit keys. Then, per table, every attack of [`attacks`] in its
//! own savepoint, as the app role (`SET LOCAL ROLE`) with A's claim, in the forms applications
//! write (plain and `RETURNING` inserts, updates and deletes with and without a `WHERE`,
//! upserts), judged by what changed; the existence oracles (foreign keys, unique keys); the
//! privileges row-level security does not govern (TRUNCATE, TRIGGER, REFERENCES); partitions
//! and children read directly; the errors of the write paths, searched for B's data; exclusive
//! locks. Shared tables are attacked through their link, global ones for writes. Then the
//! database around the tables ([`objects`]): schemas the app role could create in, roles it can
//! become, views and SECURITY DEFINER functions it can call, each checked for B's rows; the
//! application's fresh logins; and, as info cells, what A can infer without reading a row.
//! [`notes`] show what "0 leaked" does not cover. Every cell keeps the statements and what
//! PostgreSQL answered.
//!
//! A checksum of the catalog, the data and every sequence before and after proves nothing was
//! left behind (docs/threat-model.md).

mod attacks;
mod checked;
mod checksum;
mod login;
mod notes;
mod objects;
mod probe;
mod render;
mod sample;

pub use attacks::Attack;
pub use render::render;

use crate::catalog::{JsonRow, as_json};
use crate::error::{Error, Result};
use diesel::{Connection, PgConnection, RunQueryDsl};
use probe::Runner;
use sample::{Samples, key_is};
use std::collections::HashMap;
use tenancy_codegen::claim::{ClaimKey, bytea_hex};
use tenancy_codegen::sql::{ident, literal, names};
use tenancy_schema::Schema;
use tenancy_schema::report::{Note, Outcome, OutcomeCounts, Verification, VerifiedObject, VerifiedTable};

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
    pub(crate) fn name(self) -> &'static str {
        match self {
            Org::A => "A",
            Org::B => "B",
        }
    }
}

/// Runs every attack; the database is left as it was found.
pub fn verify(conn: &mut PgConnection, schema: &Schema) -> Result<Verification> {
    let Some(path) = tenancy_codegen::sql::search_path(&schema.schemas()) else {
        return verify_on_search_path(conn, schema);
    };
    // The declaration's schemas first on the search path for this run, then as it was.
    let old = search_path(conn, None)?;
    search_path(conn, Some(&path))?;
    let result = verify_on_search_path(conn, schema);
    search_path(conn, Some(&old))?;
    result
}

/// Plain declared columns that the database constrains with a one-column foreign key to a
/// table the declaration does not have (Supabase's `auth.users`): each gets an existing row's key.
fn external_references(
    conn: &mut PgConnection,
    catalog: &crate::catalog::Catalog,
    schema: &Schema,
) -> Result<HashMap<(String, String), sample::External>> {
    let mut found = HashMap::new();
    for table in &schema.tables {
        for fk in catalog.constraints_of(&table.name) {
            let (Some(target), [column], [target_column]) =
                (fk.ref_table.as_deref(), fk.columns.as_slice(), fk.ref_columns.as_slice())
            else {
                continue;
            };
            let declared_plain = table.column(column).is_some_and(|c| c.references.is_none());
            let outside = !fk.ref_schema.as_deref().is_some_and(|n| schema.schemas().contains(&n))
                || schema.table(target).is_none();
            if fk.kind == crate::catalog::ConstraintKind::ForeignKey && declared_plain && outside {
                let qualified = match &fk.ref_schema {
                    Some(namespace) => format!("{}.{}", ident(namespace), ident(target)),
                    None => ident(target),
                };
                let sql = format!(
                    "SELECT {column}::text AS key FROM {qualified} WHERE {column} IS NOT NULL ORDER BY 1 LIMIT 16",
                    column = ident(target_column)
                );
                let keys = crate::scan::json_rows(conn, &sql, "reading keys of a referenced table")?
                    .iter()
                    .filter_map(|row| serde_json::from_str::<serde_json::Value>(row).ok())
                    .filter_map(|row| row["key"].as_str().map(str::to_owned))
                    .collect();
                let shown = fk.ref_schema.as_deref().map_or(target.to_owned(), |n| format!("{n}.{target}"));
                found.insert((table.name.clone(), column.clone()), sample::External { table: shown, keys, used: 0 });
            }
        }
    }
    Ok(found)
}

/// Sets the session's search path (`Some`), and returns it as it was.
fn search_path(conn: &mut PgConnection, set: Option<&str>) -> Result<String> {
    #[derive(diesel::QueryableByName)]
    struct Path {
        #[diesel(sql_type = diesel::sql_types::Text)]
        path: String,
    }
    let sql = match set {
        Some(path) => {
            format!("SELECT set_config('search_path', {}, false) AS path", tenancy_codegen::sql::literal(path))
        }
        None => "SELECT current_setting('search_path') AS path".to_owned(),
    };
    diesel::sql_query(sql)
        .get_result::<Path>(conn)
        .map(|p| p.path)
        .map_err(|e| Error::Database { doing: "setting the search path".to_owned(), reason: e.to_string() })
}

fn verify_on_search_path(conn: &mut PgConnection, schema: &Schema) -> Result<Verification> {
    let citus = crate::citus::is_citus(conn)?;
    let superuser = preflight(conn, schema)?;
    let checksum_before = checksum::checksum(conn, schema)?;
    let Attacked { tables, objects, notes } = match citus {
        false => {
            let mut attacked = None;
            let outcome = conn.transaction::<(), Error, _>(|conn| {
                let mut prepared = prepare(conn, schema, superuser, false)?;
                attacked = Some(attack_all(conn, &mut prepared)?);
                // Always rolled back: nothing verify made may stay.
                Err(Error::RolledBack)
            });
            match outcome {
                Err(Error::RolledBack) => {}
                Err(err) => return Err(err),
                Ok(()) => unreachable!("the verify transaction is always rolled back"),
            }
            attacked.expect("attacked before the rollback")
        }
        true => attack_committed(conn, schema, superuser)?,
    };
    let checksum_after = checksum::checksum(conn, schema)?;
    let mut counts = OutcomeCounts::default();
    for cell in tables.iter().flat_map(|t| &t.cells).chain(objects.iter().map(|o| &o.cell)) {
        tally(&mut counts, cell.outcome);
    }
    Ok(Verification {
        role: schema.settings.app_role.clone(),
        attacks: Attack::ALL.iter().map(|a| a.code().to_owned()).collect(),
        tables,
        counts,
        checksum_before,
        checksum_after,
        objects,
        notes,
    })
}

/// On a Citus coordinator: a second role may not touch shards a first one wrote in the same
/// transaction, so the sample rows (and a signed claim's key) are committed first, every probe
/// is a transaction of its own, rolled back, and the sample rows are deleted afterwards — also
/// when the run fails. The checksum before and after still proves nothing stayed.
fn attack_committed(conn: &mut PgConnection, schema: &Schema, superuser: bool) -> Result<Attacked> {
    let mut prepared = conn.transaction(|conn| prepare(conn, schema, superuser, true))?;
    let attacked = attack_all(conn, &mut prepared);
    let removed = conn.transaction(|conn| remove_samples(conn, &prepared));
    if let Err(err) = removed {
        return Err(Error::Verify(format!(
            "the run is done, but its sample rows could not be deleted ({err}); delete the organizations {} and {} (and their rows), then run verify again",
            prepared.runner.orgs[0], prepared.runner.orgs[1]
        )));
    }
    let mut attacked = attacked?;
    attacked.notes.push(Note {
        code: "citus_committed_samples".to_owned(),
        message: "a Citus coordinator: the two sample organizations and their rows were committed for the run and deleted after it (each probe ran in a transaction of its own, rolled back); writes were judged by what the role that ran them sees under the claim of the organization whose rows they are; foreign-key and other triggers stayed on, and objects judged by removing B's rows were not attacked here — verify a single node with the same migrations for those".to_owned(),
        evidence: tenancy_schema::report::Evidence { sql: prepared.removal.join(";\n"), result: "deleted after the run".to_owned() },
    });
    Ok(attacked)
}

/// Deletes what [`prepare`] committed (Citus), children first.
fn remove_samples(conn: &mut PgConnection, prepared: &Prepared<'_>) -> Result<()> {
    // Reference tables after distributed ones in one transaction: Citus wants the shards
    // written one connection at a time.
    let sequential = "SET LOCAL citus.multi_shard_modify_mode = 'sequential'";
    for statement in std::iter::once(sequential).chain(prepared.removal.iter().map(String::as_str)) {
        diesel::sql_query(statement).execute(conn).map_err(|e| Error::query("deleting verify's sample rows", e))?;
    }
    Ok(())
}

/// Adds a real fresh login of the application (`--app-database-url`) to a run: a new session
/// over the application's own URL, checked before any claim is set (`login.rs`).
pub fn add_real_login(verification: &mut Verification, app_url: &str, schema: &Schema) {
    let object = login::real_login(app_url, schema);
    tally(&mut verification.counts, object.cell.outcome);
    verification.objects.push(object);
}

fn tally(counts: &mut OutcomeCounts, outcome: Outcome) {
    match outcome {
        Outcome::Blocked => counts.blocked += 1,
        Outcome::Leaked => counts.leaked += 1,
        Outcome::Allowed => counts.allowed += 1,
        Outcome::Error => counts.error += 1,
        Outcome::Skipped => counts.skipped += 1,
        Outcome::Info => counts.info += 1,
    }
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
    #[diesel(sql_type = diesel::sql_types::Bool)]
    superuser: bool,
}

/// Fatal problems, each one line: the app role, and whether we may become it. Returns whether
/// the connecting role is a superuser.
fn preflight(conn: &mut PgConnection, schema: &Schema) -> Result<bool> {
    let role = &schema.settings.app_role;
    let check = diesel::sql_query(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1) AS role_exists,
                coalesce((SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles WHERE rolname = $1), false)
                  AS can_set_role,
                (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user) AS bypasses_rls,
                (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser",
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
    Ok(check.superuser)
}

/// With `claim = signed`, a key of this run's own, installed inside its rolled-back transaction:
/// verify mints the tokens the application would, and never reads the application's keys.
fn claim_key(conn: &mut PgConnection, schema: &Schema, run_id: &str) -> Result<Option<ClaimKey>> {
    if !schema.settings.claim.is_signed() {
        return Ok(None);
    }
    let secret: String = (0..2).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
    let key = ClaimKey::parse(&format!("verify-{run_id}:{secret}")).expect("a well-formed key");
    let (inner, outer) = key.pads();
    let sql = format!(
        "INSERT INTO {}.{} (id, inner_key, outer_key) VALUES ({}, {}::bytea, {}::bytea)",
        ident(names::KEY_SCHEMA),
        ident(names::KEY_TABLE),
        literal(&key.id),
        literal(&bytea_hex(&inner)),
        literal(&bytea_hex(&outer))
    );
    probe::execute_kept(conn, &sql).map_err(|reason| {
        Error::Verify(format!(
            "cannot install verify's claim key ({reason}); apply the migrations of the signed claim first"
        ))
    })?;
    Ok(Some(key))
}

/// Values of B's sample rows that A's do not share (B's id, keys, tagged texts; 8 characters
/// or more, so they cannot turn up in an error by chance).
fn markers(conn: &mut PgConnection, schema: &Schema, samples: &Samples, orgs: &[String; 2]) -> Vec<String> {
    let mut values = [std::collections::BTreeSet::new(), std::collections::BTreeSet::new()];
    for table in &schema.tables {
        for org in [Org::A, Org::B] {
            let Some(sample) = samples.key(&table.name, org) else { continue };
            let sql =
                format!("SELECT to_jsonb(t) AS row FROM {} t WHERE {}", ident(&table.name), key_is(table, sample));
            for row in probe::read(conn, &sql).unwrap_or_default() {
                let row: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
                let Some(columns) = row["row"].as_object() else { continue };
                for value in columns.values() {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    values[org.index()].insert(text);
                }
            }
        }
    }
    values[Org::B.index()].insert(orgs[Org::B.index()].clone());
    let [a, b] = values;
    b.into_iter().filter(|v| v.len() >= 8 && !a.contains(v)).collect()
}

/// Everything a run attacks with: the sample rows, and who runs the probes.
struct Attacked {
    tables: Vec<VerifiedTable>,
    objects: Vec<VerifiedObject>,
    notes: Vec<Note>,
}

/// What the attacks work with: the catalog, the runner and the sample rows made for them.
struct Prepared<'s> {
    catalog: crate::catalog::Catalog,
    runner: Runner<'s>,
    samples: Samples,
    /// The statements that delete the sample rows (and verify's claim key), children first.
    removal: Vec<String>,
}

/// The sample rows, made by the connecting role, parents first, every key explicit (no
/// sequence moves); a table that cannot have them is skipped with the database's reason (its
/// children too).
fn prepare<'s>(conn: &mut PgConnection, schema: &'s Schema, superuser: bool, citus: bool) -> Result<Prepared<'s>> {
    let catalog = crate::catalog::load(conn, &schema.schemas().join(","), &schema.settings.app_role)?;
    let run_id: String = uuid::Uuid::new_v4().simple().to_string().chars().take(8).collect();
    let orgs = sample::organization_keys(&schema.settings.org_key, &run_id);
    let key = claim_key(conn, schema, &run_id)?;
    let mut removal = Vec::new();
    if let Some(key) = &key {
        removal.push(format!(
            "DELETE FROM {}.{} WHERE id = {}",
            ident(names::KEY_SCHEMA),
            ident(names::KEY_TABLE),
            literal(&key.id)
        ));
    }
    let runner = Runner { schema, orgs: orgs.clone(), superuser, key, markers: Default::default(), citus };
    let mut samples = Samples::new(&run_id);
    samples.external = external_references(conn, &catalog, schema)?;
    samples.checked = checked::values(conn, schema)?;
    for table in schema.tables_in_dependency_order() {
        let mut keys = [None, None];
        for org in [Org::A, Org::B] {
            let row = match samples.row(schema, table, org, &orgs, org, None) {
                Ok(row) => row,
                Err(reason) => {
                    samples.skipped.insert(table.name.clone(), reason);
                    break;
                }
            };
            match probe::execute_kept(conn, &row.sql()) {
                Ok(()) => keys[org.index()] = Some(row.key),
                Err(reason) => {
                    samples.skipped.insert(table.name.clone(), format!("its sample row cannot be inserted: {reason}"));
                    break;
                }
            }
        }
        for (org, sample) in [Org::A, Org::B].into_iter().zip(&keys) {
            let Some(sample) = sample else { continue };
            // With the org column where there is one: one shard on Citus.
            let of_org = match table.is_tenant() {
                true => format!(" AND {} = {}", ident(&schema.settings.org_column), runner.org_literal(org)),
                false => String::new(),
            };
            removal.push(format!("DELETE FROM {} WHERE {}{of_org}", ident(&table.name), key_is(table, sample)));
        }
        samples.keys.insert(table.name.clone(), keys);
    }
    // Children before their parents; the claim key last.
    let key_removal = runner.key.as_ref().map(|_| removal.remove(0));
    removal.reverse();
    removal.extend(key_removal);
    *runner.markers.borrow_mut() = markers(conn, schema, &samples, &orgs);
    Ok(Prepared { catalog, runner, samples, removal })
}

fn attack_all(conn: &mut PgConnection, prepared: &mut Prepared<'_>) -> Result<Attacked> {
    let Prepared { catalog, runner, samples, .. } = prepared;
    let (runner, catalog) = (&*runner, &*catalog);
    let schema = runner.schema;
    let mut tables = Vec::new();
    for table in schema.tables_in_dependency_order() {
        if let Some(reason) = samples.skipped.get(&table.name) {
            tables.push(VerifiedTable { table: table.name.clone(), skipped: Some(reason.clone()), cells: Vec::new() });
            continue;
        }
        let cells = Attack::ALL.iter().map(|attack| attack.run(conn, runner, catalog, samples, table)).collect();
        tables.push(VerifiedTable { table: table.name.clone(), skipped: None, cells });
    }
    let mut around = objects::Around { conn, runner, catalog, samples };
    let objects = objects::attack(&mut around)?;
    let notes = notes::collect(&mut around);
    Ok(Attacked { tables, objects, notes })
}
