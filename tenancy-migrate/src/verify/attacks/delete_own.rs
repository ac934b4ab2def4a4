//! `delete_own`: A deletes a fresh row of its own (the sample row has children holding on to it).

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let insert = x.insert_sql(Org::A, Org::B, None)?;
    let delete = format!("DELETE FROM {} WHERE {}", x.t(), x.key_is_prelude());
    let (evidence, probe) = x.probe_after(x.claim_a(), &insert, &delete, false);
    let outcome = if matches!(probe, Probe::Affected(1)) { Outcome::Allowed } else { Outcome::Error };
    Ok((evidence, outcome))
}
