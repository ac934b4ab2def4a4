//! `delete_other_org`: A deletes a fresh row of B (no children hold on to it, so no foreign key
//! can be what stops the delete) by its key. Judged by whether B's rows changed.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let row = x.row(Org::B, Org::A, None)?;
    let delete = format!("DELETE FROM {} WHERE {}", x.t(), x.key_is(&row.key));
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), delete, x.watch(Org::B)).row(Org::B, row.sql()));
    Ok((evidence, judge_other(&observed)))
}
