//! `move_to_other_org`: A moves a fresh row of its own to B (row-level security's WITH CHECK and
//! the immutability trigger both stand in the way).

use super::{Target, Verdict, judge_move};

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let (insert, update) = x.fresh_row_moved_to_b()?;
    let (evidence, probe) = x.probe_after(x.claim_a(), &insert, &update, false);
    Ok((evidence, judge_move(&probe)))
}
