//! `plan`: the migrations that bring a live (legacy) database to the declaration without
//! blocking the application (product.md §4 "Lock-safe conversion").
//!
//! A pure function of the live state (the scan's [`Catalog`], plus [`Live`] for the few facts
//! only a conversion needs), the declaration and [`Options`]. It emits the same typed statements
//! ([`Ddl`]) that [`crate::sql`] generates for a fresh database, so a converted database and a
//! fresh one end up alike. The steps, in order, one file each:
//!
//! 1. [`prepare`] (one transaction): app role, `auth_org_id()`, the trigger function, the
//!    default organization, declared tables that do not exist yet.
//! 2. [`columns`] `add_columns` (statement by statement): nullable org columns with
//!    `DEFAULT auth_org_id()`, and missing declared columns.
//! 3. [`backfill`] `backfill_<table>` (batches, parents first).
//! 4. [`columns`] `org_not_null`: `CHECK … NOT VALID` → `VALIDATE` → `SET NOT NULL` → drop the check.
//! 5. [`keys`] `org_keys`: the `(org, key)` unique index, org FK `NOT VALID` → `VALIDATE`,
//!    org-scoped uniques and indexes `CONCURRENTLY` then `ADD CONSTRAINT … USING INDEX`.
//! 6. [`foreign_keys`] `tenant_fks`: composite foreign keys `NOT VALID` → `VALIDATE`, then the
//!    plain ones dropped.
//! 7. [`keys`] `primary_keys`: the `(org, key)` index becomes the primary key (`USING INDEX`).
//! 8. [`security`]: RLS enabled and forced, the policy, the trigger, grants, views, functions.
//! 9. [`baseline`]: records the workspace's own migrations as applied.
//!
//! Statement-by-statement steps are files with `run_in_transaction = false`: `tenancy-migrate
//! apply --dir` runs each statement in its own short transaction together with a log row, so a
//! killed run resumes exactly where it stopped. [`files`] writes them.

pub mod backfill;
mod baseline;
mod columns;
pub mod files;
mod foreign_keys;
mod keys;
mod prepare;
mod security;

use crate::catalog::{Catalog, Constraint, Row};
use crate::ddl::{Condition, Constraint as DdlConstraint, Ddl, Privilege};
use crate::error::PlanError;
use crate::sql;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tenancy_schema::{Schema, Table};

/// How a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The whole file in one transaction.
    Transaction,
    /// Each statement in its own transaction with its log row (`CONCURRENTLY` ones alone).
    Statements,
    /// Primary-key batches, each its own transaction; see [`backfill`].
    Backfill(Box<backfill::Spec>),
}

/// One statement of a step, with what it locks and how many rows it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub ddl: Ddl,
    pub lock: &'static str,
    /// Estimated rows of the table the statement reads or rewrites (`None`: catalog only).
    pub rows: Option<i64>,
    /// For a `VALIDATE`: the query naming up to five rows that break the constraint (count and
    /// key), which the runner shows when PostgreSQL refuses it.
    pub offenders: Option<String>,
}

/// One migration directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub mode: Mode,
    pub up: Vec<Statement>,
    /// In the order `down.sql` runs them.
    pub down: Vec<Ddl>,
}

/// What [`plan`] produced: steps, and what it left for a person to decide.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

/// Settings of the generated files.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows per backfill transaction (5,000 by default: each holds its rows' locks ~25 ms,
    /// against ~1 ms a batch of round trips and planning; BENCHMARKS.md).
    pub batch_size: u32,
    /// `lock_timeout` of every file: how long a statement may queue for its lock (and so how long
    /// it can hold up the application's queries behind it) before `apply` retries it.
    pub lock_timeout: String,
    /// Versions of the workspace migrations to record as applied (empty: no baseline step).
    pub baseline: Vec<String>,
    /// The PostgreSQL schema converted: every file runs with it first on the search path.
    pub schema: String,
    /// Take away access the database grants today that tenancy's model does not (policies,
    /// privileges, EXECUTE on definer functions; listed in the plan's notes). Without it, the
    /// plan refuses and lists them (`plan --replace-access`).
    pub replace_access: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch_size: 5000,
            lock_timeout: "100ms".to_owned(),
            baseline: Vec::new(),
            schema: "public".to_owned(),
            replace_access: false,
        }
    }
}

/// Facts a conversion needs beyond the scan's catalog: full definitions of what it may replace
/// (so `down.sql` can restore them), the app role's table privileges, the organizations present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// table → constraint → `pg_get_constraintdef`.
    pub constraint_definitions: BTreeMap<String, BTreeMap<String, String>>,
    /// table → trigger → `pg_get_triggerdef`.
    pub trigger_definitions: BTreeMap<String, BTreeMap<String, String>>,
    /// `pg_get_functiondef` of `auth_org_id()`, when it exists.
    pub auth_org_id_definition: Option<String>,
    /// Return type of `auth_org_id()`, when it exists.
    pub auth_org_id_returns: Option<String>,
    /// table → privileges the app role holds on it.
    pub app_privileges: BTreeMap<String, Vec<Privilege>>,
    /// Whether the default organization's row exists (false when the root table is missing).
    pub default_org_exists: bool,
    /// Whether the signed claim's key table exists.
    #[serde(default)]
    pub claim_keys_exist: bool,
    /// table → the sequences its columns' defaults draw from (`serial` keys; identity columns
    /// need none).
    #[serde(default)]
    pub sequences: BTreeMap<String, Vec<LiveSequence>>,
    /// tenant table (with its org column) → what its rows say about their organization.
    #[serde(default)]
    pub placement: BTreeMap<String, Placement>,
}

/// A tenant table's rows without an organization and with one that does not exist, counted
/// when planning, with up to five keys of each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub null_rows: i64,
    pub null_keys: Vec<String>,
    pub missing_rows: i64,
    pub missing_keys: Vec<String>,
}

/// A sequence a column default draws from, and whether the app role may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSequence {
    pub schema: String,
    pub name: String,
    pub app_usage: bool,
}

impl Live {
    pub fn constraint_definition(&self, table: &str, name: &str) -> Option<&String> {
        self.constraint_definitions.get(table)?.get(name)
    }
}

/// Plans the conversion of the live database (`catalog`, `live`) to `schema`.
pub fn plan(catalog: &Catalog, live: &Live, schema: &Schema, options: &Options) -> Result<Plan, PlanError> {
    let mut planner = Planner { catalog, live, schema, options, plan: Plan::default() };
    prepare::refusals(&planner)?;
    prepare::prepare(&mut planner)?;
    columns::add_columns(&mut planner);
    backfill::steps(&mut planner)?;
    columns::not_null(&mut planner);
    keys::org_keys(&mut planner);
    foreign_keys::tenant_fks(&mut planner);
    keys::primary_keys(&mut planner);
    security::security(&mut planner)?;
    baseline::baseline(&mut planner);
    baseline::notes(&mut planner);
    let mut plan = planner.plan;
    plan.steps.retain(|s| !s.up.is_empty());
    for (i, step) in plan.steps.iter_mut().enumerate() {
        step.name = format!("{:04}_{}", i + 1, step.name);
    }
    Ok(plan)
}

/// The planner's state: the inputs, and the plan so far. Each step's module adds its step.
struct Planner<'a> {
    catalog: &'a Catalog,
    live: &'a Live,
    schema: &'a Schema,
    options: &'a Options,
    plan: Plan,
}

impl<'a> Planner<'a> {
    fn org(&self) -> &'a str {
        &self.schema.settings.org_column
    }

    fn rows(&self, table: &str) -> Option<i64> {
        self.catalog.table(table).map(|t| t.estimated_rows.max(0))
    }

    /// Declared tables that exist in the database.
    fn existing(&self) -> Vec<&'a Table> {
        self.schema.tables_in_dependency_order().into_iter().filter(|t| self.catalog.table(&t.name).is_some()).collect()
    }

    fn existing_tenants(&self) -> Vec<&'a Table> {
        self.existing().into_iter().filter(|t| t.is_tenant()).collect()
    }

    /// Starts a step; statements go to the last one.
    fn step(&mut self, name: impl Into<String>, mode: Mode) {
        self.plan.steps.push(Step { name: name.into(), mode, up: Vec::new(), down: Vec::new() });
    }

    fn current(&mut self) -> &mut Step {
        self.plan.steps.last_mut().expect("a step was started")
    }

    /// Adds `ddl` with its own lock level; `table`: the table it reads (for the row estimate).
    fn up(&mut self, ddl: Ddl, table: Option<&str>) {
        let lock = ddl.lock();
        self.up_locking(ddl, lock, table);
    }

    fn up_locking(&mut self, ddl: Ddl, lock: &'static str, table: Option<&str>) {
        let rows = table.and_then(|t| self.rows(t));
        self.current().up.push(Statement { ddl, lock, rows, offenders: None });
    }

    /// Adds `ddl` and its [`Ddl::undo`].
    fn up_and_undo(&mut self, ddl: Ddl, table: Option<&str>) {
        let undo = ddl.undo().expect("a statement with an undo");
        self.up(ddl, table);
        self.down(undo);
    }

    /// Down statements are pushed in up order; [`Planner::finish`] reverses them.
    fn down(&mut self, ddl: Ddl) {
        self.current().down.push(ddl);
    }

    /// Ends a step: down runs in reverse order of up.
    fn finish(&mut self) {
        self.current().down.reverse();
    }

    fn org_fk(&self, table: &str) -> Option<&'a Row<Constraint>> {
        let root = self.schema.root();
        self.catalog.org_foreign_key(table, self.org(), &root.name, &root.key().name)
    }
}

/// Constraints the conversion replaces: dropped in `up`, restored from their definitions in `down`.
impl Planner<'_> {
    /// `VALIDATE` of a foreign key that exists but was added `NOT VALID` (nothing when it is valid).
    fn validate_foreign_key(&mut self, table: &str, fk: &Constraint) {
        if !fk.validated {
            let validate = Ddl::ValidateConstraint {
                table: table.to_owned(),
                name: fk.name.clone(),
                kind: crate::ddl::Validate::ForeignKey,
            };
            self.up(validate, Some(table));
            let parent = fk.ref_table.as_deref().unwrap_or_default();
            self.offenders(self.foreign_key_offenders(table, &fk.columns, parent, &fk.ref_columns));
        }
    }

    /// Attaches the query naming the rows a `VALIDATE` just added would refuse.
    fn offenders(&mut self, sql: String) {
        if let Some(statement) = self.current().up.last_mut() {
            statement.offenders = Some(sql);
        }
    }

    /// Rows of `table` as `count` and `key` (the declared key as text, else the row address).
    fn offending_rows(&self, table: &str, condition: &str) -> String {
        let keys = self.schema.table(table).map(|t| t.key_names()).unwrap_or_default();
        let key = self.catalog.row_key(table, &keys, "c");
        format!(
            "SELECT count(*) OVER () AS count, {key}::text AS key FROM {} c WHERE {condition} ORDER BY {key} LIMIT 5",
            sql::ident(table)
        )
    }

    /// Rows whose every key column is set and that no row of `parent` matches.
    fn foreign_key_offenders(&self, table: &str, columns: &[String], parent: &str, ref_columns: &[String]) -> String {
        let set: Vec<String> = columns.iter().map(|c| format!("c.{} IS NOT NULL", sql::ident(c))).collect();
        let matched: Vec<String> = columns
            .iter()
            .zip(ref_columns)
            .map(|(c, r)| format!("p.{} = c.{}", sql::ident(r), sql::ident(c)))
            .collect();
        let condition = format!(
            "{} AND NOT EXISTS (SELECT FROM {} p WHERE {})",
            set.join(" AND "),
            sql::ident(parent),
            matched.join(" AND ")
        );
        self.offending_rows(table, &condition)
    }

    /// Rows where `column` is NULL.
    fn null_offenders(&self, table: &str, column: &str) -> String {
        self.offending_rows(table, &format!("c.{} IS NULL", sql::ident(column)))
    }

    /// Drops a legacy constraint; `down` restores it from its definition.
    fn drop_constraint(&mut self, table: &str, name: &str) {
        self.up(
            Ddl::DropConstraint { table: table.to_owned(), name: name.to_owned(), if_exists: true, cascade: false },
            None,
        );
        if let Some(restore) = self.restore_constraint(table, name, name) {
            self.down(restore);
        }
    }

    /// Re-adds constraint `original` of `table` as `name` unless one of that name exists (a
    /// partly applied step); `None` when its definition was not read.
    fn restore_constraint(&self, table: &str, original: &str, name: &str) -> Option<Ddl> {
        let definition = self.live.constraint_definition(table, original)?;
        Some(Ddl::Guarded {
            condition: Condition::Not(Box::new(Condition::ConstraintExists {
                table: table.to_owned(),
                name: name.to_owned(),
            })),
            statement: Box::new(Ddl::AddConstraint {
                table: table.to_owned(),
                constraint: DdlConstraint::Definition { name: name.to_owned(), definition: definition.clone() },
                not_valid: false,
            }),
        })
    }

    /// Moves a legacy constraint out of the way of a new one with the same name.
    fn rename_constraint(&mut self, table: &str, from: &str, to: &str) {
        let rename =
            |a: &str, b: &str| Ddl::RenameConstraint { table: table.to_owned(), from: a.to_owned(), to: b.to_owned() };
        self.up(rename(from, to), None);
        self.down(Ddl::Guarded {
            condition: Condition::ConstraintExists { table: table.to_owned(), name: to.to_owned() },
            statement: Box::new(rename(to, from)),
        });
    }
}

#[cfg(test)]
mod tests;
