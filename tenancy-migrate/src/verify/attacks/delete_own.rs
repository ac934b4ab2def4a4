//! `delete_own`: A deletes a fresh row of its own (the sample row has children holding on to it).

use super::{Target, Verdict, judge_own};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let row = x.row(Org::A, Org::B, None)?;
    let delete = format!("DELETE FROM {} WHERE {}", x.t(), x.key_is(&row.key));
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), delete, x.watch(Org::A)).row(Org::A, row.sql()));
    Ok((evidence, judge_own(&observed)))
}
