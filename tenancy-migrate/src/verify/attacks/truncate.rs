//! `truncate`: A truncates the table. Row-level security does not govern TRUNCATE: with the
//! privilege, every organization's rows go. A refusal because other tables reference this one
//! comes after the privilege check, so it still means the app role holds TRUNCATE.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{FailureKind, Probe};
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let probe = Probe::write(x.claim_a(), format!("TRUNCATE {}", x.t()), x.watch(Org::B));
    let (evidence, observed) = x.probe(&probe);
    let outcome = match observed.answer.failed() {
        _ if observed.changed() => Outcome::Leaked,
        Some(f) if f.kind == FailureKind::PermissionDenied => Outcome::Blocked,
        Some(f) if f.message.contains("foreign key") => Outcome::Leaked,
        Some(_) => Outcome::Blocked,
        None => Outcome::Leaked,
    };
    Ok((evidence, outcome))
}
