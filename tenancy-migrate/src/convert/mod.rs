//! Converting a live database: the I/O around tenancy-codegen's pure planner
//! ([`tenancy_codegen::convert`]). [`plan_database`] loads the catalog and the [`Live`] facts and
//! plans; [`write`] writes the plan's directories atomically; [`run`] applies and reverts them
//! (`apply --dir`), running backfills batch by batch ([`backfill`]) and retrying statements that
//! hit `lock_timeout` ([`retry`]).

pub mod backfill;
mod live;
pub mod retry;
pub mod run;
pub mod split;

use crate::error::{Error, Result};
use diesel::PgConnection;
pub use live::load as load_live;
use std::path::Path;
pub use tenancy_codegen::convert::files::{files, render_dry_run};
pub use tenancy_codegen::convert::{Live, Mode, Options, Plan, Statement, Step, plan};
use tenancy_codegen::ddl::Ddl;
use tenancy_schema::Schema;

/// Reads schema `namespace` of the database and plans its conversion to `schema`.
pub fn plan_database(conn: &mut PgConnection, schema: &Schema, namespace: &str, options: &Options) -> Result<Plan> {
    // The schema converted is the one read: the files and backfills run there.
    // `namespace` lists the declaration's schemas comma-separated, its own first.
    let mut schema = schema.clone();
    schema.settings.schema = namespace.split(',').next().unwrap_or(namespace).to_owned();
    let catalog = crate::catalog::load(conn, namespace, &schema.settings.app_role)?;
    let live = live::load(conn, &schema, &catalog, namespace)?;
    let plan = plan(&catalog, &live, &schema, options)?;
    check_backfills(conn, &plan, namespace, &options.lock_timeout)?;
    Ok(plan)
}

/// Plans every backfill's statement against the live database (`EXPLAIN`, nothing executed)
/// after the columns the plan adds, in a transaction that is rolled back: a strategy naming a
/// column or table that does not exist (`via` a column with no such name) is refused now, with
/// every such table at once, instead of halfway through `apply`. Adding the columns takes each
/// table's lock for a moment, waiting no longer than the plan's `lock_timeout` (what the
/// application's queries may queue behind it); nothing stays.
fn check_backfills(conn: &mut PgConnection, plan: &Plan, namespace: &str, lock_timeout: &str) -> Result<()> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let specs: Vec<&tenancy_codegen::convert::backfill::Spec> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.mode {
            Mode::Backfill(spec) => Some(&**spec),
            _ => None,
        })
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    let added = plan.steps.iter().flat_map(|s| &s.up).filter(|s| matches!(s.ddl, Ddl::AddColumn { .. }));
    let mut setup = format!("SET LOCAL lock_timeout = {};\n", tenancy_codegen::sql::literal(lock_timeout));
    let schemas: Vec<&str> = namespace.split(',').collect();
    if let Some(path) = tenancy_codegen::sql::search_path(&schemas) {
        setup.push_str(&format!("SET LOCAL search_path = {path};\n"));
    }
    setup.extend(added.map(|s| format!("{}\n", s.ddl)));
    let mut refused = Vec::new();
    let outcome = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        conn.batch_execute(&setup)?;
        for spec in &specs {
            conn.batch_execute("SAVEPOINT tenancy_explain")?;
            match conn.batch_execute(&format!("EXPLAIN {}", spec.whole_table_sql())) {
                Ok(()) => conn.batch_execute("RELEASE SAVEPOINT tenancy_explain")?,
                Err(e) => {
                    refused.push(format!("{} ({}): {}", spec.table, spec.strategy, first_line(&e.to_string())));
                    conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_explain")?;
                }
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    match outcome {
        Err(diesel::result::Error::RollbackTransaction) | Ok(()) => {}
        Err(e) if e.to_string().contains("lock timeout") => {
            return Err(Error::query(
                "checking the backfills against the live database",
                "a table is busy (lock_timeout while adding the planned columns for a moment); plan again, or with a longer --lock-timeout",
            ));
        }
        Err(e) => return Err(Error::query("checking the backfills against the live database".to_owned(), e)),
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::Plan(tenancy_codegen::PlanError::conversion(
        "#[backfill(...)]",
        format!("{} cannot run on this database: {}", plural(refused.len()), refused.join("; ")),
        "fix the strategy of each (a column or table it names that does not exist, a type that does not match), then plan again; nothing was written",
    )))
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

fn plural(n: usize) -> String {
    if n == 1 { "1 backfill".to_owned() } else { format!("{n} backfills") }
}

/// Writes the plan as migration directories under `dir` (created if missing). Refuses a `dir`
/// that already holds a plan, so an applied plan is never overwritten by a different one.
pub fn write(plan: &Plan, options: &Options, dir: &Path) -> Result<()> {
    let shown = dir.display().to_string();
    let error = |doing: &'static str| {
        let shown = shown.clone();
        move |err: std::io::Error| Error::File { doing, path: shown.clone(), reason: err.to_string() }
    };
    if dir.exists() && std::fs::read_dir(dir).map_err(error("read"))?.next().is_some() {
        return Err(Error::File {
            doing: "write a plan into",
            path: shown,
            reason: "the directory is not empty; choose a new --out directory (an applied plan must stay as it was)"
                .to_owned(),
        });
    }
    let steps: Vec<(String, Vec<(&'static str, String)>)> =
        plan.steps.iter().map(|step| (step.name.clone(), files(step, options))).collect();
    crate::files::write_dir_atomically(dir, &steps)
}
