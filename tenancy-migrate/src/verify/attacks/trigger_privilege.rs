//! `trigger_privilege`: A attaches a trigger to the table. With the TRIGGER privilege the app
//! role can run code on every organization's writes (and read their rows in it).

use super::{Target, Verdict};
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let sql = format!(
        "CREATE TRIGGER tenancy_verify_probe BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        x.t()
    );
    let (evidence, observed) = x.probe(&Probe::statement(x.claim_a(), sql));
    let outcome = if observed.answer.failed().is_none() { Outcome::Leaked } else { Outcome::Blocked };
    Ok((evidence, outcome))
}
