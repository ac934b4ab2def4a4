//! `link_shared`: on a shared table, A writes a link row of its own pointing at B's shared row
//! (a membership of B's user in A), then reads that row. The link decides who sees a shared row,
//! so whoever may write the link can make any row whose key it knows visible: by design (an
//! invitation does exactly this), reported as info so the trust it places in the link table is
//! read next to "0 leaked". Keep shared keys unguessable (uuid), and let only a reviewed path
//! write the link. Refused (the app role may not write the link): blocked.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{FailureKind, Probe, field};
use tenancy_codegen::sql::literal;
use tenancy_schema::Scope;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let Some(link) = x.table.link.as_ref().filter(|_| x.table.scope == Scope::Shared) else {
        return Err("not a shared table: no link to write".to_owned());
    };
    let schema = x.runner.schema;
    let link_table = schema.table(&link.table).ok_or("its link table is not declared")?;
    let b_key = x.sample_key(Org::B);
    let b_single = b_key.first().ok_or("B has no sample row")?;
    let key = x.table.key();
    let link_row = x
        .samples
        .row(schema, link_table, Org::A, &x.runner.orgs, Org::A, None)?
        .with(&link.column, format!("{}::{}", literal(b_single), key.ty.sql_name()));
    let sql = format!("SELECT count(*) AS seen FROM {} WHERE {}", x.t(), x.key_is(&b_key));
    let (mut evidence, observed) = x.probe(&Probe::query(x.claim_a(), sql).prelude(link_row.sql()));
    let outcome = match observed.answer.failed() {
        Some(f) if f.kind == FailureKind::Setup => {
            let refused = ["permission denied", "row-level security"].iter().any(|r| f.message.contains(r));
            if refused { Outcome::Blocked } else { Outcome::Error }
        }
        Some(_) => Outcome::Error,
        None => match field(&observed.answer, "seen") {
            Some(seen) if seen > 0 => {
                evidence.result.push_str(&format!(
                    "\nA linked B's row of {} into its own organization through {}.{} and now sees it: the link decides, so whoever writes it must be trusted, and the keys unguessable",
                    x.table.name, link.table, link.column
                ));
                Outcome::Info
            }
            _ => Outcome::Blocked,
        },
    };
    Ok((evidence, outcome))
}
