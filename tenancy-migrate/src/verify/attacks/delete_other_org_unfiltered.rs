//! `delete_other_org_unfiltered`: A runs `DELETE FROM t` with no `WHERE`: only the DELETE policies
//! apply, not the SELECT ones, so an open `FOR DELETE` policy empties every organization's rows.
//! Foreign-key triggers are off for the probe (`session_replication_role = replica`, when the
//! connecting role is a superuser) so that only row-level security decides; without that, a
//! foreign key refusing the delete leaves the cell undecided (an error), never a pass.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::{FailureKind, Probe};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let probe = x.without_triggers(Probe::write(x.claim_a(), format!("DELETE FROM {}", x.t()), x.watch(Org::B)));
    let (mut evidence, observed) = x.probe(&probe);
    let undecided =
        !x.runner.superuser && observed.answer.failed().is_some_and(|f| f.kind == FailureKind::ForeignKeyViolation);
    if undecided {
        evidence.result.push_str(
            "\na foreign key refused the delete, so row-level security was not what decided it; connect as a superuser to verify this table",
        );
        return Ok((evidence, Outcome::Error));
    }
    Ok((evidence, judge_other(&observed)))
}
