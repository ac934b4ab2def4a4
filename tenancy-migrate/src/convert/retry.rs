//! Retrying a statement that hit `lock_timeout`: it queued behind a long transaction, and
//! giving up quickly (rather than waiting) is what keeps the application's queries from queueing
//! behind it. Used by the step runner and the backfill's batches alike.

use crate::error::{Error, Result};
use diesel::{PgConnection, QueryResult};
use std::time::Duration;

/// Retries of a statement that hit `lock_timeout`, with exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 5 }
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

/// Backoff between retries of a step that hit `lock_timeout`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}
