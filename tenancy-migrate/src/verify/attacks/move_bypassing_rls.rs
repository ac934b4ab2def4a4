//! `move_bypassing_rls`: the connecting role (a migration job, an owner: row-level security does
//! not apply to it) moves a row between organizations; only the immutability trigger stops it.
//! The one attack not run as the app role, by design.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{Answer, As, Probe};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let (row, update) = x.fresh_row_moved_to_b()?;
    let (evidence, observed) = x.probe(&Probe::write(As::Owner, update, x.watch(Org::B)).prelude(row.sql()));
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
