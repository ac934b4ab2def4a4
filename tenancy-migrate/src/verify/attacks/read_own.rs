//! `read_own`: A reads its table and sees its own rows, and only those.

use super::{Target, Verdict};
use crate::verify::probe::{Probe, field};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    if x.table.scope == tenancy_schema::Scope::Internal {
        return Err(
            "the app role has no access to an internal table (read_other_org shows it reads nothing)".to_owned()
        );
    }
    let (evidence, observed) = x.probe(&Probe::query(x.claim_a(), x.count_sql()));
    let outcome = match (field(&observed.answer, "own"), field(&observed.answer, "other")) {
        (_, Some(other)) if other > 0 => Outcome::Leaked,
        (Some(own), Some(0)) if own > 0 => Outcome::Allowed,
        _ => Outcome::Error,
    };
    Ok((evidence, outcome))
}
