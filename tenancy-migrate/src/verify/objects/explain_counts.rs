//! `explain_counts` (info): A runs `EXPLAIN ANALYZE` on an isolated table. Row-level security
//! filters rows while the plan counts them: "Rows Removed by Filter" is how many rows of other
//! organizations the scan passed over, and the plan's estimates come from statistics over all
//! organizations. Not a row of B, but B's size, to whoever can run EXPLAIN (everyone) with
//! index scans turned off (any session may).

use super::Around;
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let Some(table) = x.isolated().into_iter().find(|t| t.is_tenant()) else { return Ok(Vec::new()) };
    // EXPLAIN is not a query that can be wrapped; a function in this session's temporary schema
    // (made by the connecting role, rolled back with the probe) returns its lines as rows.
    let function = "CREATE FUNCTION pg_temp.tenancy_verify_explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS
        $f$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q; END $f$";
    let sql = format!(
        "SELECT line FROM pg_temp.tenancy_verify_explain({}) line WHERE line LIKE '%Rows Removed by Filter%' OR line LIKE '%Scan%'",
        literal(&format!("SELECT * FROM {}", ident(&table.name)))
    );
    // As an attacker would: index scans off, so the scan visits every organization's rows.
    let probe = Probe::query(x.claim_a(), sql)
        .setup(function)
        .prelude("SET LOCAL enable_indexscan = off")
        .prelude("SET LOCAL enable_bitmapscan = off")
        .prelude("SET LOCAL enable_indexonlyscan = off");
    let (mut evidence, observed) = x.runner.run(x.conn, &probe);
    let removed = observed.answer.shown().contains("Rows Removed by Filter");
    let outcome = if removed {
        evidence
            .result
            .push_str("\nthe plan counts the rows row-level security removed: other organizations' rows, by number");
        Outcome::Info
    } else if observed.answer.failed().is_some() {
        Outcome::Error
    } else {
        Outcome::Blocked
    };
    let cell = Cell { attack: "explain_counts".to_owned(), expected: Outcome::Info, outcome, evidence };
    Ok(vec![VerifiedObject { object: format!("table {}", table.name), cell }])
}
