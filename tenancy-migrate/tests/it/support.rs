//! Test databases: see `tenancy_migrate::testing` (shared with the unit tests of the checks).

pub use tenancy_migrate::testing::*;

use tenancy_schema::report::{Report, Severity, Verification};

/// A fresh directory for a plan under the test target directory (an earlier run's removed).
pub fn plan_dir(test: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plans").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

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

/// Runs `apply` while a legacy writer inserts a row every ~2 ms on its own connection (the
/// statement `insert(n)` for the nth row, as the connecting role), then stops it. Returns
/// apply's result and log; asserts the writer wrote and never failed.
pub fn apply_under_writer<T>(
    db: &TestDb,
    insert: impl Fn(u64) -> String + Send + 'static,
    apply: impl FnOnce(&mut dyn FnMut(&str)) -> T,
) -> (T, Vec<String>) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), db.admin_url());
        std::thread::spawn(move || {
            let mut conn = diesel::PgConnection::establish(&url).unwrap();
            let (mut written, mut errors) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match conn.batch_execute(&insert(written)) {
                    Ok(()) => written += 1,
                    Err(e) => errors.push(e.to_string()),
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (written, errors)
        })
    };
    let mut log = Vec::new();
    let result = apply(&mut |line: &str| log.push(line.to_owned()));
    stop.store(true, Ordering::Relaxed);
    let (written, errors) = writer.join().unwrap();
    assert!(written > 0 && errors.is_empty(), "the writer: {written} rows, errors {errors:#?}");
    (result, log)
}
