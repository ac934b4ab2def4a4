//! `insert_own`: A inserts a row of its own organization.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    if x.is_root() {
        return Err("the app role may not create or delete organizations (not granted)".to_owned());
    }
    let insert = x.insert_sql(Org::A, Org::B, None)?;
    let (evidence, probe) = x.probe(x.claim_a(), &insert, true);
    let outcome = match probe {
        Probe::Rows(rows) if rows.len() == 1 => Outcome::Allowed,
        _ => Outcome::Error,
    };
    Ok((evidence, outcome))
}
