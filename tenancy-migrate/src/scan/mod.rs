//! scan: compare the live database with the declaration.
//!
//! One pass: read the catalog ([`crate::catalog`], a constant number of queries), optionally run
//! the data checks ([`data`], one counting query per tenant table), then hand both to every check
//! in [`checks`] — one file per check, each a pure function of the [`Context`] that pushes
//! findings. Every finding carries the query that decided it and what that query returned.
//! Everything runs in one READ ONLY transaction: a scan cannot change the database.

pub mod checks;
pub mod data;
pub mod human;
use policy::Side;
pub(crate) use tenancy_codegen::catalog::policy;

use crate::catalog::{self, Catalog};
use crate::error::{Error, Result};
use diesel::{PgConnection, RunQueryDsl};
use std::collections::BTreeSet;
use tenancy_schema::report::{
    Coverage, DatabaseInfo, Evidence, Finding, REPORT_SCHEMA_VERSION, Report, Severity, Summary,
};
use tenancy_schema::{Schema, Scope, Table};

/// Tables the tooling itself keeps; never reported as drift.
pub const INTERNAL_TABLES: &[&str] = &["__diesel_schema_migrations"];

#[derive(Debug, Clone)]
pub struct Options {
    /// The PostgreSQL schema to scan.
    pub schema: String,
    /// Run the data checks (NULL / orphan / cross-organization rows).
    pub data: bool,
    /// Cache keys of findings to leave out (suppressions).
    pub ignore: BTreeSet<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options { schema: "public".to_owned(), data: true, ignore: BTreeSet::new() }
    }
}

/// A check's stable identity: its code, how bad it is, and its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub category: &'static str,
}

impl Code {
    /// A finding of this code. `detail` distinguishes several findings on the same table/column
    /// (a policy or constraint name) in the cache key.
    pub(crate) fn finding(
        &self,
        on: On<'_>,
        message: impl Into<String>,
        remediation: impl Into<String>,
        evidence: Evidence,
    ) -> Finding {
        let mut cache_key = self.code.to_owned();
        for part in [on.table, on.column, on.detail].into_iter().flatten() {
            cache_key.push(':');
            cache_key.push_str(part);
        }
        Finding {
            code: self.code.to_owned(),
            severity: self.severity,
            category: self.category.to_owned(),
            table: on.table.map(str::to_owned),
            column: on.column.map(str::to_owned),
            message: message.into(),
            remediation: remediation.into(),
            evidence,
            cache_key,
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct On<'a> {
    pub table: Option<&'a str>,
    pub column: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> On<'a> {
    pub fn table(table: &'a str) -> On<'a> {
        On { table: Some(table), ..On::default() }
    }
    pub fn column(table: &'a str, column: &'a str) -> On<'a> {
        On { table: Some(table), column: Some(column), detail: None }
    }
    pub fn detail(mut self, detail: &'a str) -> On<'a> {
        self.detail = Some(detail);
        self
    }
    pub fn global(detail: &'a str) -> On<'a> {
        On { detail: Some(detail), ..On::default() }
    }
}

/// What every check reads: the declaration, the catalog, and the data facts.
/// The declared tables by name, for the lookups a scan makes per table (`Schema::table` is a
/// linear search: a check that asks it for every table is quadratic at fleet size).
pub struct Declared<'a> {
    pub schema: &'a Schema,
    by_name: std::collections::HashMap<&'a str, &'a Table>,
}

impl<'a> Declared<'a> {
    pub fn new(schema: &'a Schema) -> Declared<'a> {
        Declared { schema, by_name: schema.tables.iter().map(|t| (t.name.as_str(), t)).collect() }
    }

    pub fn table(&self, name: &str) -> Option<&'a Table> {
        self.by_name.get(name).copied()
    }
}

pub struct Context<'a> {
    pub schema: &'a Schema,
    pub declared: Declared<'a>,
    pub catalog: &'a Catalog,
    /// One entry per tenant table the data checks ran on; empty with `--no-data`.
    pub data: &'a [data::TableData],
    /// Tenant tables the data checks could not run on honestly (the scanning role is subject to
    /// their row-level security); empty with `--no-data`.
    pub data_blocked: &'a [String],
    /// Undeclared tables the app role can read that have the org column, looked into; empty
    /// with `--no-data`.
    pub undeclared: &'a [data::Undeclared],
    /// On a Citus coordinator, where the tables are on the cluster.
    pub citus: Option<&'a crate::citus::Facts>,
}

/// A declared table that must be isolated by organization and exists in the database: tenant
/// tables (by the org column) and the root (by its key).
pub struct Scoped<'a> {
    pub table: &'a Table,
    pub db: &'a catalog::Row<catalog::Table>,
    /// The column compared with the claim; present in the database.
    pub org_column: &'a str,
}

impl<'a> Context<'a> {
    pub fn org_column(&self) -> &'a str {
        &self.schema.settings.org_column
    }

    pub fn app_role(&self) -> &'a str {
        &self.schema.settings.app_role
    }

    /// Declared tenant tables that exist in the database, with their catalog row.
    pub fn tenant_tables(&self) -> impl Iterator<Item = (&'a Table, &'a catalog::Row<catalog::Table>)> + 'a {
        let catalog = self.catalog;
        self.schema
            .tables
            .iter()
            .filter(|t| t.is_tenant())
            .filter_map(move |t| catalog.table(&t.name).map(|db| (t, db)))
    }

    /// Declared shared tables that exist, with their link.
    pub fn shared_tables(&self) -> impl Iterator<Item = (&'a Table, &'a tenancy_schema::Link)> + 'a {
        let catalog = self.catalog;
        self.schema
            .tables
            .iter()
            .filter(move |t| t.scope == Scope::Shared && catalog.table(&t.name).is_some())
            .filter_map(|t| t.link.as_ref().map(|l| (t, l)))
    }

    /// Declared root, tenant and shared tables that exist (RLS must be on for all of them).
    pub fn isolated_tables(&self) -> impl Iterator<Item = (&'a Table, &'a catalog::Row<catalog::Table>)> + 'a {
        let catalog = self.catalog;
        self.schema
            .tables
            .iter()
            .filter(|t| t.scope.is_isolated())
            .filter_map(move |t| catalog.table(&t.name).map(|db| (t, db)))
    }

    /// Root and tenant tables whose organization column exists: the ones the org-column-based
    /// checks apply to (a missing column is reported once, by `org-id-missing`, not by every check).
    pub fn scoped_tables(&self) -> impl Iterator<Item = Scoped<'a>> + 'a {
        let catalog = self.catalog;
        let org_column = self.org_column();
        self.isolated_tables().filter(|(t, _)| t.scope != Scope::Shared).filter_map(move |(table, db)| {
            let column = if table.is_tenant() { org_column } else { table.key().name.as_str() };
            catalog.column(&table.name, column).map(|_| Scoped { table, db, org_column: column })
        })
    }

    /// Scoped tenant tables only (no root).
    pub fn scoped_tenant_tables(&self) -> impl Iterator<Item = Scoped<'a>> + 'a {
        self.scoped_tables().filter(|s| s.table.is_tenant())
    }

    /// The foreign key `(org_column) → root(key)` of a table, if any.
    pub fn org_foreign_key(&self, table: &str, org_column: &str) -> Option<&'a catalog::Row<catalog::Constraint>> {
        let root = self.schema.root();
        self.catalog.org_foreign_key(table, org_column, &root.name, &root.key().name)
    }

    /// Whether a policy applies to the app role (granted to it or to PUBLIC).
    pub fn applies_to_app(&self, policy: &catalog::Policy) -> bool {
        policy.roles.iter().any(|r| r == "public" || r == self.app_role())
    }

    /// Whether a restrictive, org-scoped policy for the app role governs `side` of `table`.
    pub fn restricted(&self, table: &str, org: &str, side: Side) -> bool {
        self.catalog.policies_of(table).any(|p| {
            !p.permissive
                && self.applies_to_app(p)
                && policy::sides(p).contains(&side)
                && policy::expression(p, side).is_some_and(|e| policy::org_scoped(e, org))
        })
    }

    /// The sides of a permissive app-role policy that are not org-scoped (and not covered by a
    /// restrictive policy).
    pub fn open_sides(&self, p: &catalog::Policy, org: &str) -> Vec<Side> {
        if !p.permissive || !self.applies_to_app(p) {
            return Vec::new();
        }
        policy::sides(p)
            .iter()
            .copied()
            .filter(|&side| {
                let scoped = policy::expression(p, side).is_some_and(|e| policy::org_scoped(e, org));
                !scoped && !self.restricted(&p.table, org, side)
            })
            .collect()
    }

    /// Whether `p` is a permissive write policy of the app role with a `true` side left open.
    pub fn always_true_write(&self, p: &catalog::Policy, org: &str) -> bool {
        policy::writes(p)
            && self
                .open_sides(p, org)
                .into_iter()
                .any(|side| policy::expression(p, side).is_some_and(policy::always_true))
    }

    /// The declared root and tenant tables a view reads.
    pub fn isolated_tables_read_by(&self, view: &'a catalog::View) -> Vec<&'a str> {
        view.tables
            .iter()
            .map(String::as_str)
            .filter(|t| self.declared.table(t).is_some_and(|t| t.scope != Scope::Global))
            .collect()
    }
}

/// The declared global expression key an index is (`unique_global(expr = "lower(email)")`):
/// the index's one key is that expression.
pub fn global_expression<'t>(
    table: &'t tenancy_schema::Table,
    columns: &[String],
) -> Option<&'t tenancy_schema::ir::UniqueExpression> {
    let [expression] = columns else { return None };
    table.unique_expressions.iter().find(|e| e.global && expression.starts_with('(') && e.matches(expression))
}

/// Runs the scan: catalog, data checks, every check; returns the report.
///
/// Every statement runs in a READ ONLY transaction: the catalog in one, the data checks in as
/// many as keep each within `max_locks_per_transaction` (`data.rs`).
pub fn scan(conn: &mut PgConnection, declaration: &Schema, options: &Options) -> Result<Report> {
    // The schema scanned (`Options::schema`, its first name) is the declaration's own for this run.
    let own = options.schema.split(',').next().unwrap_or_default();
    let moved;
    let declaration = if own != declaration.settings.schema {
        let mut copy = declaration.clone();
        copy.settings.schema = own.to_owned();
        moved = copy;
        &moved
    } else {
        declaration
    };
    let catalog = conn.build_transaction().read_only().run(|conn| {
        // The catalog queries are short; compiling them (JIT, on by default) costs more than it
        // saves once a schema has thousands of constraints.
        diesel::RunQueryDsl::execute(diesel::sql_query("SET LOCAL jit = off"), conn)
            .map_err(|err| Error::query("turning JIT off for the catalog queries", err))?;
        crate::catalog::load(conn, &options.schema, &declaration.settings.app_role)
    })?;
    let pass = if options.data { data::run(conn, declaration, &catalog)? } else { data::DataPass::default() };
    let citus = if crate::citus::is_citus(conn)? { Some(crate::citus::facts(conn, declaration)?) } else { None };
    {
        let cx = Context {
            schema: declaration,
            declared: Declared::new(declaration),
            catalog: &catalog,
            data: &pass.tables,
            data_blocked: &pass.blocked,
            undeclared: &pass.undeclared,
            citus: citus.as_ref(),
        };
        let mut findings = Vec::new();
        for check in checks::ALL {
            (check.run)(&cx, &mut findings);
        }
        findings.retain(|f| !options.ignore.contains(&f.cache_key));
        findings.sort_by(|a, b| {
            (a.table.is_none(), &a.table, std::cmp::Reverse(a.severity), &a.code, &a.cache_key).cmp(&(
                b.table.is_none(),
                &b.table,
                std::cmp::Reverse(b.severity),
                &b.code,
                &b.cache_key,
            ))
        });
        Ok(report(&cx, findings))
    }
}

fn report(cx: &Context<'_>, findings: Vec<Finding>) -> Report {
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count() as u32;
    let tenant_total = cx.schema.tables.iter().filter(|t| t.is_tenant()).count() as u32;
    let enabled = cx.tenant_tables().filter(|(_, db)| db.rls_enabled).count() as u32;
    let declared = cx.schema.tables.len() as u32;
    // A declared table complies when it exists and no error or warning is about it.
    let compliant = cx
        .schema
        .tables
        .iter()
        .filter(|t| cx.catalog.table(&t.name).is_some())
        .filter(|t| !findings.iter().any(|f| f.table.as_deref() == Some(&t.name) && f.severity >= Severity::Warn))
        .count();
    let compliance_percent =
        if declared == 0 { 100.0 } else { (compliant as f64 * 1000.0 / declared as f64).round() / 10.0 };
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool: format!("tenancy-migrate {}", env!("CARGO_PKG_VERSION")),
        database: DatabaseInfo {
            name: cx.catalog.session.database.clone(),
            server_version: cx.catalog.session.server_version.clone(),
        },
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        summary: Summary {
            tables_scanned: cx.catalog.tables.iter().filter(|t| !INTERNAL_TABLES.contains(&t.name.as_str())).count()
                as u32,
            declared_tables: declared,
            errors: count(Severity::Error),
            warnings: count(Severity::Warn),
            infos: count(Severity::Info),
            rls_coverage: Coverage { enabled, total: tenant_total },
            compliance_percent,
        },
        findings,
        verify: None,
    }
}

/// Runs a query and returns its rows as JSON text (the same form as catalog rows).
pub(crate) fn json_rows(conn: &mut PgConnection, sql: &str, doing: &str) -> Result<Vec<String>> {
    let rows = diesel::sql_query(catalog::as_rows(sql))
        .load::<catalog::JsonRow>(conn)
        .map_err(|err| Error::query(doing, err))?;
    Ok(rows.into_iter().map(|r| r.row).collect())
}

/// `1 row`, `2 rows`.
pub(crate) fn rows(n: i64) -> String {
    if n == 1 { "1 row".to_owned() } else { format!("{n} rows") }
}

/// Whether a finding at this severity fails a run with `--fail-on threshold`.
pub fn fails(report: &Report, threshold: Severity) -> bool {
    report.findings.iter().any(|f| f.severity >= threshold)
}

#[cfg(test)]
pub(crate) mod testing;
