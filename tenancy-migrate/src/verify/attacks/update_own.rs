//! `update_own`: A updates its own sample row.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let touch = x.touch();
    let sql = format!("UPDATE {} SET {touch} = {touch} WHERE {}", x.t(), x.key_is(Org::A));
    let (evidence, probe) = x.probe(x.claim_a(), &sql, false);
    let outcome = if matches!(probe, Probe::Affected(1)) { Outcome::Allowed } else { Outcome::Error };
    Ok((evidence, outcome))
}
