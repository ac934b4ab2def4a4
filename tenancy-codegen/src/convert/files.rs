//! A plan as files: one diesel-format directory per step (`up.sql` with each statement under a
//! comment naming its lock and rows, `down.sql`, `metadata.toml`), and the dry run. Text only;
//! tenancy-migrate writes the files.

use super::backfill;
use super::{Mode, Options, Plan, Step};
use crate::sql;
use std::fmt::Write as _;

/// The comment line before a `VALIDATE` holding the query that names the rows breaking it
/// (`apply --dir` runs it when PostgreSQL refuses the statement).
pub const OFFENDERS: &str = "-- tenancy-offenders: ";

/// The header of a conversion file.
fn header(step: &Step, options: &Options, down: bool) -> String {
    let schema = options.schema.as_str();
    let statement_timeout = match &step.mode {
        Mode::Transaction => "1min",
        // VALIDATE and CREATE INDEX CONCURRENTLY read whole tables without blocking writes.
        _ => "6h",
    };
    let title = format!("{}{}", step.name, if down { " (down)" } else { "" });
    // `Options::schema` lists a declaration's schemas comma-separated, its own first.
    let schemas: Vec<&str> = schema.split(',').collect();
    // The baseline writes diesel's `__diesel_schema_migrations` where a plain connection looks
    // for it (the search path's default), not in the declaration's schema an earlier step's
    // session-wide `SET` left first: otherwise `status` shows the migrations as pending.
    let baseline = step.up.iter().any(|s| matches!(s.ddl, crate::ddl::Ddl::CreateMigrationsTable));
    let mut header = sql::header(
        sql::BY_PLAN,
        &title,
        step.mode == Mode::Transaction,
        &options.lock_timeout,
        statement_timeout,
        if baseline { &[] } else { &schemas },
    );
    if baseline {
        header.push_str("SET LOCAL search_path TO DEFAULT;\n");
    }
    header
}

/// The files of one step: `up.sql`, `down.sql`, `metadata.toml`.
pub fn files(step: &Step, options: &Options) -> Vec<(&'static str, String)> {
    let mut up = header(step, options, false);
    if let Mode::Backfill(spec) = &step.mode {
        let _ = writeln!(
            up,
            "-- tenancy-migrate apply runs this backfill in batches of about {} rows by their place in the table\n\
             -- (pages, read by ctid), one transaction each, then sweeps up rows a concurrent update moved; resumable.\n\
             -- Any other runner runs the statement below in one transaction (correct, but it locks every row until done).\n\
             {}{}",
            options.batch_size,
            backfill::MARKER,
            serde_json::to_string(spec).expect("specs serialize")
        );
    }
    for statement in &step.up {
        let rows = statement.rows.map_or(String::new(), |r| format!(", ~{r} rows"));
        let offenders = statement.offenders.as_ref().map_or(String::new(), |sql| format!("{OFFENDERS}{sql}\n"));
        let _ = write!(up, "\n-- lock: {}{rows}\n{offenders}{}\n", statement.lock, statement.ddl);
    }
    let mut down = header(step, options, true);
    for statement in &step.down {
        let _ = write!(down, "\n{statement}\n");
    }
    let in_transaction = step.mode == Mode::Transaction;
    vec![("up.sql", up), ("down.sql", down), ("metadata.toml", format!("run_in_transaction = {in_transaction}\n"))]
}

/// The dry run: every statement with its lock and estimated rows.
pub fn render_dry_run(plan: &Plan, options: &Options) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        let how = match &step.mode {
            Mode::Transaction => "one transaction".to_owned(),
            Mode::Statements => "each statement its own transaction".to_owned(),
            Mode::Backfill(_) => format!("batches of about {} rows by ctid, one transaction each", options.batch_size),
        };
        let _ = writeln!(out, "== {} ({how})", step.name);
        for statement in &step.up {
            let rows = statement.rows.map_or("-".to_owned(), |r| format!("~{r}"));
            let sql = statement.ddl.to_string().replace('\n', "\n    ");
            let _ = writeln!(out, "  [{} | rows {rows}]\n    {sql}", statement.lock);
        }
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
