//! `read_other_org`: A reads the table; any row of another organization it sees is a leak.

use super::{Target, Verdict};
use crate::verify::probe::{Probe, field};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let (evidence, observed) = x.probe(&Probe::query(x.claim_a(), x.count_sql()));
    let outcome = match field(&observed.answer, "other") {
        Some(other) if other > 0 => Outcome::Leaked,
        _ => Outcome::Blocked,
    };
    Ok((evidence, outcome))
}
