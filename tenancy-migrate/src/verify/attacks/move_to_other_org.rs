//! `move_to_other_org`: A moves a fresh row of its own to B (row-level security's WITH CHECK and
//! the immutability trigger both stand in the way). Judged by whether B's rows changed.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{Answer, Probe};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let (row, update) = x.fresh_row_moved_to_b()?;
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), update, x.watch(Org::B)).prelude(row.sql()));
    Ok((evidence, judge(&observed)))
}

/// Moved: leaked; refused: blocked; A's own fresh row not even there: an error.
fn judge(observed: &crate::verify::probe::Observed) -> Outcome {
    match &observed.answer {
        _ if observed.setup_failed() => Outcome::Error,
        _ if observed.changed() => Outcome::Leaked,
        Answer::Affected(0) => Outcome::Error,
        _ => Outcome::Blocked,
    }
}
