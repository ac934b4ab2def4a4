//! The data checks' queries: per tenant table, ONE counting pass answers all three questions —
//! rows with a NULL organization, rows whose organization does not exist, and rows whose parent
//! (through each declared reference to another tenant table) belongs to another organization.
//! Up to five sample keys are fetched only for a question whose count is not zero. A NOT NULL
//! org column answers the first question (PostgreSQL enforces it always). A foreign key marked
//! validated answers nothing: rows restored with triggers disabled (`pg_restore
//! --disable-triggers`, `session_replication_role = replica`) break it while the catalog still
//! says `convalidated`, so orphans and cross-organization parents are always counted.
//!
//! Runs with `row_security = off`: if the scanning role were subject to a table's row-level
//! security, PostgreSQL raises an error instead of silently returning filtered counts. Tables
//! where that would happen are not queried; `data-unverified` reports them.

mod batches;

use super::{Declared, json_rows};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use batches::{batches, lock_budget};
use diesel::{PgConnection, RunQueryDsl};
use serde::Deserialize;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::Evidence;
use tenancy_schema::{Schema, Scope, Table};

/// How many offending keys a finding shows.
pub const SAMPLES: usize = 5;

/// Below this many (estimated) rows a table's counting query looks up each row's organization
/// and parent (`NOT EXISTS`); planning it takes ~0.07 ms against ~1 ms for the grouped joins,
/// which are faster per row (a hash join, in parallel) on large tables.
const SMALL_TABLE: i64 = 10_000;

/// What the data checks found in one table.
#[derive(Debug, Clone)]
pub struct TableData {
    pub table: String,
    /// The counting query and its result row (JSON).
    pub sql: String,
    pub result: String,
    pub null_org: Problem,
    /// None when the root table or its key is missing (nothing to compare with).
    pub orphan_org: Option<Problem>,
    pub parents: Vec<ParentProblem>,
}

/// An undeclared table the app role can read that has the org column: whether it holds rows of
/// some organization (which every organization can then read).
#[derive(Debug, Clone)]
pub struct Undeclared {
    pub table: String,
    pub holds_rows: bool,
    pub sql: String,
    pub result: String,
}

/// A count and, when it is not zero, the query for samples and what it returned.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    pub rows: i64,
    pub samples: Vec<String>,
    pub sample_sql: Option<String>,
}

impl TableData {
    /// The evidence of a data finding: the counting query, and the sampling query when it ran.
    pub fn evidence(&self, problem: &Problem) -> Evidence {
        let mut sql = format!("{};", self.sql);
        let mut result = self.result.clone();
        if let Some(sample_sql) = &problem.sample_sql {
            sql.push_str(&format!("\n{sample_sql};"));
            result.push_str(&format!("\nkeys: {}", problem.samples.join(", ")));
        }
        Evidence { sql, result }
    }
}

impl Problem {
    /// ` (e.g. keys 1, 2, 3)`, or nothing.
    pub fn samples_shown(&self) -> String {
        if self.samples.is_empty() { String::new() } else { format!(" (e.g. keys {})", self.samples.join(", ")) }
    }
}

#[derive(Debug, Clone)]
pub struct ParentProblem {
    pub column: String,
    pub parent: String,
    pub problem: Problem,
}

struct Plan<'a> {
    table: &'a Table,
    org: String,
    key: String,
    /// The parents' qualified names, parallel to `parents`.
    parents_from: Vec<String>,
    from: String,
    root: Option<(String, String)>,
    /// The org column and the root key have the same type: compared as they are (an index
    /// lookup), not as text.
    root_typed: bool,
    parents: Vec<(String, String, String)>,
    /// Estimated at fewer than [`SMALL_TABLE`] rows: counted row by row (lookups), which
    /// PostgreSQL plans in a tenth of the time of the grouped joins that large tables need.
    small: bool,
    /// Whether the organizations table, and each parent (parallel to `parents`), is estimated
    /// at fewer than [`SMALL_TABLE`] rows: then a row's lookup is a probe of a hash PostgreSQL
    /// builds once (`NOT IN`), else an index lookup per row (`NOT EXISTS`).
    small_root: bool,
    small_parents: Vec<bool>,
    /// Every table its query reads (the table, the organizations table, parents): what it locks.
    touched: Vec<String>,
}

/// What the data pass found.
#[derive(Debug, Clone, Default)]
pub struct DataPass {
    /// One entry per tenant table the data checks ran on.
    pub tables: Vec<TableData>,
    /// Tenant tables skipped because the scanning role is subject to their RLS.
    pub blocked: Vec<String>,
    /// Undeclared tables the app role can read that have the org column.
    pub undeclared: Vec<Undeclared>,
}

/// Runs the data checks on every declared tenant table that has its org column, and looks into
/// the undeclared tables the app role can read that have it.
pub fn run(conn: &mut PgConnection, schema: &Schema, catalog: &Catalog) -> Result<DataPass> {
    let declared = Declared::new(schema);
    let session = &catalog.session;
    let exempt = session.superuser || session.bypass_rls;
    let org_column = &schema.settings.org_column;
    let mut plans = Vec::new();
    let mut blocked = Vec::new();
    let mut unreadable = Vec::new();
    for table in schema.tables.iter().filter(|t| t.is_tenant()) {
        let Some(db) = catalog.table(&table.name) else { continue };
        if catalog.column(&table.name, org_column).is_none() {
            continue;
        }
        if !db.readable {
            unreadable.push(table.name.clone());
            continue;
        }
        // Owners are exempt from their table's policies unless RLS is forced.
        let subject = db.rls_enabled && !exempt && (db.rls_forced || db.owner != session.role);
        if subject {
            blocked.push(table.name.clone());
            continue;
        }
        if let Some(plan) = plan(&declared, catalog, table) {
            plans.push(plan);
        }
    }
    if !unreadable.is_empty() {
        return Err(Error::DataPermission { tables: unreadable.join(", ") });
    }
    let budget = lock_budget(conn)?;
    let locks = |table: &str| 1 + catalog.indexes_of(table).count();
    let copies = readable_copies(&declared, catalog);
    read_only(conn, |conn| {
        let mut tables = Vec::new();
        for batch in batches(&plans, |p| p.touched.iter().map(String::as_str).collect(), locks, budget) {
            let counted = count_batch(conn, batch)?;
            for (p, result) in batch.iter().zip(counted) {
                tables.push(execute(conn, p, result)?);
            }
        }
        let mut undeclared = Vec::new();
        for batch in batches(&copies, |t| vec![*t], locks, budget) {
            undeclared.extend(
                batch
                    .iter()
                    .map(|table| {
                        // One row is enough: any organization's row is readable by every other one.
                        let sql = format!(
                            "SELECT EXISTS (SELECT FROM {} WHERE {} IS NOT NULL) AS holds_rows",
                            qualified(&declared, catalog, table),
                            ident(org_column)
                        );
                        let rows = json_rows(conn, &sql, &format!("looking into the undeclared table {table}"))?;
                        let result = rows.first().cloned().unwrap_or_default();
                        Ok(Undeclared { table: (*table).to_owned(), holds_rows: result.contains("true"), sql, result })
                    })
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        Ok(DataPass { tables, blocked, undeclared })
    })
}

/// Every statement its own READ ONLY transaction (`default_transaction_read_only`), with
/// `row_security = off` (so that a policy that would filter the counts raises an error instead):
/// a batch of tables is one statement, one round trip, and holds its locks only while it runs.
fn read_only<T>(conn: &mut PgConnection, body: impl FnOnce(&mut PgConnection) -> Result<T>) -> Result<T> {
    crate::db::with_settings(conn, &[("row_security", "off"), ("default_transaction_read_only", "on")], body)
}

/// Undeclared tables with the org column that the app role can read (granted SELECT), that the
/// scanning role can read, and whose row-level security is not on.
pub fn readable_copies<'c>(declared: &Declared<'_>, catalog: &'c Catalog) -> Vec<&'c str> {
    let org_column = &declared.schema.settings.org_column;
    catalog
        .tables
        .iter()
        .filter(|t| declared.table(&t.name).is_none() && !super::INTERNAL_TABLES.contains(&t.name.as_str()))
        .filter(|t| !t.rls_enabled && t.readable && catalog.column(&t.name, org_column).is_some())
        .filter(|t| catalog.grant(crate::catalog::GrantKind::Table, &t.name).is_some_and(|g| g.has("SELECT")))
        .map(|t| t.name.as_str())
        .collect()
}

/// Whether a validated foreign key of `table` maps each `(column, target)` pair onto `parent`:
/// PostgreSQL then guarantees every row satisfies it, and no query is needed.
/// What to count in one table: NULL organizations unless the org column is NOT NULL; orphan
/// organizations and parents in another organization always (see the module's note on
/// validated foreign keys). None when there is nothing to ask.
fn plan<'a>(declared: &Declared<'a>, catalog: &Catalog, table: &'a Table) -> Option<Plan<'a>> {
    let schema = declared.schema;
    let qualified = |name: &str| qualified(declared, catalog, name);
    let org_column = &schema.settings.org_column;
    let root = schema.root();
    let root_key = &root.key().name;
    let nullable = catalog.column(&table.name, org_column).is_some_and(|c| !c.not_null);
    let root = catalog.column(&root.name, root_key).map(|_| (qualified(&root.name), ident(root_key)));
    // Sample keys: the declared key when it exists (a row of its columns when there are
    // several), else the physical row address.
    let key = catalog.row_key(&table.name, &table.key_names(), "t");
    let parents = table
        .columns
        .iter()
        .filter_map(|c| c.references.as_ref().map(|r| (c, r)))
        .filter(|(c, r)| {
            declared.table(&r.table).is_some_and(|p| p.scope == Scope::Tenant)
                && comparable(catalog, (&table.name, &c.name), (&r.table, &r.column))
                && comparable(catalog, (&table.name, org_column), (&r.table, org_column))
        })
        .map(|(c, r)| (c.name.clone(), r.table.clone(), r.column.clone()))
        .collect::<Vec<_>>();
    if !nullable && root.is_none() && parents.is_empty() {
        return None;
    }
    let mut touched = vec![table.name.clone()];
    touched.extend(root.as_ref().map(|_| schema.root().name.clone()));
    touched.extend(parents.iter().map(|(_, parent, _)| parent.clone()));
    let root_typed = comparable(catalog, (&table.name, org_column), (&schema.root().name, root_key));
    let small_table = |name: &str| catalog.table(name).is_some_and(|t| (0..SMALL_TABLE).contains(&t.estimated_rows));
    let small = catalog.table(&table.name).is_some_and(|t| t.estimated_rows < SMALL_TABLE);
    let small_parents = parents.iter().map(|(_, parent, _)| small_table(parent)).collect();
    Some(Plan {
        table,
        org: ident(org_column),
        key,
        parents_from: parents.iter().map(|(_, parent, _)| qualified(parent)).collect(),
        from: qualified(&table.name),
        root,
        root_typed,
        parents,
        small,
        small_root: small_table(&schema.root().name),
        small_parents,
        touched,
    })
}

/// Whether both columns exist and can be compared with `=` (same type, or both integers);
/// mistyped columns are reported by the drift checks instead.
fn comparable(catalog: &Catalog, (t1, c1): (&str, &str), (t2, c2): (&str, &str)) -> bool {
    const INTEGERS: [&str; 3] = ["smallint", "integer", "bigint"];
    match (catalog.column(t1, c1), catalog.column(t2, c2)) {
        (Some(a), Some(b)) => a.ty == b.ty || (INTEGERS.contains(&a.ty.as_str()) && INTEGERS.contains(&b.ty.as_str())),
        _ => false,
    }
}

fn count_sql(plan: &Plan<'_>) -> String {
    if plan.small {
        return lookup_count_sql(plan);
    }
    let org = &plan.org;
    let mut grouped = vec![format!("t.{org} AS org"), "count(*) AS n".to_owned()];
    let mut joins = String::new();
    for (i, (column, _, target)) in plan.parents.iter().enumerate() {
        let p = format!("p{i}");
        grouped.push(format!(
            "count(*) FILTER (WHERE t.{col} IS NOT NULL AND {p}.{target} IS NULL) AS {p}",
            col = ident(column),
            target = ident(target),
        ));
        joins.push_str(&format!(
            "\n    LEFT JOIN {} {p} ON {p}.{} = t.{} AND {p}.{org} = t.{org}",
            plan.parents_from[i],
            ident(target),
            ident(column),
        ));
    }
    let mut totals = vec!["coalesce(sum(g.n) FILTER (WHERE g.org IS NULL), 0)::bigint AS null_org".to_owned()];
    let root_join = match &plan.root {
        Some((root, key)) => {
            totals.push(
                "coalesce(sum(g.n) FILTER (WHERE g.org IS NOT NULL AND o.key IS NULL), 0)::bigint AS orphan_org"
                    .to_owned(),
            );
            // Compared as text: a mistyped org column is reported separately, not a crash here.
            format!("\nLEFT JOIN (SELECT {key}::text AS key FROM {root}) o ON o.key = g.org::text")
        }
        None => String::new(),
    };
    for (i, (column, ..)) in plan.parents.iter().enumerate() {
        totals.push(format!("coalesce(sum(g.p{i}), 0)::bigint AS {}", ident(&outside_key(column))));
    }
    format!(
        "WITH g AS (\n  SELECT {}\n  FROM {} t{joins}\n  GROUP BY t.{org}\n)\nSELECT {}\nFROM g{root_join}",
        grouped.join(", "),
        plan.from,
        totals.join(", "),
    )
}

/// The counting row of a small table: each row's organization and parents looked up. The
/// `NOT IN` forms say what the `NOT EXISTS` ones say (the samples' conditions): the values
/// compared are not NULL on either side, so `NOT IN` is never unknown.
fn lookup_count_sql(plan: &Plan<'_>) -> String {
    let org = &plan.org;
    let mut counts = vec![format!("count(*) FILTER (WHERE t.{org} IS NULL) AS null_org")];
    if let Some((root, key)) = &plan.root {
        // Compared as text when the types differ: a mistyped org column is reported
        // separately, not a crash here.
        let cast = if plan.root_typed { "" } else { "::text" };
        let missing = match plan.small_root {
            true => format!("t.{org}{cast} NOT IN (SELECT o.{key}{cast} FROM {root} o WHERE o.{key} IS NOT NULL)"),
            false => format!("NOT EXISTS (SELECT FROM {root} o WHERE o.{key}{cast} = t.{org}{cast})"),
        };
        counts.push(format!("count(*) FILTER (WHERE t.{org} IS NOT NULL AND {missing}) AS orphan_org"));
    }
    for (i, (column, _, target)) in plan.parents.iter().enumerate() {
        let (col, parent, target) = (ident(column), &plan.parents_from[i], ident(target));
        let outside = match plan.small_parents[i] {
            true => format!(
                "(t.{org} IS NULL OR (t.{col}, t.{org}) NOT IN (SELECT p.{target}, p.{org} FROM {parent} p WHERE p.{target} IS NOT NULL AND p.{org} IS NOT NULL))"
            ),
            false => format!("NOT EXISTS (SELECT FROM {parent} p WHERE p.{target} = t.{col} AND p.{org} = t.{org})"),
        };
        counts.push(format!(
            "count(*) FILTER (WHERE t.{col} IS NOT NULL AND {outside}) AS {name}",
            name = ident(&outside_key(column)),
        ));
    }
    format!("SELECT {}\nFROM {} t", counts.join(",\n       "), plan.from)
}

/// The counting row of every table of a batch, in one statement (one round trip, one plan):
/// `SELECT 0 AS i, row_to_json(q)::text AS row FROM (<table 0's counting query>) q UNION ALL
/// ...` — each counting query is one aggregate row. (As a scalar subquery per table, the same
/// statement took 1.6 times as long: 123 against 75 ms for 45 batches of 11 tables.) (JSON as
/// [`crate::catalog::as_rows`] makes it). Each table's evidence is
/// still its own counting query, which returns the same row when rerun alone.
fn count_batch(conn: &mut PgConnection, batch: &[Plan<'_>]) -> Result<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        i: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let sql = batch
        .iter()
        .enumerate()
        .map(|(i, p)| format!("SELECT {i} AS i, row_to_json(q)::text AS row FROM ({}) q", count_sql(p)))
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n");
    let names: Vec<&str> = batch.iter().map(|p| p.table.name.as_str()).collect();
    tracing::debug!(tables = ?names, "data checks");
    let mut rows = diesel::sql_query(sql)
        .load::<Counted>(conn)
        .map_err(|err| Error::query(format!("counting rows of {} for the data checks", names.join(", ")), err))?;
    rows.sort_by_key(|r| r.i);
    if rows.len() != batch.len() {
        return Err(Error::Database {
            doing: format!("counting rows of {} for the data checks", names.join(", ")),
            reason: format!("{} counting rows for {} tables", rows.len(), batch.len()),
        });
    }
    Ok(rows.into_iter().map(|r| r.row).collect())
}

fn execute(conn: &mut PgConnection, plan: &Plan<'_>, result: String) -> Result<TableData> {
    let name = &plan.table.name;
    let sql = count_sql(plan);
    let doing = format!("counting rows of {name} for the data checks");
    let counts: Counts = serde_json::from_str(&result)
        .map_err(|err| Error::Database { doing: doing.clone(), reason: format!("unexpected row {result}: {err}") })?;
    let org = &plan.org;
    let null_org = problem(conn, plan, counts.null_org, &format!("t.{org} IS NULL"))?;
    let orphan_org = match (&plan.root, counts.orphan_org) {
        (Some((root, key)), Some(rows)) => Some(problem(
            conn,
            plan,
            rows,
            &format!("t.{org} IS NOT NULL AND NOT EXISTS (SELECT FROM {root} o WHERE o.{key}::text = t.{org}::text)"),
        )?),
        _ => None,
    };
    let mut parents = Vec::new();
    for ((column, parent, target), parent_from) in plan.parents.iter().zip(&plan.parents_from) {
        let rows = counts.parents.get(&outside_key(column)).copied().unwrap_or(0);
        let condition = format!(
            "t.{col} IS NOT NULL AND NOT EXISTS (SELECT FROM {parent} p WHERE p.{target} = t.{col} AND p.{org} = t.{org})",
            col = ident(column),
            parent = parent_from,
            target = ident(target),
        );
        let problem = problem(conn, plan, rows, &condition)?;
        parents.push(ParentProblem { column: column.clone(), parent: parent.clone(), problem });
    }
    Ok(TableData { table: name.clone(), sql, result, null_org, orphan_org, parents })
}

/// Fetches up to [`SAMPLES`] keys of the rows matching `condition`, when there are any.
fn problem(conn: &mut PgConnection, plan: &Plan<'_>, rows: i64, condition: &str) -> Result<Problem> {
    if rows == 0 {
        return Ok(Problem::default());
    }
    let sql = format!(
        "SELECT {key}::text AS key FROM {from} t WHERE {condition} ORDER BY {key} LIMIT {SAMPLES}",
        key = plan.key,
        from = plan.from,
    );
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
    }
    let samples = diesel::sql_query(&sql)
        .load::<Key>(conn)
        .map_err(|err| Error::query(format!("sampling rows of {}", plan.table.name), err))?
        .into_iter()
        .map(|k| k.key)
        .collect();
    Ok(Problem { rows, samples, sample_sql: Some(sql) })
}

/// The result column counting rows whose `column` parent is in another organization.
fn outside_key(column: &str) -> String {
    format!("{column}_outside_org")
}

#[derive(Deserialize)]
struct Counts {
    null_org: i64,
    orphan_org: Option<i64>,
    #[serde(flatten)]
    parents: std::collections::BTreeMap<String, i64>,
}

/// `schema.table`: a declared table in the schema it names (or the declaration's own), an
/// undeclared one in the schema the catalog found it in.
fn qualified(declared: &Declared<'_>, catalog: &Catalog, name: &str) -> String {
    let schema = declared.schema;
    let namespace = match declared.table(name) {
        Some(table) => table.schema_in(&schema.settings),
        None => catalog
            .table(name)
            .map(|t| t.schema.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(schema.settings.schema.as_str()),
    };
    format!("{}.{}", ident(namespace), ident(name))
}

#[cfg(test)]
mod tests {
    /// A small table is counted row by row — through a hash of a small parent (`NOT IN`), an
    /// index lookup into a large one (`NOT EXISTS`) — and a large one (by its estimated rows)
    /// with grouped joins: all find the same planted rows with the same keys, behind foreign keys
    /// PostgreSQL marks validated (rows written with triggers off).
    #[test]
    fn small_and_large_tables_are_counted_alike() {
        use diesel::connection::SimpleConnection;
        let db = crate::scan::testing::fixture("data_forms");
        let mut conn = db.admin();
        // The data findings, and the counting query of contacts (whose agent is planted in
        // another organization).
        let found = |conn: &mut diesel::PgConnection| -> (Vec<String>, String) {
            let report = crate::scan::testing::scan_as(conn);
            let data: Vec<_> = report.findings.iter().filter(|f| f.category == "data").collect();
            let mut found: Vec<String> = data.iter().map(|f| format!("{}: {}", f.code, f.message)).collect();
            found.sort();
            let contacts = data.iter().find(|f| f.table.as_deref() == Some("contacts")).expect("a contacts finding");
            (found, contacts.evidence.sql.clone())
        };
        conn.batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO agents (org_id, id, name) VALUES ('0000000c-0000-4000-8000-000000000000', 9, 'ghost');
             UPDATE contacts SET agent_id = 2 WHERE id = 1;
             SET session_replication_role = DEFAULT;
             ANALYZE;",
        )
        .unwrap();
        let (small, sql) = found(&mut conn);
        assert_eq!(small.len(), 2, "{small:#?}");
        assert!(sql.contains("NOT IN (SELECT p.\"id\", p.\"org_id\" FROM"), "a small parent, hashed: {sql}");
        // 20,000 more agents of organization A, analyzed: contacts looks each agent up by index.
        conn.batch_execute(
            "INSERT INTO agents (org_id, id, name) SELECT '0000000a-0000-4000-8000-000000000000', n, 'a' FROM generate_series(100, 20099) n;
             ANALYZE agents;",
        )
        .unwrap();
        let (large_parent, sql) = found(&mut conn);
        assert!(sql.contains("NOT EXISTS (SELECT FROM \"public\".\"agents\" p"), "a large parent, looked up: {sql}");
        assert_eq!(large_parent, small, "the lookups find what the hash found");
        // And 20,000 more contacts: a large table, counted with grouped joins.
        conn.batch_execute(
            "INSERT INTO contacts (org_id, id, email, agent_id) SELECT '0000000a-0000-4000-8000-000000000000', n, 'c' || n, n FROM generate_series(100, 20099) n;
             ANALYZE contacts;",
        )
        .unwrap();
        let catalog = crate::catalog::load(&mut conn, "public", "app_user").unwrap();
        assert!(catalog.table("contacts").is_some_and(|t| t.estimated_rows >= super::SMALL_TABLE));
        let (grouped, sql) = found(&mut conn);
        assert!(sql.contains("GROUP BY"), "{sql}");
        assert_eq!(grouped, small, "the grouped form finds what the lookup forms found");
    }
}
