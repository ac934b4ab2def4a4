//! `plan`: the migrations that bring a live (legacy) database to the declaration without
//! blocking the application (product.md §4 "Lock-safe conversion").
//!
//! The live state is the scan's model ([`Catalog`], plus [`Live`] for the few facts only a
//! conversion needs). [`plan`] is a pure function of both and the declaration; it reuses the
//! statements tenancy-codegen generates for a fresh database (`sql::create_table`,
//! `sql::security`, `sql::foreign_key_constraint`, ...) so a converted database and a fresh one
//! end up alike. The steps, in order:
//!
//! 1. `prepare` (one transaction): app role, `auth_org_id()`, the trigger function, the default
//!    organization, declared tables that do not exist yet.
//! 2. `add_columns` (statement by statement): nullable org columns with `DEFAULT auth_org_id()`,
//!    and missing declared columns.
//! 3. `backfill_<table>` (batches, parents first): see [`backfill`].
//! 4. `org_not_null`: `CHECK … NOT VALID` → `VALIDATE` → `SET NOT NULL` → drop the check.
//! 5. `org_keys`: the `(org, key)` unique index, org FK `NOT VALID` → `VALIDATE`, org-scoped
//!    uniques and indexes `CONCURRENTLY` then `ADD CONSTRAINT … USING INDEX`.
//! 6. `tenant_fks`: composite foreign keys `NOT VALID` → `VALIDATE`, then the plain ones dropped.
//! 7. `primary_keys`: the `(org, key)` index becomes the primary key (`USING INDEX`).
//! 8. `security`: RLS enabled and forced, the policy, the trigger, grants, views, functions.
//! 9. `baseline`: records the workspace's own migrations as applied (see [`run`]).
//!
//! Statement-by-statement steps are files with `run_in_transaction = false`: `tenancy-migrate
//! apply --dir` runs each statement in its own short transaction together with a log row, so a
//! killed run resumes exactly where it stopped.

pub mod backfill;
pub mod run;
pub mod split;

use crate::catalog::{Catalog, ConstraintKind};
use crate::error::{Error, Result};
use diesel::sql_types::Text;
use diesel::{PgConnection, RunQueryDsl};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use tenancy_codegen::sql::{self, ident, literal, names};
use tenancy_schema::{Backfill, ColumnType, Schema, Scope, Table};

/// How a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The whole file in one transaction.
    Transaction,
    /// Each statement in its own transaction with its log row (`CONCURRENTLY` ones alone).
    Statements,
    /// Primary-key batches, each its own transaction; see [`backfill`].
    Backfill(backfill::Spec),
}

/// One statement of a step, with what it locks and how many rows it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub lock: &'static str,
    /// Estimated rows of the table the statement reads or rewrites (`None`: catalog only).
    pub rows: Option<i64>,
}

/// One migration directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub mode: Mode,
    pub up: Vec<Statement>,
    pub down: Vec<String>,
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
    /// Rows per backfill transaction.
    pub batch_size: u32,
    /// `lock_timeout` of every file: how long a statement may queue for its lock (and so how long
    /// it can hold up the application's queries behind it) before `apply` retries it.
    pub lock_timeout: String,
    /// Versions of the workspace migrations to record as applied (empty: no baseline step).
    pub baseline: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options { batch_size: 1000, lock_timeout: "1s".to_owned(), baseline: Vec::new() }
    }
}

/// Facts a conversion needs beyond the scan's catalog: full definitions of what it may replace
/// (so `down.sql` can restore them), the app role's table privileges, the organizations present.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// `(table, constraint)` → `pg_get_constraintdef`.
    pub constraint_definitions: BTreeMap<(String, String), String>,
    /// `(table, trigger)` → `pg_get_triggerdef`.
    pub trigger_definitions: BTreeMap<(String, String), String>,
    /// `pg_get_functiondef` of `auth_org_id()`, when it exists.
    pub auth_org_id_definition: Option<String>,
    /// Return type of `auth_org_id()`, when it exists.
    pub auth_org_id_returns: Option<String>,
    /// table → privileges the app role holds on it (`SELECT`, `INSERT`, ...).
    pub app_privileges: BTreeMap<String, Vec<String>>,
    /// Whether the default organization's row exists (false when the root table is missing).
    pub default_org_exists: bool,
}

#[derive(diesel::QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

impl Live {
    /// Reads the facts with a constant number of queries.
    pub fn load(conn: &mut PgConnection, schema: &Schema, namespace: &str) -> Result<Live> {
        let definitions = |conn: &mut PgConnection, doing: &str, sql: &str| -> Result<Vec<Definition>> {
            diesel::sql_query(sql)
                .bind::<Text, _>(namespace)
                .bind::<Text, _>(&schema.settings.app_role)
                .load::<Definition>(conn)
                .map_err(|e| Error::query(doing.to_owned(), e))
        };
        let pairs = |rows: Vec<Definition>| -> BTreeMap<(String, String), String> {
            rows.into_iter().map(|d| ((d.owner, d.name), d.definition)).collect()
        };
        let constraint_definitions = pairs(definitions(
            conn,
            "reading constraint definitions",
            "SELECT c.relname::text AS owner, k.conname::text AS name, pg_catalog.pg_get_constraintdef(k.oid) AS definition
             FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND $2 IS NOT NULL",
        )?);
        let trigger_definitions = pairs(definitions(
            conn,
            "reading trigger definitions",
            "SELECT c.relname::text AS owner, t.tgname::text AS name, pg_catalog.pg_get_triggerdef(t.oid) AS definition
             FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND NOT t.tgisinternal AND $2 IS NOT NULL",
        )?);
        let function = definitions(
            conn,
            "reading auth_org_id()",
            "SELECT pg_catalog.format_type(p.prorettype, NULL) AS owner, p.proname::text AS name,
                    pg_catalog.pg_get_functiondef(p.oid) AS definition
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.proname = 'auth_org_id' AND p.pronargs = 0 AND $2 IS NOT NULL",
        )?;
        let privileges = definitions(
            conn,
            "reading the app role's privileges",
            "SELECT c.relname::text AS owner, p.privilege AS name, '' AS definition
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(privilege)
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
               AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $2)
               AND pg_catalog.has_table_privilege($2, c.oid, p.privilege)",
        )?;
        let mut app_privileges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in privileges {
            app_privileges.entry(row.owner).or_default().push(row.name);
        }
        let root = schema.root();
        let default_org_exists = match &schema.settings.default_org {
            None => false,
            Some(org) => {
                let sql = format!(
                    "SELECT '' AS owner, '' AS name, count(*)::text AS definition FROM {} WHERE {}::text = $1 AND $2 IS NOT NULL",
                    ident(&root.name),
                    ident(&root.key().name)
                );
                let exists = diesel::sql_query(sql)
                    .bind::<Text, _>(org)
                    .bind::<Text, _>("")
                    .load::<Definition>(conn)
                    .map(|rows| rows.first().is_some_and(|r| r.definition != "0"));
                // A missing root table is planned for (created); the organization is inserted.
                exists.unwrap_or(false)
            }
        };
        Ok(Live {
            constraint_definitions,
            trigger_definitions,
            auth_org_id_returns: function.first().map(|f| f.owner.clone()),
            auth_org_id_definition: function.into_iter().next().map(|f| f.definition),
            app_privileges,
            default_org_exists,
        })
    }
}

/// A live database the planner cannot convert safely on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot plan the conversion of {subject}: {message}; {hint}")]
pub struct PlanError {
    pub subject: String,
    pub message: String,
    pub hint: String,
}

const BRIEF: &str = "ACCESS EXCLUSIVE (brief, no table scan)";
const VALIDATE: &str = "SHARE UPDATE EXCLUSIVE (reads and writes continue)";
const FK_ADD: &str = "SHARE ROW EXCLUSIVE on both tables (brief, NOT VALID: no scan)";
const FK_VALIDATE: &str = "SHARE UPDATE EXCLUSIVE + ROW SHARE on the parent (reads and writes continue)";
const CONCURRENTLY: &str = "SHARE UPDATE EXCLUSIVE (CONCURRENTLY: reads and writes continue)";
const NONE: &str = "none (catalog only)";
const TRIGGER: &str = "SHARE ROW EXCLUSIVE (brief)";
const BATCH: &str = "ROW EXCLUSIVE, row locks of one batch at a time";

/// Reads schema `namespace` of the database and plans its conversion to `schema`.
pub fn plan_database(conn: &mut PgConnection, schema: &Schema, namespace: &str, options: &Options) -> Result<Plan> {
    let catalog = Catalog::load(conn, namespace, &schema.settings.app_role)?;
    let live = Live::load(conn, schema, namespace)?;
    Ok(plan(&catalog, &live, schema, options)?)
}

/// Plans the conversion of the live database (`catalog`, `live`) to `schema`.
pub fn plan(catalog: &Catalog, live: &Live, schema: &Schema, options: &Options) -> Result<Plan, PlanError> {
    let mut planner = Planner { catalog, live, schema, options, plan: Plan::default() };
    planner.check_refusals()?;
    planner.prepare()?;
    planner.add_columns();
    planner.backfills()?;
    planner.not_null();
    planner.org_keys();
    planner.tenant_fks();
    planner.primary_keys();
    planner.security();
    planner.baseline();
    planner.notes();
    let mut plan = planner.plan;
    plan.steps.retain(|s| !s.up.is_empty());
    for (i, step) in plan.steps.iter_mut().enumerate() {
        step.name = format!("{:04}_{}", i + 1, step.name);
    }
    Ok(plan)
}

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

    fn step(&mut self, name: impl Into<String>, mode: Mode) -> usize {
        self.plan.steps.push(Step { name: name.into(), mode, up: Vec::new(), down: Vec::new() });
        self.plan.steps.len() - 1
    }

    fn up(&mut self, step: usize, sql: String, lock: &'static str, table: Option<&str>) {
        let rows = table.and_then(|t| self.rows(t));
        self.plan.steps[step].up.push(Statement { sql, lock, rows });
    }

    fn down(&mut self, step: usize, sql: String) {
        self.plan.steps[step].down.push(sql);
    }

    fn check_refusals(&self) -> Result<(), PlanError> {
        let org = self.org();
        if let Some(role) = self.catalog.app_role()
            && (role.superuser || role.bypass_rls)
        {
            return Err(PlanError {
                subject: format!("app role {}", role.name),
                message: "it is SUPERUSER or BYPASSRLS, so row-level security would never apply to it".to_owned(),
                hint: format!("run ALTER ROLE {} NOSUPERUSER NOBYPASSRLS first", ident(&role.name)),
            });
        }
        if let Some(returns) = &self.live.auth_org_id_returns
            && returns != "uuid"
        {
            return Err(PlanError {
                subject: "auth_org_id()".to_owned(),
                message: format!("it returns {returns}, and the policies need uuid"),
                hint: "drop it (and the policies using it) or rename it, then plan again".to_owned(),
            });
        }
        for table in self.existing() {
            let root = self.schema.root();
            let key = table.key();
            if table.scope == Scope::Tenant
                && let Some(column) = self.catalog.column(&table.name, org)
                && column.ty != "uuid"
            {
                return Err(PlanError {
                    subject: format!("table {}", table.name),
                    message: format!("its {org} column is {}, not uuid", column.ty),
                    hint: format!(
                        "convert it by hand (e.g. add {org}_uuid, fill it, swap the names), or rename it so the plan adds a new {org}"
                    ),
                });
            }
            if table.is_tenant() && self.catalog.column(&table.name, &key.name).is_none() {
                return Err(PlanError {
                    subject: format!("table {}", table.name),
                    message: format!("its declared key column {} does not exist", key.name),
                    hint: "declare the table's real key column with #[key]".to_owned(),
                });
            }
            if table.scope == Scope::Root && self.catalog.column(&table.name, &key.name).is_some_and(|c| c.ty != "uuid")
            {
                return Err(PlanError {
                    subject: format!("table {}", root.name),
                    message: format!("its key {} is not uuid", key.name),
                    hint: "organizations need uuid keys for the org columns to reference".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Functions, the default organization and the tables that do not exist yet.
    fn prepare(&mut self) -> Result<(), PlanError> {
        let settings = &self.schema.settings;
        let step = self.step("prepare", Mode::Transaction);
        if self.catalog.app_role().is_none() {
            for statement in sql::ensure_app_role(settings) {
                self.up(step, statement, NONE, None);
            }
        }
        if self.auth_org_id_needs_fixing() {
            for statement in sql::auth_org_id(settings, true) {
                self.up(step, statement, NONE, None);
            }
            match &self.live.auth_org_id_definition {
                Some(old) => self.down(step, format!("{};", old.trim_end())),
                None => self.down(step, format!("DROP FUNCTION IF EXISTS {}();", ident(names::AUTH_ORG_ID))),
            }
        }
        if !self.catalog.functions.iter().any(|f| f.name == names::IMMUTABLE_TRIGGER_FUNCTION && f.returns_trigger) {
            self.up(step, sql::immutability_function(settings, true), NONE, None);
            self.down(step, format!("DROP FUNCTION IF EXISTS {}();", ident(names::IMMUTABLE_TRIGGER_FUNCTION)));
        }
        // Missing tables, created without row-level security (that comes last, once data is in
        // place). Foreign keys to tables that exist already wait for `tenant_fks`.
        let missing: Vec<&Table> = self
            .schema
            .tables_in_dependency_order()
            .into_iter()
            .filter(|t| self.catalog.table(&t.name).is_none())
            .collect();
        let mut created: Vec<&str> = Vec::new();
        for table in &missing {
            let (statements, deferred) = sql::create_table(self.schema, table, &created);
            for statement in statements {
                self.up(step, statement, NONE, None);
            }
            // Deferred keys point at tables created later in this step, or at existing ones.
            for statement in deferred {
                let target_missing =
                    missing.iter().any(|m| statement.contains(&format!("REFERENCES {} ", ident(&m.name))));
                if target_missing {
                    self.plan.steps[step].up.push(Statement { sql: statement, lock: NONE, rows: None });
                }
            }
            created.push(&table.name);
        }
        // Deferred FKs between two new tables must come after both exist: move them to the end.
        let (fks, mut rest): (Vec<Statement>, Vec<Statement>) =
            self.plan.steps[step].up.drain(..).partition(|s| s.sql.starts_with("ALTER TABLE"));
        rest.extend(fks);
        self.plan.steps[step].up = rest;
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().rev().map(|t| ident(&t.name)).collect();
            self.down(step, format!("DROP TABLE IF EXISTS {};", list.join(", ")));
        }
        self.default_organization(step)?;
        // down runs in reverse order of up.
        self.plan.steps[step].down.reverse();
        Ok(())
    }

    fn auth_org_id_needs_fixing(&self) -> bool {
        let Some(function) =
            self.catalog.functions.iter().find(|f| f.name == names::AUTH_ORG_ID && f.arguments.is_empty())
        else {
            return true;
        };
        let wanted = sql::auth_org_id(&self.schema.settings, true).remove(0);
        function.volatility != "s"
            || !function.config.iter().any(|c| c.starts_with("search_path="))
            || !wanted.contains(function.source.trim())
            || function.security_definer
    }

    fn default_organization(&mut self, step: usize) -> Result<(), PlanError> {
        let uses_default = self.schema.tables.iter().any(|t| t.backfill == Some(Backfill::DefaultOrg));
        let (true, Some(org), false) = (uses_default, &self.schema.settings.default_org, self.live.default_org_exists)
        else {
            return Ok(());
        };
        let root = self.schema.root();
        let mut columns = vec![ident(&root.key().name)];
        let mut values = vec![format!("{}::uuid", literal(org))];
        for column in root.columns.iter().filter(|c| !c.key && !c.nullable && c.default.is_none()) {
            if column.ty != ColumnType::Text {
                return Err(PlanError {
                    subject: format!("the default organization {org}"),
                    message: format!("it does not exist, and {}.{} needs a value", root.name, column.name),
                    hint: format!("insert the organization {org} yourself, then plan again"),
                });
            }
            columns.push(ident(&column.name));
            // Unique text columns (a slug) get the id, which is unique by construction.
            values.push(literal(org));
        }
        self.up(
            step,
            format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING;",
                ident(&root.name),
                columns.join(", "),
                values.join(", ")
            ),
            "ROW EXCLUSIVE (one row)",
            None,
        );
        self.down(step, format!("-- The default organization {org} is kept: rows may belong to it now."));
        Ok(())
    }

    /// Nullable org columns, then declared columns the database lacks (added nullable: existing
    /// rows have no value; the scan reports the nullability until someone fills them).
    fn add_columns(&mut self) {
        let org = self.org();
        let step = self.step("add_columns", Mode::Statements);
        for table in self.existing() {
            let name = ident(&table.name);
            if table.is_tenant() {
                let column = self.catalog.column(&table.name, org);
                let col = ident(org);
                if column.is_none() {
                    self.up(step, format!("ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col} uuid;"), BRIEF, None);
                    self.down(step, format!("ALTER TABLE {name} DROP COLUMN IF EXISTS {col};"));
                }
                // From now on an application that sets the claim writes placed rows (the
                // backfill covers those written before, and those written without a claim).
                let wanted = format!("{}()", names::AUTH_ORG_ID);
                if column.and_then(|c| c.default.as_deref()).is_none_or(|d| d != wanted) {
                    let set =
                        format!("ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {}();", ident(names::AUTH_ORG_ID));
                    self.up(step, set, BRIEF, None);
                    match column.and_then(|c| c.default.clone()) {
                        Some(old) => {
                            self.down(step, format!("ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {old};"))
                        }
                        None if column.is_some() => {
                            self.down(step, format!("ALTER TABLE {name} ALTER COLUMN {col} DROP DEFAULT;"))
                        }
                        None => {}
                    }
                }
            }
            for column in &table.columns {
                if self.catalog.column(&table.name, &column.name).is_some() {
                    continue;
                }
                let col = ident(&column.name);
                self.up(
                    step,
                    format!("ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col} {};", column.ty.sql_name()),
                    BRIEF,
                    None,
                );
                if let Some(default) = &column.default {
                    // Only rows inserted from now on get it: no rewrite of existing rows.
                    self.up(step, format!("ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {default};"), BRIEF, None);
                }
                self.down(step, format!("ALTER TABLE {name} DROP COLUMN IF EXISTS {col};"));
                if !column.nullable {
                    self.plan.notes.push(format!(
                        "{}.{} is declared NOT NULL but added nullable: existing rows have no value; fill it, then SET NOT NULL",
                        table.name, column.name
                    ));
                }
            }
        }
        self.plan.steps[step].down.reverse();
    }

    /// A backfill for every tenant table whose org column may hold NULLs or unknown organizations.
    fn backfills(&mut self) -> Result<(), PlanError> {
        let org = self.org();
        for table in self.existing_tenants() {
            let column = self.catalog.column(&table.name, org);
            let org_fk_valid = self.org_fk(&table.name).is_some_and(|fk| fk.validated);
            if column.is_some_and(|c| c.not_null) && org_fk_valid {
                continue;
            }
            let mut spec = backfill::Spec::new(self.schema, table, self.catalog)?;
            spec.batch_size = self.options.batch_size;
            let step = self.step(format!("backfill_{}", table.name), Mode::Backfill(spec.clone()));
            self.up(step, spec.whole_table_sql(), BATCH, Some(&table.name));
            self.down(
                step,
                format!("-- The {org} values filled in by the backfill are kept (the column itself goes in add_columns' down)."),
            );
        }
        Ok(())
    }

    fn org_fk(&self, table: &str) -> Option<&'a crate::catalog::Constraint> {
        let root = self.schema.root();
        self.catalog.constraints_of(table).map(|c| &c.fact).find(|c| {
            c.kind == ConstraintKind::ForeignKey
                && c.columns == [self.org()]
                && c.ref_table.as_deref() == Some(root.name.as_str())
                && c.ref_columns == [root.key().name.as_str()]
        })
    }

    fn not_null(&mut self) {
        let org = self.org();
        let step = self.step("org_not_null", Mode::Statements);
        for table in self.existing_tenants() {
            let name = ident(&table.name);
            let col = ident(org);
            let column = self.catalog.column(&table.name, org);
            if !column.is_some_and(|c| c.not_null) {
                let check = ident(&names::not_null_check(&table.name, org));
                let t = Some(table.name.as_str());
                self.up(
                    step,
                    format!("ALTER TABLE {name} ADD CONSTRAINT {check} CHECK ({col} IS NOT NULL) NOT VALID;"),
                    BRIEF,
                    None,
                );
                self.up(step, format!("ALTER TABLE {name} VALIDATE CONSTRAINT {check};"), VALIDATE, t);
                self.up(
                    step,
                    format!("ALTER TABLE {name} ALTER COLUMN {col} SET NOT NULL;"),
                    "ACCESS EXCLUSIVE (brief: the validated check proves it, no scan)",
                    None,
                );
                self.up(step, format!("ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {check};"), BRIEF, None);
                self.down(step, format!("ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {check};"));
                self.down(step, format!("ALTER TABLE {name} ALTER COLUMN {col} DROP NOT NULL;"));
            }
        }
        self.plan.steps[step].down.reverse();
    }

    /// Whether a unique constraint or valid unique index covers exactly `columns`.
    fn has_unique(&self, table: &str, columns: &[&str]) -> bool {
        self.catalog.indexes_of(table).any(|i| {
            i.unique && i.valid && !i.partial && i.columns.iter().map(String::as_str).eq(columns.iter().copied())
        })
    }

    fn has_index_leading(&self, table: &str, columns: &[&str]) -> bool {
        self.catalog.indexes_of(table).any(|i| {
            i.valid
                && !i.partial
                && i.columns.len() >= columns.len()
                && i.columns.iter().zip(columns).all(|(a, b)| a == b)
        })
    }

    /// A unique key built without blocking writes: index `CONCURRENTLY`, then the constraint on it.
    fn add_unique(&mut self, step: usize, table: &str, columns: &[&str]) {
        let name = names::unique(table, columns);
        let list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        self.up(
            step,
            format!(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({});",
                ident(&name),
                ident(table),
                list.join(", ")
            ),
            CONCURRENTLY,
            Some(table),
        );
        self.up(
            step,
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {};",
                ident(table),
                ident(&name),
                ident(&name)
            ),
            BRIEF,
            None,
        );
        // Pushed in up order: the step's down list is reversed as a whole.
        self.down(step, format!("DROP INDEX CONCURRENTLY IF EXISTS {};", ident(&name)));
        self.down(step, format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {};", ident(table), ident(&name)));
    }

    /// Drops a legacy constraint; `down` restores it from its definition.
    fn drop_constraint(&mut self, step: usize, table: &str, name: &str) {
        self.up(step, format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {};", ident(table), ident(name)), BRIEF, None);
        if let Some(definition) = self.live.constraint_definitions.get(&(table.to_owned(), name.to_owned())) {
            self.down(step, restore_constraint(table, name, definition));
        }
    }

    /// Adds foreign key `constraint` (named `wanted`) without blocking writes — `NOT VALID`, then
    /// `VALIDATE` — and then drops the legacy keys it replaces; `down` restores them. A legacy key
    /// that already has the name is renamed out of the way first.
    fn replace_foreign_key(
        &mut self,
        step: usize,
        table: &str,
        wanted: &str,
        constraint: &str,
        replaced: &[crate::catalog::Constraint],
    ) {
        let legacy = names::legacy(wanted);
        let clash = replaced.iter().any(|c| c.name == wanted);
        if clash {
            self.rename_constraint(step, table, wanted, &legacy);
        }
        let t = ident(table);
        self.up(step, format!("ALTER TABLE {t} ADD {constraint} NOT VALID;"), FK_ADD, None);
        self.up(step, format!("ALTER TABLE {t} VALIDATE CONSTRAINT {};", ident(wanted)), FK_VALIDATE, Some(table));
        self.down(step, format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {};", ident(wanted)));
        for fk in replaced {
            let current = if fk.name == wanted { legacy.clone() } else { fk.name.clone() };
            self.up(step, format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {};", ident(&current)), BRIEF, None);
            if let Some(definition) = self.live.constraint_definitions.get(&(table.to_owned(), fk.name.clone())) {
                self.down(step, restore_constraint(table, &current, definition));
            }
        }
    }

    /// Moves a legacy constraint out of the way of a new one with the same name.
    fn rename_constraint(&mut self, step: usize, table: &str, from: &str, to: &str) {
        let rename =
            |a: &str, b: &str| format!("ALTER TABLE {} RENAME CONSTRAINT {} TO {};", ident(table), ident(a), ident(b));
        self.up(step, rename(from, to), BRIEF, None);
        self.down(step, only_if(&constraint_exists(table, to), &rename(to, from)));
    }

    fn org_keys(&mut self) {
        let org = self.org();
        let root = self.schema.root();
        let step = self.step("org_keys", Mode::Statements);
        for table in self.existing_tenants() {
            let t = table.name.as_str();
            let key = table.key().name.as_str();
            // The (org, key) primary key, built as a unique index first: it is the target of the
            // composite foreign keys, and becomes the primary key in `primary_keys`.
            if self.primary_key(t).is_none_or(|pk| pk.columns != [org, key]) {
                let index = names::primary_key_replacement(t);
                self.up(
                    step,
                    format!(
                        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({}, {});",
                        ident(&index),
                        ident(t),
                        ident(org),
                        ident(key)
                    ),
                    CONCURRENTLY,
                    Some(t),
                );
                self.down(step, format!("DROP INDEX CONCURRENTLY IF EXISTS {};", ident(&index)));
            }
            // The org foreign key, ON DELETE CASCADE.
            let wanted_name = names::foreign_key(t, org);
            match self.org_fk(t) {
                Some(fk) if fk.on_delete.as_deref() == Some("c") => {
                    if !fk.validated {
                        self.up(
                            step,
                            format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", ident(t), ident(&fk.name)),
                            FK_VALIDATE,
                            Some(t),
                        );
                    }
                }
                existing => {
                    let constraint = format!(
                        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE CASCADE",
                        ident(&wanted_name),
                        ident(org),
                        ident(&root.name),
                        ident(&root.key().name)
                    );
                    let replaced: Vec<crate::catalog::Constraint> = existing.into_iter().cloned().collect();
                    self.replace_foreign_key(step, t, &wanted_name, &constraint, &replaced);
                }
            }
            // Declared unique keys, prefixed with the org column; the global ones they replace go.
            for unique in sql::unique_keys(table) {
                let scoped: Vec<&str> = std::iter::once(org).chain(unique.iter().copied()).collect();
                if !self.has_unique(t, &scoped) {
                    self.add_unique(step, t, &scoped);
                }
                let global: Vec<(String, bool)> = self
                    .catalog
                    .indexes_of(t)
                    .filter(|i| {
                        i.unique && !i.primary && i.columns.iter().map(String::as_str).eq(unique.iter().copied())
                    })
                    .map(|i| {
                        let is_constraint = self.catalog.constraints_of(t).any(|c| c.name == i.name);
                        (i.name.clone(), is_constraint)
                    })
                    .collect();
                for (name, is_constraint) in global {
                    if is_constraint {
                        self.drop_constraint(step, t, &name);
                    } else {
                        self.up(
                            step,
                            format!("DROP INDEX CONCURRENTLY IF EXISTS {};", ident(&name)),
                            CONCURRENTLY,
                            None,
                        );
                        self.plan.notes.push(format!(
                            "unique index {name} on {t} is replaced by an org-scoped one; revert does not recreate it"
                        ));
                    }
                }
            }
            // Indexes for the referencing columns, leading with the org column.
            for columns in sql::indexes(&self.schema.settings, table) {
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                if self.has_index_leading(t, &columns) || self.catalog.column(t, columns[columns.len() - 1]).is_none() {
                    continue;
                }
                let name = names::index(t, &columns);
                let list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
                self.up(
                    step,
                    format!(
                        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({});",
                        ident(&name),
                        ident(t),
                        list.join(", ")
                    ),
                    CONCURRENTLY,
                    Some(t),
                );
                self.down(step, format!("DROP INDEX CONCURRENTLY IF EXISTS {};", ident(&name)));
            }
        }
        self.plan.steps[step].down.reverse();
    }

    /// Declared references as foreign keys; between tenant tables composite, replacing plain ones.
    fn tenant_fks(&mut self) {
        let org = self.org();
        let step = self.step("tenant_fks", Mode::Statements);
        let existing: Vec<&str> = self.existing().iter().map(|t| t.name.as_str()).collect();
        for table in self.schema.tables_in_dependency_order() {
            let t = table.name.as_str();
            let is_new = !existing.contains(&t);
            for column in &table.columns {
                let Some(reference) = &column.references else { continue };
                // New tables got their keys to other new tables in `prepare`.
                if is_new && !existing.contains(&reference.table.as_str()) {
                    continue;
                }
                let target = self.schema.table(&reference.table).expect("validated reference");
                let composite = table.is_tenant() && target.is_tenant();
                let (from, to): (Vec<&str>, Vec<&str>) = if composite {
                    (vec![org, &column.name], vec![org, &reference.column])
                } else {
                    (vec![&column.name], vec![&reference.column])
                };
                let fks: Vec<crate::catalog::Constraint> = self
                    .catalog
                    .constraints_of(t)
                    .filter(|c| c.kind == ConstraintKind::ForeignKey && c.columns.contains(&column.name))
                    .map(|c| c.fact.clone())
                    .collect();
                let matching = fks.iter().find(|c| {
                    c.columns.iter().map(String::as_str).eq(from.iter().copied())
                        && c.ref_table.as_deref() == Some(target.name.as_str())
                        && c.ref_columns.iter().map(String::as_str).eq(to.iter().copied())
                });
                if let Some(fk) = matching {
                    if !fk.validated {
                        self.up(
                            step,
                            format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", ident(t), ident(&fk.name)),
                            FK_VALIDATE,
                            Some(t),
                        );
                    }
                    continue;
                }
                let wanted = names::foreign_key(t, &column.name);
                let constraint = sql::foreign_key_constraint(self.schema, table, column, reference);
                // The plain keys it replaces (same column, same parent).
                let replaced: Vec<crate::catalog::Constraint> =
                    fks.into_iter().filter(|c| c.ref_table.as_deref() == Some(target.name.as_str())).collect();
                self.replace_foreign_key(step, t, &wanted, &constraint, &replaced);
            }
        }
        self.plan.steps[step].down.reverse();
    }

    fn primary_key(&self, table: &str) -> Option<&'a crate::catalog::Constraint> {
        self.catalog.constraints_of(table).map(|c| &c.fact).find(|c| c.kind == ConstraintKind::PrimaryKey)
    }

    /// Swaps each tenant table's primary key for `(org, key)` in one statement (the table is never
    /// without one), once no plain foreign key depends on the old key.
    fn primary_keys(&mut self) {
        let org = self.org();
        let step = self.step("primary_keys", Mode::Statements);
        for table in self.existing_tenants() {
            let t = table.name.as_str();
            let key = table.key().name.as_str();
            let old = self.primary_key(t);
            if old.is_some_and(|pk| pk.columns == [org, key]) {
                continue;
            }
            let index = ident(&names::primary_key_replacement(t));
            let name = ident(&names::primary_key(t));
            let drop = old.map_or(String::new(), |pk| format!(" DROP CONSTRAINT {},", ident(&pk.name)));
            self.up(
                step,
                format!("ALTER TABLE {}{drop} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {index};", ident(t)),
                BRIEF,
                None,
            );
            // Back to the legacy key; CASCADE takes the composite foreign keys on it with it
            // (tenant_fks' down drops them anyway, and restores the plain ones).
            let mut down = format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {name} CASCADE;", ident(t));
            if let Some(pk) = old {
                let definition = self.live.constraint_definitions.get(&(t.to_owned(), pk.name.clone()));
                if let Some(definition) = definition {
                    down.push('\n');
                    down.push_str(&restore_constraint(t, &pk.name, definition));
                }
            }
            self.down(step, down);
        }
        self.plan.steps[step].down.reverse();
    }

    fn security(&mut self) {
        let settings = &self.schema.settings;
        let role = ident(&settings.app_role);
        let step = self.step("security", Mode::Statements);
        for table in self.schema.tables_in_dependency_order() {
            let t = table.name.as_str();
            let name = ident(t);
            // Tables created by `prepare` have none of it yet.
            let live = self.catalog.table(t).map(|row| &row.fact);
            let (rls_enabled, rls_forced) = live.map_or((false, false), |l| (l.rls_enabled, l.rls_forced));
            // The app role must not own what it is isolated from.
            if live.is_some_and(|l| l.app_role_owns == Some(true)) {
                self.up(step, format!("ALTER TABLE {name} OWNER TO CURRENT_USER;"), BRIEF, None);
                self.down(step, format!("ALTER TABLE {name} OWNER TO {role};"));
            }
            let wanted = sql::security(settings, table);
            let policy_name = names::policy(t);
            for statement in wanted {
                if statement.contains("ENABLE ROW LEVEL SECURITY") {
                    if !rls_enabled {
                        self.up(step, statement, BRIEF, None);
                        self.down(step, format!("ALTER TABLE {name} DISABLE ROW LEVEL SECURITY;"));
                    }
                } else if statement.contains("FORCE ROW LEVEL SECURITY") {
                    if !rls_forced {
                        self.up(step, statement, BRIEF, None);
                        self.down(step, format!("ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY;"));
                    }
                } else if statement.starts_with("CREATE POLICY") {
                    let ours = self.catalog.policies_of(t).find(|p| p.name == policy_name);
                    if ours.is_some() {
                        // Ours by name but not by content: replace it (down leaves ours out).
                        self.up(step, format!("DROP POLICY IF EXISTS {} ON {name};", ident(&policy_name)), BRIEF, None);
                    }
                    self.up(step, statement, BRIEF, None);
                    self.down(step, format!("DROP POLICY IF EXISTS {} ON {name};", ident(&policy_name)));
                    // Every other policy goes: another permissive one would widen ours.
                    let others: Vec<crate::catalog::Policy> =
                        self.catalog.policies_of(t).filter(|p| p.name != policy_name).map(|p| p.fact.clone()).collect();
                    for policy in others {
                        self.up(step, format!("DROP POLICY IF EXISTS {} ON {name};", ident(&policy.name)), BRIEF, None);
                        self.down(step, restore_policy(t, &policy));
                    }
                } else if statement.starts_with("CREATE TRIGGER") {
                    if self.catalog.triggers_of(t).any(|tr| tr.name == names::IMMUTABLE_TRIGGER) {
                        continue;
                    }
                    self.up(step, statement, TRIGGER, None);
                    self.down(step, format!("DROP TRIGGER IF EXISTS {} ON {name};", ident(names::IMMUTABLE_TRIGGER)));
                } else if statement.starts_with("GRANT") {
                    self.grants(step, table, &statement);
                }
            }
        }
        // The same policy replaced per table is idempotent only through the log; the rest of the
        // database: views over tenant tables and SECURITY DEFINER functions the app can call.
        let tenant_names: Vec<&str> =
            self.schema.tables.iter().filter(|t| t.scope != Scope::Global).map(|t| t.name.as_str()).collect();
        for view in self.catalog.views.iter() {
            if view.kind != "v" || !view.tables.iter().any(|t| tenant_names.contains(&t.as_str())) {
                continue;
            }
            if view.options.iter().any(|o| o == "security_invoker=true" || o == "security_invoker=on") {
                continue;
            }
            self.up(step, format!("ALTER VIEW {} SET (security_invoker = true);", ident(&view.name)), BRIEF, None);
            self.down(step, format!("ALTER VIEW {} RESET (security_invoker);", ident(&view.name)));
        }
        for function in self.catalog.functions.iter() {
            if function.security_definer && function.app_role_can_execute == Some(true) {
                let signature = format!("{}({})", ident(&function.name), function.arguments);
                self.up(step, format!("REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC, {role};"), NONE, None);
                self.down(step, format!("GRANT EXECUTE ON FUNCTION {signature} TO PUBLIC;"));
            }
        }
        // Tables nobody declared but the app role owns.
        for live in self.catalog.tables.iter() {
            if live.app_role_owns == Some(true) && self.schema.table(&live.name).is_none() {
                let name = ident(&live.name);
                self.up(step, format!("ALTER TABLE {name} OWNER TO CURRENT_USER;"), BRIEF, None);
                self.down(step, format!("ALTER TABLE {name} OWNER TO {role};"));
            }
        }
        self.plan.steps[step].down.reverse();
    }

    /// The declared grants, and revoking what the app role may do beyond them.
    fn grants(&mut self, step: usize, table: &Table, grant: &str) {
        let role = ident(&self.schema.settings.app_role);
        let name = ident(&table.name);
        let held: &[String] = self.live.app_privileges.get(&table.name).map_or(&[], Vec::as_slice);
        let wanted: Vec<&str> =
            ["SELECT", "INSERT", "UPDATE", "DELETE"].into_iter().filter(|p| grant.contains(p)).collect();
        let missing: Vec<&str> = wanted.iter().copied().filter(|p| !held.iter().any(|h| h == p)).collect();
        if !missing.is_empty() {
            self.up(step, grant.to_owned(), NONE, None);
            self.down(step, format!("REVOKE {} ON {name} FROM {role};", missing.join(", ")));
        }
        let extra: Vec<&str> = held.iter().map(String::as_str).filter(|p| !wanted.contains(p)).collect();
        if !extra.is_empty() {
            self.up(step, format!("REVOKE {} ON {name} FROM {role};", extra.join(", ")), NONE, None);
            self.down(step, format!("GRANT {} ON {name} TO {role};", extra.join(", ")));
        }
    }

    /// Records the workspace's own migrations as applied: the converted database is now in the
    /// state they lead to, so later migrations apply to it as to a fresh one.
    fn baseline(&mut self) {
        if self.options.baseline.is_empty() {
            return;
        }
        let step = self.step("baseline", Mode::Transaction);
        self.up(
            step,
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\n  version text PRIMARY KEY NOT NULL,\n  run_on timestamptz NOT NULL DEFAULT now()\n);"
                .to_owned(),
            NONE,
            None,
        );
        let versions: Vec<String> = self.options.baseline.iter().map(|v| format!("({})", literal(v))).collect();
        self.up(
            step,
            format!(
                "INSERT INTO __diesel_schema_migrations (version) VALUES {}\n  ON CONFLICT (version) DO NOTHING;",
                versions.join(", ")
            ),
            "ROW EXCLUSIVE (bookkeeping)",
            None,
        );
        let list: Vec<String> = self.options.baseline.iter().map(|v| literal(v)).collect();
        self.down(step, format!("DELETE FROM __diesel_schema_migrations WHERE version IN ({});", list.join(", ")));
    }

    fn notes(&mut self) {
        for live in self.catalog.tables.iter() {
            if self.schema.table(&live.name).is_none() {
                self.plan.notes.push(format!(
                    "table {} is not declared: left as it is (declare it, or drop it yourself)",
                    live.name
                ));
            }
        }
        for table in self.existing() {
            for column in self.catalog.columns_of(&table.name) {
                let declared = table.column(&column.name);
                if let Some(declared) = declared
                    && declared.ty.sql_name() != column.ty
                {
                    self.plan.notes.push(format!(
                        "{}.{} is {} but declared {}: changing a column's type rewrites the table, so the plan leaves it",
                        table.name,
                        column.name,
                        column.ty,
                        declared.ty.sql_name()
                    ));
                } else if declared.is_none() && !(table.is_tenant() && column.name == self.org()) {
                    self.plan
                        .notes
                        .push(format!("{}.{} is not declared: kept (it holds data)", table.name, column.name));
                }
            }
        }
        for view in self.catalog.views.iter() {
            if view.kind == "m" {
                self.plan.notes.push(format!(
                    "materialized view {} cannot be isolated by row-level security; replace it with a view or a tenant table",
                    view.name
                ));
            }
        }
    }
}

/// Re-adds a dropped constraint unless one of that name exists (a partly applied step).
fn restore_constraint(table: &str, name: &str, definition: &str) -> String {
    let add = format!("ALTER TABLE {} ADD CONSTRAINT {} {definition};", ident(table), ident(name));
    only_if(&format!("NOT {}", constraint_exists(table, name)), &add)
}

/// `EXISTS (...)` of constraint `name` on `table`.
fn constraint_exists(table: &str, name: &str) -> String {
    format!(
        "EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = {}::regclass AND conname = {})",
        literal(&ident(table)),
        literal(name)
    )
}

/// Runs `statement` (ending in `;`) only when `condition` holds: down statements that must work
/// on a partly applied (or partly reverted) step.
fn only_if(condition: &str, statement: &str) -> String {
    format!("DO $tenancy$ BEGIN\n  IF {condition} THEN\n    {statement}\n  END IF;\nEND $tenancy$;")
}

fn restore_policy(table: &str, policy: &crate::catalog::Policy) -> String {
    let command = match policy.command.as_str() {
        "r" => "SELECT",
        "a" => "INSERT",
        "w" => "UPDATE",
        "d" => "DELETE",
        _ => "ALL",
    };
    let roles: Vec<String> =
        policy.roles.iter().map(|r| if r == "public" { "PUBLIC".to_owned() } else { ident(r) }).collect();
    let mut create = format!(
        "CREATE POLICY {} ON {} AS {} FOR {command} TO {}",
        ident(&policy.name),
        ident(table),
        if policy.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
        roles.join(", ")
    );
    if let Some(using) = &policy.using {
        let _ = write!(create, " USING ({using})");
    }
    if let Some(check) = &policy.with_check {
        let _ = write!(create, " WITH CHECK ({check})");
    }
    let exists = format!(
        "EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = {}::regclass AND polname = {})",
        literal(&ident(table)),
        literal(&policy.name)
    );
    only_if(&format!("NOT {exists}"), &format!("{create};"))
}

/// The header of every generated conversion file.
fn header(step: &Step, options: &Options, down: bool) -> String {
    let session = if step.mode == Mode::Transaction { "SET LOCAL" } else { "SET" };
    let statement_timeout = match (&step.mode, down) {
        (Mode::Transaction, _) => "1min",
        // VALIDATE and CREATE INDEX CONCURRENTLY read whole tables without blocking writes.
        _ => "6h",
    };
    format!(
        "-- Generated by `tenancy-migrate plan` from the live database and the tenancy declaration. Do not edit by hand.\n\
         -- {}{}\n\
         {session} lock_timeout = {};\n\
         {session} statement_timeout = '{statement_timeout}';\n",
        step.name,
        if down { " (down)" } else { "" },
        literal(&options.lock_timeout),
    )
}

/// The files of one step: `up.sql` (each statement under a comment naming its lock and rows),
/// `down.sql`, `metadata.toml`.
pub fn files(step: &Step, options: &Options) -> Vec<(&'static str, String)> {
    let mut up = header(step, options, false);
    if let Mode::Backfill(spec) = &step.mode {
        let _ = writeln!(
            up,
            "-- tenancy-migrate apply runs this backfill in batches of {} rows, one transaction each, resumable.\n\
             -- Any other runner runs the statement below in one transaction (correct, but it locks every row until done).\n\
             {}{}",
            options.batch_size,
            backfill::MARKER,
            serde_json::to_string(spec).expect("specs serialize")
        );
    }
    for statement in &step.up {
        let rows = statement.rows.map_or(String::new(), |r| format!(", ~{r} rows"));
        let _ = write!(up, "\n-- lock: {}{rows}\n{}\n", statement.lock, statement.sql);
    }
    let mut down = header(step, options, true);
    for statement in &step.down {
        let _ = write!(down, "\n{statement}\n");
    }
    let in_transaction = step.mode == Mode::Transaction;
    vec![("up.sql", up), ("down.sql", down), ("metadata.toml", format!("run_in_transaction = {in_transaction}\n"))]
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
    // Written next to `dir`, then renamed: a failed run leaves no half-written plan.
    let temporary = dir.with_file_name(format!(
        ".{}.tmp-{}",
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&temporary);
    for step in &plan.steps {
        let step_dir = temporary.join(&step.name);
        std::fs::create_dir_all(&step_dir).map_err(error("create"))?;
        for (file, text) in files(step, options) {
            std::fs::write(step_dir.join(file), text).map_err(error("write"))?;
        }
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(error("replace"))?;
    }
    std::fs::create_dir_all(&temporary).map_err(error("create"))?;
    std::fs::rename(&temporary, dir).map_err(error("write"))
}

/// The dry run: every statement with its lock and estimated rows.
pub fn render_dry_run(plan: &Plan, options: &Options) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        let how = match &step.mode {
            Mode::Transaction => "one transaction".to_owned(),
            Mode::Statements => "each statement its own transaction".to_owned(),
            Mode::Backfill(_) => format!("batches of {} rows, one transaction each", options.batch_size),
        };
        let _ = writeln!(out, "== {} ({how})", step.name);
        for statement in &step.up {
            let rows = statement.rows.map_or("-".to_owned(), |r| format!("~{r}"));
            let _ =
                writeln!(out, "  [{} | rows {rows}]\n    {}", statement.lock, statement.sql.replace('\n', "\n    "));
        }
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
