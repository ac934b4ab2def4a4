//! Retrying a statement that hit `lock_timeout`: it queued behind a long transaction, and
//! giving up quickly (rather than waiting) is what keeps the application's queries from queueing
//! behind it. Used by the step runner and the backfill's batches alike.

use crate::error::{Error, Result};
use diesel::{PgConnection, QueryResult};
use std::time::Duration;

/// Retries of a statement that hit `lock_timeout`, with exponential backoff. The default pairs a
/// short `lock_timeout` (100 ms: the longest the application's queries queue behind a waiting
/// `ALTER`) with many attempts (20, about 15 s of waiting in all), so a table busy with a long
/// transaction or an autovacuum run is waited out without holding the application up.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 20 }
    }
}

impl Retry {
    /// Runs `body`; when it fails on `lock_timeout`, waits and runs it again, up to `attempts`
    /// times in all, then stops with [`Error::LockTimeout`].
    pub fn run<T>(
        &self,
        doing: &str,
        log: &mut dyn FnMut(&str),
        conn: &mut PgConnection,
        mut body: impl FnMut(&mut PgConnection) -> QueryResult<T>,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            match body(conn) {
                Ok(value) => return Ok(value),
                Err(err) if is_lock_timeout(&err) && attempt < self.attempts => {
                    cancel_autovacuum(conn, doing, log);
                    let pause = backoff(attempt);
                    log(&format!(
                        "{doing}: lock_timeout (the table is busy); retry {}/{} in {} ms",
                        attempt + 1,
                        self.attempts,
                        pause.as_millis()
                    ));
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                Err(err) if is_lock_timeout(&err) => {
                    return Err(Error::LockTimeout { doing: doing.to_owned(), attempts: self.attempts });
                }
                Err(err) => return Err(step_error(doing, err)),
            }
        }
    }
}

/// An autovacuum worker holds its lock on a freshly backfilled table for as long as it runs,
/// and PostgreSQL cancels it only after a waiter has queued `deadlock_timeout` (1 s) — longer than
/// the short `lock_timeout` lets us queue. So a timed-out statement cancels the autovacuum
/// workers of this database as PostgreSQL would (never one preventing wraparound), and says so;
/// autovacuum comes back on its own. Without the right to signal them (a superuser's), the
/// retries just wait.
fn cancel_autovacuum(conn: &mut PgConnection, doing: &str, log: &mut dyn FnMut(&str)) {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Cancelled {
        #[diesel(sql_type = diesel::sql_types::Text)]
        query: String,
    }
    // The workers first, then the cancelling: in one WHERE, PostgreSQL may evaluate
    // pg_cancel_backend before the other conditions (it did: other databases' sessions were
    // cancelled), so the workers are a materialized CTE.
    let cancelled = diesel::sql_query(
        "WITH workers AS MATERIALIZED (
           SELECT a.pid, a.query FROM pg_catalog.pg_stat_activity a
           WHERE a.backend_type = 'autovacuum worker' AND a.datname = current_database()
             AND a.query NOT LIKE '%to prevent wraparound%')
         SELECT w.query FROM workers w WHERE pg_catalog.pg_cancel_backend(w.pid)",
    )
    .load::<Cancelled>(conn);
    for worker in cancelled.unwrap_or_default() {
        log(&format!("{doing}: cancelled `{}`, which held the table's lock", worker.query));
    }
}

fn is_lock_timeout(err: &diesel::result::Error) -> bool {
    err.to_string().contains("lock timeout")
}

pub(crate) fn step_error(doing: &str, err: diesel::result::Error) -> Error {
    let mut reason = crate::error::first_line(&err.to_string());
    if let diesel::result::Error::DatabaseError(_, info) = &err
        && let Some(detail) = info.details()
    {
        reason.push_str(&format!(" ({detail})"));
    }
    match Error::query(doing, reason) {
        Error::Database { doing, reason } => Error::StepFailed { doing, reason },
        other => other,
    }
}

/// Backoff between retries of a step that hit `lock_timeout`: 200, 400, then 800 ms.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(3)))
}
