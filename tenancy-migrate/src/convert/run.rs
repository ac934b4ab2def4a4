//! `apply --dir` / `revert --dir`: runs a written plan (diesel's migration directory format,
//! read with `diesel_migrations::FileBasedMigrations`) without rebuilding anything.
//!
//! Progress is logged in `tenancy.conversion_log` (step, statement): a transactional step logs
//! `-1` in its own transaction; a statement-by-statement step logs each statement in the
//! transaction that runs it (`CONCURRENTLY` ones, which cannot run in a transaction, right after,
//! and they are idempotent: an invalid index left by a kill is dropped and rebuilt), then `-1`;
//! a backfill logs `-1` at the end (its batches skip filled rows). So a run killed at any point
//! leaves the database consistent, and the next run continues where it stopped. The whole run
//! holds the same advisory lock as `apply`.

pub use super::retry::Retry;
use super::retry::step_error;
use super::{backfill, split};
use crate::error::{Error, Result};
use crate::migrate::{Outcome, Wait, with_lock};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl};
use std::path::{Path, PathBuf};

/// A step of a plan directory.
struct PlanStep {
    name: String,
    path: PathBuf,
    in_transaction: bool,
}

fn read_plan(dir: &Path) -> Result<Vec<PlanStep>> {
    let shown = dir.display().to_string();
    let bad = |reason: String| Error::File { doing: "read the plan in", path: shown.clone(), reason };
    if !dir.is_dir() {
        return Err(bad("no such directory; write one with `tenancy-migrate plan --out DIR`".to_owned()));
    }
    let source = diesel_migrations::FileBasedMigrations::from_path(dir).map_err(|e| bad(e.to_string()))?;
    let migrations = MigrationSource::<Pg>::migrations(&source).map_err(|e| bad(e.to_string()))?;
    let mut steps: Vec<PlanStep> = migrations
        .iter()
        .map(|m| {
            let name = m.name().to_string();
            PlanStep { path: dir.join(&name), name, in_transaction: m.metadata().run_in_transaction() }
        })
        .collect();
    if steps.is_empty() {
        return Err(bad("it holds no migration directories".to_owned()));
    }
    steps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(steps)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::File {
        doing: "read",
        path: path.display().to_string(),
        reason: err.to_string(),
    })
}

const LOG_TABLE: &str = "CREATE SCHEMA IF NOT EXISTS tenancy;
CREATE TABLE IF NOT EXISTS tenancy.conversion_log (
  step text NOT NULL, statement integer NOT NULL, done_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (step, statement));";

#[derive(diesel::QueryableByName)]
struct Logged {
    #[diesel(sql_type = Text)]
    step: String,
    #[diesel(sql_type = Integer)]
    statement: i32,
}

/// `(step, statement)` rows logged so far (none when the log does not exist yet).
fn logged(conn: &mut PgConnection) -> Result<Vec<(String, i32)>> {
    let rows = diesel::sql_query(
        "SELECT step, statement FROM tenancy.conversion_log
         WHERE to_regclass('tenancy.conversion_log') IS NOT NULL ORDER BY step, statement",
    )
    .load::<Logged>(conn);
    match rows {
        Ok(rows) => Ok(rows.into_iter().map(|r| (r.step, r.statement)).collect()),
        Err(err) if err.to_string().contains("does not exist") => Ok(Vec::new()),
        Err(err) => Err(Error::query("reading tenancy.conversion_log", err)),
    }
}

fn log_row(conn: &mut PgConnection, step: &str, statement: i32) -> QueryResult<usize> {
    diesel::sql_query("INSERT INTO tenancy.conversion_log (step, statement) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind::<Text, _>(step)
        .bind::<Integer, _>(statement)
        .execute(conn)
}

/// Options of a run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub wait: Wait,
    pub dry_run: bool,
    /// Overrides the batch size written in the plan.
    pub batch_size: Option<u32>,
    pub retry: Retry,
}

impl Default for RunOptions {
    /// Wait for the lock, run for real, the plan's batch size, the default retries.
    fn default() -> RunOptions {
        RunOptions { wait: Wait::Wait, dry_run: false, batch_size: None, retry: Retry::default() }
    }
}

/// Applies every step of the plan in `dir` not yet applied.
pub fn apply_dir(
    conn: &mut PgConnection,
    dir: &Path,
    options: RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let steps = read_plan(dir)?;
    with_lock(conn, options.wait, log, |conn, log| {
        if !options.dry_run {
            conn.batch_execute(LOG_TABLE).map_err(|e| Error::query("creating tenancy.conversion_log", e))?;
        }
        let done = logged(conn)?;
        let mut outcome = Outcome::default();
        // Rows the backfills could not place, gathered over the consecutive backfill steps so
        // one run names every such table; the run stops before the first step after them.
        let mut unplaced = Vec::new();
        for step in &steps {
            if done.iter().any(|(s, i)| *s == step.name && *i == -1) {
                continue;
            }
            let up = read(&step.path.join("up.sql"))?;
            let is_backfill = backfill::Spec::from_sql(&up).is_some();
            if !unplaced.is_empty() && !is_backfill {
                break;
            }
            outcome.migrations.push(step.name.clone());
            outcome.sql.push(up.clone());
            if options.dry_run {
                continue;
            }
            log(&format!("applying {}", step.name));
            let finished: Vec<i32> = done.iter().filter(|(s, _)| *s == step.name).map(|(_, i)| *i).collect();
            let started = std::time::Instant::now();
            match run_step(conn, step, &up, &finished, options, log) {
                Err(Error::Unplaced(rows)) => {
                    log(&format!("{}: rows left unplaced, the next backfills run before the run stops", step.name));
                    unplaced.extend(rows);
                }
                other => {
                    other?;
                    log(&format!("applied {} in {:.2} s", step.name, started.elapsed().as_secs_f64()));
                }
            }
        }
        if !unplaced.is_empty() {
            return Err(Error::Unplaced(unplaced));
        }
        Ok(outcome)
    })
}

fn run_step(
    conn: &mut PgConnection,
    step: &PlanStep,
    up: &str,
    finished: &[i32],
    options: RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let name = step.name.as_str();
    let retry = options.retry;
    tracing::info!(step = name, in_transaction = step.in_transaction, "running step");
    if step.in_transaction {
        tracing::debug!(step = name, sql = %up, "step");
        // One statement at a time in the one transaction: Citus passes a DDL statement on to
        // the workers as the text it was sent in, and refuses a text of several commands.
        let statements = split::statements(up);
        retry.run(name, log, conn, |conn| {
            conn.transaction(|conn| {
                for statement in &statements {
                    conn.batch_execute(statement)?;
                }
                log_row(conn, name, -1)
            })
        })?;
        return Ok(());
    }
    let statements = split::statements(up);
    let (settings, body): (Vec<&String>, Vec<&String>) = statements.iter().partition(|s| s.starts_with("SET "));
    for setting in settings {
        conn.batch_execute(setting).map_err(|e| step_error(name, e))?;
    }
    if let Some(mut spec) = backfill::Spec::from_sql(up) {
        if let Some(size) = options.batch_size {
            spec.batch_size = size;
        }
        backfill::run(conn, &spec, &retry, log)?;
    } else {
        let offenders = offenders_of(up);
        for (i, statement) in body.iter().enumerate() {
            let i = i as i32;
            if finished.contains(&i) {
                continue;
            }
            let doing = format!("{name}, statement {}: {}", i + 1, summary(statement));
            tracing::debug!(step = name, statement = i + 1, sql = %statement, "statement");
            if statement.contains(" CONCURRENTLY") {
                drop_invalid_leftover(conn, statement, &doing)?;
                retry.run(&doing, log, conn, |conn| conn.batch_execute(statement))?;
                retry.run(&doing, log, conn, |conn| log_row(conn, name, i))?;
            } else {
                let done = retry.run(&doing, log, conn, |conn| {
                    conn.transaction(|conn| {
                        conn.batch_execute(statement)?;
                        log_row(conn, name, i)
                    })
                });
                match (done, offenders.get(statement.trim())) {
                    (Err(Error::StepFailed { doing, reason }), Some(query)) => {
                        let rows = offending_rows(conn, query);
                        return Err(Error::StepFailed { doing, reason: format!("{reason}; {rows}") });
                    }
                    (done, _) => {
                        done?;
                    }
                }
            }
        }
    }
    retry.run(name, log, conn, |conn| log_row(conn, name, -1))?;
    Ok(())
}

/// The queries naming the rows that break each `VALIDATE` of a step (the plan writes one on the
/// comment line before the statement): statement → query.
fn offenders_of(up: &str) -> std::collections::HashMap<String, String> {
    let lines: Vec<&str> = up.lines().collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let query = pair[0].strip_prefix(tenancy_codegen::convert::files::OFFENDERS)?;
            Some((pair[1].trim().trim_end_matches(';').to_owned(), query.to_owned()))
        })
        .collect()
}

/// What the offenders query finds, for the error: `3 rows break it (id 4, 9, 12)`.
fn offending_rows(conn: &mut PgConnection, query: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
        #[diesel(sql_type = Text)]
        key: String,
    }
    let found = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("SET LOCAL row_security = off").execute(conn)?;
        diesel::sql_query(query).load::<Row>(conn)
    });
    match found {
        Ok(rows) if rows.is_empty() => "no row breaks it now (rerun apply --dir)".to_owned(),
        Ok(rows) => {
            let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
            let more = if rows[0].count > keys.len() as i64 { ", ..." } else { "" };
            format!("{} rows break it: {}{more} ({query})", rows[0].count, keys.join(", "))
        }
        Err(e) => format!("the rows breaking it could not be read ({e}): {query}"),
    }
}

/// The first line of a statement, shortened, for messages.
fn summary(statement: &str) -> String {
    let line = statement.lines().next().unwrap_or_default();
    if line.chars().count() > 90 {
        format!("{}...", line.chars().take(90).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// A `CREATE INDEX CONCURRENTLY` killed half way leaves an INVALID index behind, which
/// `IF NOT EXISTS` would then accept: drop it first.
fn drop_invalid_leftover(conn: &mut PgConnection, statement: &str, doing: &str) -> Result<()> {
    let Some(name) = statement
        .split_once("IF NOT EXISTS ")
        .and_then(|(_, rest)| rest.split_once(" ON "))
        .map(|(name, _)| name.trim().to_owned())
    else {
        return Ok(());
    };
    #[derive(diesel::QueryableByName)]
    struct Invalid {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        invalid: bool,
    }
    let invalid = diesel::sql_query(
        "SELECT coalesce((SELECT NOT indisvalid FROM pg_catalog.pg_index WHERE indexrelid = to_regclass($1)), false) AS invalid",
    )
    .bind::<Text, _>(&name)
    .get_result::<Invalid>(conn)
    .map_err(|e| step_error(doing, e))?;
    if invalid.invalid {
        conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")).map_err(|e| step_error(doing, e))?;
    }
    Ok(())
}

/// Reverts every applied (or partly applied) step of the plan in `dir`, last first.
pub fn revert_dir(
    conn: &mut PgConnection,
    dir: &Path,
    options: RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let steps = read_plan(dir)?;
    with_lock(conn, options.wait, log, |conn, log| {
        let done = logged(conn)?;
        let mut outcome = Outcome::default();
        for step in steps.iter().rev() {
            if !done.iter().any(|(s, _)| *s == step.name) {
                continue;
            }
            let down = read(&step.path.join("down.sql"))?;
            outcome.migrations.push(step.name.clone());
            outcome.sql.push(down.clone());
            if options.dry_run {
                continue;
            }
            log(&format!("reverting {}", step.name));
            let name = step.name.as_str();
            let forget = |conn: &mut PgConnection| {
                diesel::sql_query("DELETE FROM tenancy.conversion_log WHERE step = $1")
                    .bind::<Text, _>(name)
                    .execute(conn)
            };
            if step.in_transaction {
                options.retry.run(name, log, conn, |conn| {
                    conn.transaction(|conn| {
                        conn.batch_execute(&down)?;
                        forget(conn)
                    })
                })?;
                continue;
            }
            // Every down statement is idempotent (IF EXISTS, or guarded), so a partly applied
            // step, or a partly reverted one, reverts cleanly.
            for statement in split::statements(&down) {
                let doing = format!("{name} (down): {}", summary(&statement));
                options.retry.run(&doing, log, conn, |conn| conn.batch_execute(&statement))?;
            }
            options.retry.run(name, log, conn, forget)?;
        }
        Ok(outcome)
    })
}
