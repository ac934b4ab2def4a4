//! `write_shared`: A writes a table the app role only reads — a global table (reference data
//! every organization sees) or a shared one (rows seen through links) — or may not touch at all
//! (internal): an insert, an update of
//! every row and a delete of every row, each in its own savepoint. Any change is a leak: one
//! organization would change what the others see. Foreign-key triggers are off for the delete
//! when the connecting role may, so that only privileges and policies decide it.

use super::{Target, Verdict, judge_other};
use crate::verify::Org;
use crate::verify::probe::{Probe, Watch};
use tenancy_schema::Scope;
use tenancy_schema::report::{Evidence, Outcome};

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    if !matches!(x.table.scope, Scope::Shared | Scope::Global | Scope::Internal) {
        return Err("the app role writes this table by design (the other attacks judge those writes)".to_owned());
    }
    let t = x.t();
    let everything = || Watch { label: format!("every row of {}", x.table.name), from: format!("FROM {t}"), org: None };
    let column = x.free_column().unwrap_or(x.table.key_names()[0]).to_owned();
    let json = x.sample_json(Org::B)?;
    let row = x.row(Org::B, Org::B, None)?;
    let probes = [
        Probe::write(x.claim_a(), row.sql(), everything()),
        Probe::write(
            x.claim_a(),
            format!("UPDATE {t} SET {} = {}", tenancy_codegen::sql::ident(&column), x.constant(&json, &column)),
            everything(),
        ),
        x.without_triggers(Probe::write(x.claim_a(), format!("DELETE FROM {t}"), everything())),
    ];
    let mut evidence = Evidence { sql: String::new(), result: String::new() };
    let mut outcome = Outcome::Blocked;
    for probe in &probes {
        let (found, observed) = x.probe(probe);
        evidence.sql.push_str(&format!("{}\n", found.sql));
        evidence.result.push_str(&format!("{}\n", found.result));
        match judge_other(&observed) {
            Outcome::Leaked => outcome = Outcome::Leaked,
            Outcome::Error if outcome == Outcome::Blocked => outcome = Outcome::Error,
            _ => {}
        }
    }
    Ok((evidence, outcome))
}
