//! `read_empty_claim`: the app role reads the table with the claim set to the empty string. The contract: no claim means
//! no rows — never all rows, and never an error (which an application would retry or log).

use super::{Target, Verdict};
use crate::verify::probe::{As, Probe, field};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let sql = format!("SELECT count(*) AS visible FROM {}", x.t());
    let (evidence, observed) = x.probe(&Probe::query(As::App(Some("")), sql));
    let internal = x.table.scope == tenancy_schema::Scope::Internal;
    let outcome = match field(&observed.answer, "visible") {
        Some(0) => Outcome::Blocked,
        Some(_) => Outcome::Leaked,
        // An internal table refuses the app role outright.
        None if internal && observed.answer.failed().is_some_and(|f| f.message.contains("permission denied")) => {
            Outcome::Blocked
        }
        None => Outcome::Error,
    };
    Ok((evidence, outcome))
}
