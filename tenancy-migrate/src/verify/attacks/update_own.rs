//! `update_own`: A updates its own sample row (by its key).

use super::{Target, Verdict, judge_own};
use crate::verify::Org;
use crate::verify::probe::Probe;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    let key = x.sample_key(Org::A);
    let column = x.free_column().unwrap_or(x.table.key_names()[0]).to_owned();
    let json = x.sample_json(Org::A)?;
    let sql = format!(
        "UPDATE {} SET {} = {} WHERE {}",
        x.t(),
        tenancy_codegen::sql::ident(&column),
        x.constant(&json, &column),
        x.key_is(&key)
    );
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::A)));
    Ok((evidence, judge_own(&observed)))
}
