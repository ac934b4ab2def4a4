//! `backend_activity` and `backend_signal` (info until hardened): every organization's requests
//! run as the same role, and PostgreSQL shows a role its own sessions — `pg_stat_activity.query`
//! (the SQL text other organizations' requests are running, literals included) — and lets it
//! cancel or terminate them (`pg_cancel_backend`, `pg_terminate_backend`). `tenancy-migrate
//! harden` revokes both from PUBLIC; then these cells are blocked.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let app = quoted(&x.runner.schema.settings.app_role);
    let checks = [
        (
            "backend_activity",
            "pg_stat_activity",
            format!(
                "SELECT pg_catalog.has_table_privilege({app}, 'pg_catalog.pg_stat_activity', 'SELECT')
                    AND pg_catalog.has_function_privilege({app}, 'pg_catalog.pg_stat_get_activity(integer)', 'EXECUTE') AS granted"
            ),
            "A can read the SQL text of the requests other organizations run (one role for all)",
        ),
        (
            "backend_signal",
            "pg_cancel_backend, pg_terminate_backend",
            format!(
                "SELECT pg_catalog.has_function_privilege({app}, 'pg_catalog.pg_cancel_backend(integer)', 'EXECUTE')
                    OR pg_catalog.has_function_privilege({app}, 'pg_catalog.pg_terminate_backend(integer, bigint)', 'EXECUTE') AS granted"
            ),
            "A can cancel or terminate the requests other organizations run (one role for all)",
        ),
    ];
    let mut objects = Vec::new();
    for (attack, object, sql, what) in checks {
        let (mut evidence, observed) = x.runner.run(x.conn, &Probe::query(x.claim_a(), sql));
        let outcome = if observed.answer.shown().contains("\"granted\": true") {
            evidence.result.push_str(&format!("\n{what}: `tenancy-migrate harden` revokes it"));
            Outcome::Info
        } else if observed.answer.failed().is_some() {
            Outcome::Error
        } else {
            Outcome::Blocked
        };
        let cell = Cell { attack: attack.to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: format!("function {object}"), cell });
    }
    Ok(objects)
}
