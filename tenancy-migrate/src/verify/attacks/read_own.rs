//! `read_own`: A reads its table and sees its own rows, and only those.

use super::{Target, Verdict};
use crate::verify::probe::field;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = x.count_sql();
    let (evidence, probe) = x.probe(x.claim_a(), &sql, true);
    let outcome = match (field(&probe, "own"), field(&probe, "other")) {
        (_, Some(other)) if other > 0 => Outcome::Leaked,
        (Some(own), Some(0)) if own > 0 => Outcome::Allowed,
        _ => Outcome::Error,
    };
    Ok((evidence, outcome))
}
