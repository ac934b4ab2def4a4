//! `lock_table`: A takes `ACCESS EXCLUSIVE` on the table (`LOCK TABLE ... NOWAIT`), which stops
//! every organization's reads and writes until A's transaction ends. PostgreSQL grants it to
//! any role with UPDATE, DELETE or TRUNCATE on the table, so on a table the app role writes it
//! is a denial of service by design (info: bound the app's transactions with
//! `idle_in_transaction_session_timeout` and `statement_timeout`, and use `lock_timeout` in the
//! others). On a table the app role only reads, a granted lock means a write privilege: a leak.

use super::{Target, Verdict};
use crate::verify::probe::Probe;
use tenancy_schema::Scope;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT", x.t());
    let (mut evidence, observed) = x.probe(&Probe::statement(x.claim_a(), sql));
    if observed.answer.failed().is_some() {
        return Ok((evidence, Outcome::Blocked));
    }
    let outcome = match x.table.scope {
        Scope::Tenant | Scope::Root => {
            evidence.result.push_str(
                "\nA can stop every organization's queries on this table until its transaction ends (its write privilege implies the lock): bound the app role's transactions with idle_in_transaction_session_timeout and statement_timeout",
            );
            Outcome::Info
        }
        Scope::Global | Scope::Shared | Scope::Internal => {
            evidence.result.push_str("\nthe app role only reads this table, yet can lock every organization out of it");
            Outcome::Leaked
        }
    };
    Ok((evidence, outcome))
}
