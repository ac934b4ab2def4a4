//! `read_empty_claim`: the app role reads the table with the claim set to the empty string. The contract: no claim means
//! no rows — never all rows, and never an error (which an application would retry or log).

use super::{Target, Verdict};
use crate::verify::probe::{As, field};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = format!("SELECT count(*) AS visible FROM {}", x.t());
    let (evidence, probe) = x.probe(As::App(Some("")), &sql, true);
    let outcome = match field(&probe, "visible") {
        Some(0) => Outcome::Blocked,
        Some(_) => Outcome::Leaked,
        None => Outcome::Error,
    };
    Ok((evidence, outcome))
}
