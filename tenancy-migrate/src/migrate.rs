//! apply / status / revert over the embedded migrations (diesel_migrations), serialized by a
//! PostgreSQL advisory lock so two runs never interleave.

use crate::error::{Error, Result};
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::{PgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The workspace's migrations, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

mod sql_table {
    include!(concat!(env!("OUT_DIR"), "/migration_sql.rs"));
}

/// Advisory lock key shared by every tenancy-migrate process ("tenancy" in ASCII).
pub const LOCK_KEY: i64 = 0x74_65_6e_61_6e_63_79;

/// How to behave when another run holds the migration lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Wait for it, saying so on stderr.
    Wait,
    /// Fail at once with [`Error::LockHeld`].
    NoWait,
}

/// A migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub name: String,
    pub applied: bool,
}

/// What a run did (or, with dry-run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Migration names in the order they ran (or would run).
    pub migrations: Vec<String>,
    /// The SQL that ran (or would run), per migration, for dry-run output.
    pub sql: Vec<String>,
}

/// Applies every pending migration. With `dry_run` nothing is executed.
pub fn apply(conn: &mut PgConnection, wait: Wait, dry_run: bool, log: &mut dyn FnMut(&str)) -> Result<Outcome> {
    with_lock(conn, wait, log, |conn, log| {
        let pending = pending(conn)?;
        let mut outcome = Outcome::default();
        for migration in pending {
            let name = migration.name().to_string();
            tracing::info!(migration = %name, dry_run, "applying");
            outcome.sql.push(sql_of(&name, true));
            if !dry_run {
                log(&format!("applying {name}"));
                conn.run_migration(&*migration).map_err(|err| migration_error(&name, err))?;
            }
            outcome.migrations.push(name);
        }
        // On a Citus coordinator the declared tables are then placed on the cluster (once; a
        // later run places only new tables).
        if crate::citus::is_citus(conn)? {
            let schema = crate::declaration::load(None)?;
            if dry_run {
                let catalog = crate::catalog::load(conn, &schema.schemas().join(","), &schema.settings.app_role)?;
                let cluster = crate::citus::placements(conn, &schema)?;
                let steps = tenancy_codegen::citus::plan(&schema, &catalog, &cluster)?;
                outcome.sql.push(steps.statements.iter().map(|s| format!("{s}\n")).collect());
            } else {
                crate::citus::distribute(conn, &schema, log)?;
            }
        }
        Ok(outcome)
    })
}

/// Reverts the last applied migration, or all of them with `all`.
pub fn revert(
    conn: &mut PgConnection,
    all: bool,
    wait: Wait,
    dry_run: bool,
    log: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    with_lock(conn, wait, log, |conn, log| {
        let known = known_migrations()?;
        let mut applied = applied_versions(conn)?;
        applied.sort();
        let mut outcome = Outcome::default();
        for version in applied.iter().rev() {
            let Some(migration) = known.iter().find(|m| m.name().version().to_string() == *version) else {
                return Err(Error::UnknownApplied { version: version.clone() });
            };
            let name = migration.name().to_string();
            outcome.sql.push(sql_of(&name, false));
            if !dry_run {
                log(&format!("reverting {name}"));
                conn.revert_migration(&**migration).map_err(|err| migration_error(&name, err))?;
            }
            outcome.migrations.push(name);
            if !all {
                break;
            }
        }
        Ok(outcome)
    })
}

/// Every known migration with whether it is applied, in order.
pub fn status(conn: &mut PgConnection) -> Result<Vec<MigrationStatus>> {
    let applied = applied_versions(conn)?;
    let known = known_migrations()?;
    for version in &applied {
        if !known.iter().any(|m| m.name().version().to_string() == *version) {
            return Err(Error::UnknownApplied { version: version.clone() });
        }
    }
    Ok(known
        .iter()
        .map(|m| MigrationStatus {
            name: m.name().to_string(),
            applied: applied.contains(&m.name().version().to_string()),
        })
        .collect())
}

/// Versions of the embedded migrations, in order (what a conversion's baseline records).
pub fn versions() -> Result<Vec<String>> {
    Ok(known_migrations()?.iter().map(|m| m.name().version().to_string()).collect())
}

fn known_migrations() -> Result<Vec<Box<dyn Migration<Pg>>>> {
    let mut known =
        MigrationSource::<Pg>::migrations(&MIGRATIONS).map_err(|e| Error::query("reading embedded migrations", e))?;
    known.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
    Ok(known)
}

fn pending(conn: &mut PgConnection) -> Result<Vec<Box<dyn Migration<Pg>>>> {
    status(conn)?; // refuses a database ahead of this binary
    conn.pending_migrations(MIGRATIONS).map_err(|e| Error::query("listing pending migrations", e))
}

fn applied_versions(conn: &mut PgConnection) -> Result<Vec<String>> {
    // Creates diesel's bookkeeping table when missing, like every diesel_migrations entry point.
    conn.applied_migrations()
        .map(|versions| versions.into_iter().map(|v| v.to_string()).collect())
        .map_err(|e| Error::query("reading applied migrations", e))
}

fn sql_of(name: &str, up: bool) -> String {
    sql_table::MIGRATION_SQL
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, up_sql, down_sql)| if up { *up_sql } else { *down_sql })
        .unwrap_or_default()
        .to_owned()
}

fn migration_error(name: &str, err: Box<dyn std::error::Error + Send + Sync>) -> Error {
    let reason = crate::error::first_line(&err.to_string());
    if reason.contains("permission denied") || reason.contains("must be owner") {
        Error::Permission { doing: format!("running migration {name}"), reason }
    } else {
        Error::MigrationFailed { name: name.to_owned(), reason }
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

#[derive(diesel::QueryableByName)]
struct Holder {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// Runs `body` holding the session-level advisory lock; releases it afterwards, even on error.
pub(crate) fn with_lock<T>(
    conn: &mut PgConnection,
    wait: Wait,
    log: &mut dyn FnMut(&str),
    body: impl FnOnce(&mut PgConnection, &mut dyn FnMut(&str)) -> Result<T>,
) -> Result<T> {
    let try_lock = |conn: &mut PgConnection| {
        diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<diesel::sql_types::BigInt, _>(LOCK_KEY)
            .get_result::<Locked>(conn)
            .map(|got| got.locked)
            .map_err(|e| Error::query("taking the migration lock", e))
    };
    if !try_lock(conn)? {
        let holder = lock_holder(conn)?;
        match wait {
            Wait::NoWait => return Err(Error::LockHeld { pid: holder }),
            Wait::Wait => {
                log(&format!("waiting for the migration lock held by backend pid {holder} (another tenancy-migrate)"));
                // Polled, not `pg_advisory_lock`: a session blocked inside a statement would hold
                // a snapshot that the holder's CREATE INDEX CONCURRENTLY waits for (a deadlock).
                while !try_lock(conn)? {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        }
    }
    let result = body(conn, log);
    let unlocked =
        diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<diesel::sql_types::BigInt, _>(LOCK_KEY).execute(conn);
    match (result, unlocked) {
        (Ok(value), Ok(_)) => Ok(value),
        (Ok(_), Err(e)) => Err(Error::query("releasing the migration lock", e)),
        (Err(err), _) => Err(err),
    }
}

fn lock_holder(conn: &mut PgConnection) -> Result<i32> {
    let holder = diesel::sql_query(
        "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted \
         AND ((classid::bigint << 32) | objid::bigint) = $1 \
         AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) LIMIT 1",
    )
    .bind::<diesel::sql_types::BigInt, _>(LOCK_KEY)
    .get_results::<Holder>(conn)
    .map_err(|e| Error::query("finding the migration lock holder", e))?;
    Ok(holder.first().map_or(0, |h| h.pid))
}
