//! `move_to_other_org`: A moves a fresh row of its own to B (row-level security's WITH CHECK and
//! the immutability trigger both stand in the way). Judged by whether B's rows changed.

use super::{Target, Verdict, judge_move};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let (row, update) = x.fresh_row_moved_to_b()?;
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), update, x.watch(Org::B)).prelude(row.sql()));
    Ok((evidence, judge_move(&observed)))
}
