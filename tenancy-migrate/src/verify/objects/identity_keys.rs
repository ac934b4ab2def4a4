//! `identity_keys` (info): isolated tables whose key comes from one sequence for all
//! organizations (identity or serial). A sees its own keys; the gap between two of them is how
//! many rows the other organizations inserted meanwhile. Use uuid keys (v7 keeps them ordered)
//! or number rows per organization when volume is secret.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let tables: Vec<String> = x.isolated().iter().filter(|t| t.is_tenant()).map(|t| quoted(&t.name)).collect();
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.relname AS table, a.attname AS key FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace IN {schemas} AND c.relname IN ({tables}) AND a.attnum > 0 AND NOT a.attisdropped
           AND (a.attidentity <> '' OR pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname) IS NOT NULL)
         ORDER BY 1",
        schemas = x.namespaces(),
        tables = tables.join(", ")
    );
    let (mut evidence, observed) = x.runner.run(x.conn, &Probe::query(x.claim_a(), sql));
    let counted = match &observed.answer {
        crate::verify::probe::Answer::Rows(rows) => rows.len(),
        _ => 0,
    };
    let outcome = if counted > 0 {
        evidence.result.push_str(&format!(
            "\n{counted} tables number their rows from one sequence for all organizations: the gaps in A's keys are the others' inserts"
        ));
        Outcome::Info
    } else if observed.answer.failed().is_some() {
        Outcome::Error
    } else {
        Outcome::Blocked
    };
    let cell = Cell { attack: "identity_keys".to_owned(), expected: Outcome::Info, outcome, evidence };
    Ok(vec![VerifiedObject { object: "sequences".to_owned(), cell }])
}
