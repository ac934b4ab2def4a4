//! `insert_other_org`: A inserts a row that belongs to B.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let insert = x.insert_sql(Org::B, Org::A, None)?;
    let (evidence, probe) = x.probe(x.claim_a(), &insert, true);
    let outcome = match probe {
        Probe::Rows(rows) if !rows.is_empty() => Outcome::Leaked,
        _ => Outcome::Blocked,
    };
    Ok((evidence, outcome))
}
