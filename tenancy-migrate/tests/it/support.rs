//! Test databases: see `tenancy_migrate::testing` (shared with the unit tests of the checks).

pub use tenancy_migrate::testing::*;

use tenancy_schema::report::{Report, Severity, Verification};

/// A report's error findings, as `code: message` (for asserting there are none).
pub fn scan_errors(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect()
}

/// What failed a verify run, for an assertion's message: leaked or error cells of tables and
/// objects, with their evidence, and skipped tables with the reason.
pub fn verify_failures(v: &Verification) -> Vec<String> {
    let cells = v.tables.iter().flat_map(|t| {
        t.cells.iter().filter(|c| c.failed()).map(move |c| format!("{} {}: {}", t.table, c.attack, c.evidence.result))
    });
    let objects = v
        .objects
        .iter()
        .filter(|o| o.cell.failed())
        .map(|o| format!("{} {}: {}", o.object, o.cell.attack, o.cell.evidence.result));
    let skipped = v.tables.iter().filter_map(|t| t.skipped.as_ref().map(|why| format!("{} skipped: {why}", t.table)));
    cells.chain(objects).chain(skipped).collect()
}
