//! `error_text`: what the write paths' errors say. For each column B's sample row has a value
//! in, A inserts a fresh row of its own with B's value there, and updates its own sample row to
//! it: the statements an application sends when a user types a value another organization
//! already uses. Constraints, and above all triggers and SECURITY DEFINER functions that run
//! with their owner's rights ("phone 555-0100 already belongs to <B's contact>"), may answer with
//! B's data. Every probe's error is searched for values only B's sample rows hold that the
//! statement did not send (`probe::EXPOSED`); one is a leak.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{EXPOSED, Probe};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Evidence, Outcome};

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return Err("the app role may not create organizations; the unique oracle renames A's".to_owned());
    }
    let json = x.sample_json(Org::B)?;
    let b: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    let org = x.scope_name().to_owned();
    let columns: Vec<String> = x
        .table
        .columns
        .iter()
        .filter(|c| !c.key && c.name != org && b.get(&c.name).is_some_and(|v| !v.is_null()))
        .map(|c| c.name.clone())
        .collect();
    if columns.is_empty() {
        return Err("B's sample row has no value to repeat".to_owned());
    }
    let own = x.sample_key(Org::A);
    let mut evidence = Evidence { sql: String::new(), result: String::new() };
    let mut errors = 0;
    for column in &columns {
        // Only this column's value travels in the statement (not B's whole row).
        let one = serde_json::json!({ column.as_str(): b[column.as_str()].clone() }).to_string();
        let value = x.constant(&one, column);
        let insert = x.row(Org::A, Org::B, None)?.with(column, value.clone());
        let update = format!("UPDATE {} SET {} = {value} WHERE {}", x.t(), ident(column), x.key_is(&own));
        for sql in [insert.sql(), update] {
            let (found, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::A)));
            evidence.sql.push_str(&format!("{}\n", found.sql));
            if observed.answer.failed().is_some() {
                errors += 1;
                evidence.result.push_str(&format!("{}\n", found.result));
            }
        }
    }
    let outcome = if evidence.result.contains(EXPOSED) { Outcome::Leaked } else { Outcome::Blocked };
    if errors == 0 {
        evidence.result = format!(
            "{} statements repeating B's values in {} ran without an error: no error text to leak",
            columns.len() * 2,
            columns.join(", ")
        );
    }
    Ok((evidence, outcome))
}
