//! `upsert_other_org`: A sends `INSERT ... ON CONFLICT (primary key) DO UPDATE` with B's row:
//! the conflict lands on B's row, and an UPDATE policy that lets it through rewrites it.
//! Judged by whether B's rows changed.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let primary = x.catalog.primary_key(&x.table.name).ok_or("no primary key to conflict on")?;
    let conflict: Vec<String> = primary.columns.iter().map(|c| ident(c)).collect();
    let column = x.free_column().unwrap_or(x.table.key_names()[0]).to_owned();
    let json = x.sample_json(Org::B)?;
    let sql = format!(
        "{} ON CONFLICT ({}) DO UPDATE SET {c} = EXCLUDED.{c}",
        x.insert_json(&json)?,
        conflict.join(", "),
        c = ident(&column),
    );
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::B)));
    Ok((evidence, judge_other(&observed)))
}
