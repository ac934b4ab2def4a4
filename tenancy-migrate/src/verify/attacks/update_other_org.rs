//! `update_other_org`: A updates B's sample row by its key (`WHERE key = ...`: the SELECT
//! policies apply too). Judged by whether B's rows changed.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let key = x.sample_key(Org::B);
    let column = x.free_column().unwrap_or(x.table.key_names()[0]).to_owned();
    let json = x.sample_json(Org::A)?;
    let sql =
        format!("UPDATE {} SET {} = {} WHERE {}", x.t(), ident(&column), x.constant(&json, &column), x.key_is(&key));
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::B)));
    Ok((evidence, judge_other(&observed)))
}
