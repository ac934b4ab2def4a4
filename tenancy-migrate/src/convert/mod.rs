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
use tenancy_schema::Schema;

/// Reads schema `namespace` of the database and plans its conversion to `schema`.
pub fn plan_database(conn: &mut PgConnection, schema: &Schema, namespace: &str, options: &Options) -> Result<Plan> {
    // The schema converted is the one read: the files and backfills run there.
    // `namespace` lists the declaration's schemas comma-separated, its own first.
    let mut schema = schema.clone();
    schema.settings.schema = namespace.split(',').next().unwrap_or(namespace).to_owned();
    let catalog = crate::catalog::load(conn, namespace, &schema.settings.app_role)?;
    let live = live::load(conn, &schema, namespace)?;
    Ok(plan(&catalog, &live, &schema, options)?)
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
