//! `read_other_org`: A reads the table; any row of another organization it sees is a leak.

use super::{Target, Verdict};
use crate::verify::probe::field;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = x.count_sql();
    let (evidence, probe) = x.probe(x.claim_a(), &sql, true);
    let outcome = match field(&probe, "other") {
        Some(other) if other > 0 => Outcome::Leaked,
        _ => Outcome::Blocked,
    };
    Ok((evidence, outcome))
}
