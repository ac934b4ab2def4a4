//! `update_other_org_unfiltered`: A runs an `UPDATE` with no `WHERE` that reads no column (`SET c
//! = <constant>`): only the UPDATE policies apply, not the SELECT ones, so an open `FOR UPDATE`
//! policy rewrites every organization's rows. Judged by whether B's rows changed.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let column = x
        .free_column()
        .ok_or("no column an UPDATE can set without reading the table or breaking a unique key")?
        .to_owned();
    let json = x.sample_json(Org::A)?;
    let sql = format!("UPDATE {} SET {} = {}", x.t(), ident(&column), x.constant(&json, &column));
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::B)));
    Ok((evidence, judge_other(&observed)))
}
