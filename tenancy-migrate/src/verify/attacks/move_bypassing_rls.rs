//! `move_bypassing_rls`: the connecting role (a migration job, an owner: row-level security does
//! not apply to it) moves a row between organizations; only the immutability trigger stops it.
//! The one attack not run as the app role, by design.

use super::{Target, Verdict, judge_move};
use crate::verify::Org;
use crate::verify::probe::{As, Probe};

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let (row, update) = x.fresh_row_moved_to_b()?;
    let (evidence, observed) = x.probe(&Probe::write(As::Owner, update, x.watch(Org::B)).prelude(row.sql()));
    Ok((evidence, judge_move(&observed)))
}
