//! The live database as plain data (no database access here): the rows of ten catalog queries,
//! each kept with its verbatim JSON so [`Catalog::evidence`] can show the query that decided a
//! verdict and exactly the rows it returned. tenancy-migrate runs the queries and hands the rows
//! over as [`Facts`]; the scan's checks and the conversion planner read the [`Catalog`] built from
//! them. Serialized [`Facts`] make both testable without PostgreSQL.

mod facts;
pub mod policy;
mod queries;

pub use facts::*;
pub use queries::*;

use crate::sql::literal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use tenancy_schema::report::Evidence;

/// What the catalog queries returned: every row as JSON text (`to_jsonb(row)`), per query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The schema that was read.
    pub schema: String,
    /// The `$3` of the queries.
    pub app_role: String,
    pub rows: BTreeMap<Query, Vec<String>>,
}

/// A catalog row that does not have the shape its query promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected row of catalog query {query}: {row}: {reason}")]
pub struct FactError {
    pub query: &'static str,
    pub row: String,
    pub reason: String,
}

/// A fact and the JSON row it was read from.
#[derive(Debug, Clone)]
pub struct Row<T> {
    pub fact: T,
    pub json: String,
    /// What the query's `$2` filter matches: the row's `table`, else its `name`.
    pub object: String,
}

impl<T> std::ops::Deref for Row<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.fact
    }
}

/// The rows of one catalog query, indexed by the object they belong to (a table's columns,
/// constraints, ...), so checks stay linear in the number of tables.
#[derive(Debug, Clone)]
pub struct Rows<T> {
    rows: Vec<Row<T>>,
    by_object: HashMap<String, Vec<usize>>,
}

impl<T: DeserializeOwned + Object> Rows<T> {
    fn read(query: Query, rows: Vec<String>) -> Result<Rows<T>, FactError> {
        let rows = rows
            .into_iter()
            .map(|json| {
                let invalid = |err: serde_json::Error| FactError {
                    query: query.name(),
                    row: json.clone(),
                    reason: err.to_string(),
                };
                // Straight into the fact (no JSON tree in between: tens of thousands of rows at
                // fleet size).
                let fact: T = serde_json::from_str(&json).map_err(invalid)?;
                let object = fact.object().to_owned();
                Ok(Row { fact, json, object })
            })
            .collect::<Result<Vec<_>, FactError>>()?;
        let mut by_object: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            by_object.entry(row.object.clone()).or_default().push(i);
        }
        Ok(Rows { rows, by_object })
    }
}

impl<T> Rows<T> {
    /// The rows of one object, in query order.
    pub fn of<'a>(&'a self, object: &str) -> impl Iterator<Item = &'a Row<T>> + 'a {
        self.by_object.get(object).into_iter().flatten().map(move |&i| &self.rows[i])
    }

    fn json(&self, object: Option<&str>) -> Vec<&str> {
        match object {
            Some(object) => self.of(object).map(|r| r.json.as_str()).collect(),
            None => self.rows.iter().map(|r| r.json.as_str()).collect(),
        }
    }
}

impl<T> std::ops::Deref for Rows<T> {
    type Target = [Row<T>];
    fn deref(&self) -> &[Row<T>] {
        &self.rows
    }
}

impl<'a, T> IntoIterator for &'a Rows<T> {
    type Item = &'a Row<T>;
    type IntoIter = std::slice::Iter<'a, Row<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

/// The live database, as far as tenancy cares.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The schema that was read (`public` unless told otherwise).
    pub schema: String,
    pub app_role: String,
    pub session: Row<Session>,
    pub tables: Rows<Table>,
    pub columns: Rows<Column>,
    pub constraints: Rows<Constraint>,
    pub indexes: Rows<Index>,
    pub policies: Rows<Policy>,
    pub triggers: Rows<Trigger>,
    pub functions: Rows<Function>,
    pub views: Rows<View>,
    /// The app role, if it exists (zero or one row).
    pub roles: Rows<Role>,
    /// What the app role may do beyond row-level security.
    pub grants: Rows<Grant>,
}

/// A row's key as one SQL value over `alias`: `t."id"`, or `ROW(t."a", t."b")` for a key of
/// several columns (ordered and compared as a row).
pub fn row_value(alias: &str, columns: &[&str]) -> String {
    match columns {
        [one] => format!("{alias}.{}", crate::sql::ident(one)),
        several => {
            format!(
                "ROW({})",
                several.iter().map(|c| format!("{alias}.{}", crate::sql::ident(c))).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Names the columns of constraints, indexes and triggers, which the queries give by number,
/// from the COLUMNS rows; a number that names no column of the table is an error.
fn name_columns(
    columns: &Rows<Column>,
    constraints: &mut Rows<Constraint>,
    indexes: &mut Rows<Index>,
    triggers: &mut Rows<Trigger>,
) -> Result<(), FactError> {
    let named = |query: Query, json: &str, table: &str, numbers: &[i16]| {
        numbers
            .iter()
            .map(|&n| {
                columns.of(table).find(|c| c.position == n).map(|c| c.name.clone()).ok_or_else(|| FactError {
                    query: query.name(),
                    row: json.to_owned(),
                    reason: format!("column number {n} of table {table} is not among its columns"),
                })
            })
            .collect::<Result<Vec<String>, FactError>>()
    };
    for row in &mut constraints.rows {
        let fact = &mut row.fact;
        if fact.columns.is_empty() {
            fact.columns = named(CONSTRAINTS, &row.json, &fact.table, &fact.column_numbers)?;
        }
        if let Some(parent) = fact.ref_table.as_deref().filter(|_| fact.ref_columns.is_empty()) {
            fact.ref_columns = named(CONSTRAINTS, &row.json, parent, &fact.ref_column_numbers)?;
        }
    }
    for row in &mut indexes.rows {
        let fact = &mut row.fact;
        if fact.columns.is_empty() {
            fact.columns = fact
                .column_numbers
                .iter()
                .enumerate()
                .map(|(i, &n)| match fact.expressions.get(i).cloned().flatten() {
                    Some(expression) if n == 0 => Ok(expression),
                    _ => named(INDEXES, &row.json, &fact.table, &[n]).map(|mut one| one.remove(0)),
                })
                .collect::<Result<Vec<String>, FactError>>()?;
        }
    }
    for row in &mut triggers.rows {
        let fact = &mut row.fact;
        if fact.columns.is_empty() {
            fact.columns = named(TRIGGERS, &row.json, &fact.table, &fact.column_numbers)?;
            fact.columns.sort();
        }
    }
    Ok(())
}

impl Catalog {
    /// The declared `keys` of `table` as one SQL value over `alias` ([`row_value`]),
    /// or the row address (`ctid`) when a key column is missing: what findings and errors show
    /// as a row's key.
    pub fn row_key(&self, table: &str, keys: &[&str], alias: &str) -> String {
        if keys.is_empty() || keys.iter().any(|k| self.column(table, k).is_none()) {
            return format!("{alias}.ctid");
        }
        row_value(alias, keys)
    }

    /// Reads the facts into typed rows; a row of the wrong shape is an error, never skipped.
    pub fn new(facts: &Facts) -> Result<Catalog, FactError> {
        Catalog::from_facts(facts.clone())
    }

    /// [`Catalog::new`], keeping the rows' JSON text instead of copying it.
    pub fn from_facts(facts: Facts) -> Result<Catalog, FactError> {
        let Facts { schema, app_role, rows: mut all } = facts;
        let mut rows = |query: Query| all.remove(&query).unwrap_or_default();
        let session: Rows<Session> = Rows::read(SESSION, rows(SESSION))?;
        let session = session.rows.into_iter().next().ok_or_else(|| FactError {
            query: SESSION.name(),
            row: "(no rows)".to_owned(),
            reason: "current_user is not in pg_roles".to_owned(),
        })?;
        let columns: Rows<Column> = Rows::read(COLUMNS, rows(COLUMNS))?;
        let mut constraints: Rows<Constraint> = Rows::read(CONSTRAINTS, rows(CONSTRAINTS))?;
        let mut indexes: Rows<Index> = Rows::read(INDEXES, rows(INDEXES))?;
        let mut triggers: Rows<Trigger> = Rows::read(TRIGGERS, rows(TRIGGERS))?;
        name_columns(&columns, &mut constraints, &mut indexes, &mut triggers)?;
        Ok(Catalog {
            schema,
            app_role,
            session,
            tables: Rows::read(TABLES, rows(TABLES))?,
            columns,
            constraints,
            indexes,
            policies: Rows::read(POLICIES, rows(POLICIES))?,
            triggers,
            functions: Rows::read(FUNCTIONS, rows(FUNCTIONS))?,
            views: Rows::read(VIEWS, rows(VIEWS))?,
            roles: Rows::read(ROLES, rows(ROLES))?,
            grants: Rows::read(GRANTS, rows(GRANTS))?,
        })
    }

    pub fn table(&self, name: &str) -> Option<&Row<Table>> {
        self.tables.of(name).next()
    }

    pub fn columns_of<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Row<Column>> + 'a {
        self.columns.of(table)
    }

    pub fn column(&self, table: &str, name: &str) -> Option<&Row<Column>> {
        self.columns.of(table).find(|c| c.name == name)
    }

    pub fn constraints_of<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Row<Constraint>> + 'a {
        self.constraints.of(table)
    }

    pub fn indexes_of<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Row<Index>> + 'a {
        self.indexes.of(table)
    }

    pub fn policies_of<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Row<Policy>> + 'a {
        self.policies.of(table)
    }

    pub fn triggers_of<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Row<Trigger>> + 'a {
        self.triggers.of(table)
    }

    pub fn app_role(&self) -> Option<&Row<Role>> {
        self.roles.first()
    }

    /// What the app role may do with one object of a kind.
    pub fn grant(&self, kind: GrantKind, name: &str) -> Option<&Row<Grant>> {
        self.grants.of(name).find(|g| g.kind == kind)
    }

    /// The primary key of `table`.
    pub fn primary_key(&self, table: &str) -> Option<&Constraint> {
        self.constraints_of(table).map(|c| &c.fact).find(|c| c.kind == ConstraintKind::PrimaryKey)
    }

    /// The foreign key `(column) REFERENCES root (key)` of `table`: its organization key.
    pub fn org_foreign_key(&self, table: &str, column: &str, root: &str, root_key: &str) -> Option<&Row<Constraint>> {
        self.constraints_of(table).find(|c| c.is_foreign_key(&[column], root, &[root_key]))
    }

    /// Whether a valid, non-partial unique index covers exactly `columns` (in order).
    pub fn has_unique(&self, table: &str, columns: &[&str]) -> bool {
        self.indexes_of(table).any(|i| {
            i.unique && i.valid && !i.partial && i.columns.iter().map(String::as_str).eq(columns.iter().copied())
        })
    }

    /// The evidence for a verdict about one object (a table, function, view; None for all):
    /// `query` with the schema, the object's name and the app role filled in, and every row it
    /// returns — run it, and you get exactly these rows.
    pub fn evidence(&self, query: &Query, object: Option<&str>) -> Evidence {
        let rows = match query {
            Query::Session => vec![self.session.json.as_str()],
            Query::Tables => self.tables.json(object),
            Query::Columns => self.columns.json(object),
            Query::Constraints => self.constraints.json(object),
            Query::Indexes => self.indexes.json(object),
            Query::Policies => self.policies.json(object),
            Query::Triggers => self.triggers.json(object),
            Query::Functions => self.functions.json(object),
            Query::Views => self.views.json(object),
            Query::Roles => self.roles.json(object),
            Query::Grants => self.grants.json(object),
        };
        let sql = query
            .sql()
            .replace("$3", &literal(&self.app_role))
            .replace("$2", &object.map_or_else(|| "NULL".to_owned(), literal))
            .replace("$1", &literal(&self.schema));
        let result = if rows.is_empty() { "(no rows)".to_owned() } else { rows.join("\n") };
        Evidence { sql, result }
    }
}
