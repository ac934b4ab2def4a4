//! `table_statistics` (info): A reads the planner's and the statistics collector's counts of
//! every isolated table — `pg_class.reltuples`, `pg_stat_user_tables` (live rows, inserts,
//! updates, deletes). They count every organization's rows: not a row of B, but B's volume and
//! activity. PostgreSQL gives them to every role; reduce what they say with one table per
//! organization or separate databases when volume itself is secret.

use super::Around;
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let Some(table) = x.isolated().into_iter().find(|t| t.is_tenant()) else { return Ok(Vec::new()) };
    let sql = format!(
        "SELECT c.reltuples::bigint AS estimated_rows, s.n_live_tup AS live_rows, s.n_tup_ins AS inserted
         FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
         WHERE c.oid = {}::regclass",
        literal(&ident(&table.name))
    );
    let (mut evidence, observed) = x.runner.run(x.conn, &Probe::query(x.claim_a(), sql));
    let outcome = if observed.answer.failed().is_none() {
        evidence.result.push_str(&format!(
            "\nA reads the row counts of {} for all organizations together: their volume, not their rows",
            table.name
        ));
        Outcome::Info
    } else {
        Outcome::Blocked
    };
    let cell = Cell { attack: "table_statistics".to_owned(), expected: Outcome::Info, outcome, evidence };
    Ok(vec![VerifiedObject { object: format!("table {}", table.name), cell }])
}
