//! `insert_own`: A inserts a row of its own organization, with a plain `INSERT`.

use super::{Target, Verdict, judge_own};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let row = x.row(Org::A, Org::B, None)?;
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), row.sql(), x.watch(Org::A)));
    Ok((evidence, judge_own(&observed)))
}
