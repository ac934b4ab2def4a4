//! `insert_other_org_returning`: the same insert of a row of B, with `RETURNING *` (as ORMs
//! write inserts). Judged by whether B's rows changed.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let row = x.row(Org::B, Org::A, None)?;
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), row.returning(), x.watch(Org::B)));
    Ok((evidence, judge_other(&observed)))
}
