//! `delete_other_org`: A deletes B's sample row by its key.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = format!("DELETE FROM {} WHERE {}", x.t(), x.key_is(Org::B));
    let (evidence, probe) = x.probe(x.claim_a(), &sql, false);
    let outcome = if matches!(probe, Probe::Affected(n) if n > 0) { Outcome::Leaked } else { Outcome::Blocked };
    Ok((evidence, outcome))
}
