//! Catalog introspection: the live database as facts, read with a constant number of queries.
//!
//! Each query covers every object of one kind in the scanned schema at once (`$1` = schema,
//! `$2` = one object's name or NULL for all, `$3` = the app role), so a scan costs the same nine
//! round trips for 20 tables or 2,000. Rows come back as JSON (`to_jsonb`), which gives both the
//! typed fact and its verbatim text: [`Catalog::evidence`] shows a finding's query with the object
//! filled in — run it and you get exactly the rows the verdict was made from.
//!
//! Only `pg_catalog` is read; every value is bound, never formatted into the SQL.

use crate::error::{Error, Result};
use diesel::sql_types::{Nullable, Text};
use diesel::{PgConnection, RunQueryDsl};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use tenancy_codegen::sql::literal;
use tenancy_schema::report::Evidence;

/// One catalog query: what it reads and its SQL.
#[derive(Debug)]
pub struct Query {
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SESSION: Query = Query {
    name: "session",
    sql: "SELECT current_database() AS database, current_setting('server_version') AS server_version,
       r.rolname AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
};

pub const TABLES: Query = Query {
    name: "tables",
    sql: "SELECT c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
       c.reltuples::bigint AS estimated_rows,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.pg_has_role($3, c.relowner, 'USAGE') END AS app_role_owns
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname",
};

pub const COLUMNS: Query = Query {
    name: "columns",
    sql: "SELECT c.relname AS table, a.attname AS name, a.attnum AS position,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, a.attnum",
};

pub const CONSTRAINTS: Query = Query {
    name: "constraints",
    sql: "SELECT c.relname AS table, k.conname AS name, k.contype::text AS kind,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.i) AS columns,
       f.relname AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.i) AS ref_columns,
       NULLIF(k.confdeltype::text, ' ') AS on_delete, k.convalidated AS validated
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
WHERE n.nspname = $1 AND k.contype IN ('p', 'u', 'f') AND NOT c.relispartition
  AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, k.conname",
};

pub const INDEXES: Query = Query {
    name: "indexes",
    sql: "SELECT c.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
       x.indisvalid AS valid, x.indpred IS NOT NULL AS partial,
       ARRAY(SELECT coalesce(a.attname::text, '(expression)') FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(num, i)
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.num
             WHERE u.i <= x.indnkeyatts ORDER BY u.i) AS columns
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, i.relname",
};

pub const POLICIES: Query = Query {
    name: "policies",
    sql: "SELECT c.relname AS table, p.polname AS name, p.polcmd::text AS command, p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, p.polname",
};

pub const TRIGGERS: Query = Query {
    name: "triggers",
    sql: "SELECT c.relname AS table, t.tgname AS name, t.tgtype::int AS type, t.tgenabled::text AS enabled,
       p.proname AS function, p.prosrc AS function_source,
       ARRAY(SELECT a.attname::text FROM unnest(t.tgattr::int2[]) u(num)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = u.num ORDER BY 1) AS columns
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
WHERE n.nspname = $1 AND NOT t.tgisinternal AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, t.tgname",
};

pub const FUNCTIONS: Query = Query {
    name: "functions",
    sql: "SELECT p.proname AS name, pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
       p.provolatile::text AS volatility, p.prosecdef AS security_definer,
       coalesce(p.proconfig, '{}') AS config, p.prosrc AS source, l.lanname AS language,
       p.prorettype = 'pg_catalog.trigger'::regtype AS returns_trigger,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.has_function_privilege($3, p.oid, 'EXECUTE') END AS app_role_can_execute
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE n.nspname = $1 AND p.prokind IN ('f', 'p') AND ($2::text IS NULL OR p.proname = $2)
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY p.proname, 2",
};

pub const VIEWS: Query = Query {
    name: "views",
    sql: "SELECT v.relname AS name, v.relkind::text AS kind, coalesce(v.reloptions, '{}') AS options,
       ARRAY(SELECT DISTINCT t.relname::text FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
             WHERE r.ev_class = v.oid AND t.oid <> v.oid AND t.relkind IN ('r', 'p')
                   AND t.relnamespace = v.relnamespace ORDER BY 1) AS tables,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.has_table_privilege($3, v.oid, 'SELECT') END AS app_role_can_select
FROM pg_catalog.pg_class v JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
WHERE n.nspname = $1 AND v.relkind IN ('v', 'm') AND ($2::text IS NULL OR v.relname = $2)
ORDER BY v.relname",
};

pub const ROLES: Query = Query {
    name: "roles",
    sql: "SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls, r.rolinherit AS inherit
FROM pg_catalog.pg_roles r WHERE r.rolname = $3 AND ($2::text IS NULL OR r.rolname = $2)",
};

/// Every catalog query a scan runs, in order.
pub const ALL: [&Query; 10] =
    [&SESSION, &TABLES, &COLUMNS, &CONSTRAINTS, &INDEXES, &POLICIES, &TRIGGERS, &FUNCTIONS, &VIEWS, &ROLES];

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

#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub database: String,
    pub server_version: String,
    pub role: String,
    pub superuser: bool,
    pub bypass_rls: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    pub name: String,
    pub owner: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub estimated_rows: i64,
    /// Whether the scanning role may SELECT from it (data checks need that).
    pub readable: bool,
    /// Whether the app role owns the table or inherits its owner's privileges; None if it does not exist.
    pub app_role_owns: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub table: String,
    pub name: String,
    pub position: i16,
    #[serde(rename = "type")]
    pub ty: String,
    pub not_null: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum ConstraintKind {
    #[serde(rename = "p")]
    PrimaryKey,
    #[serde(rename = "u")]
    Unique,
    #[serde(rename = "f")]
    ForeignKey,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    pub kind: ConstraintKind,
    pub columns: Vec<String>,
    pub ref_table: Option<String>,
    pub ref_columns: Vec<String>,
    /// `confdeltype`: a no action, r restrict, c cascade, n set null, d set default.
    pub on_delete: Option<String>,
    pub validated: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub primary: bool,
    pub valid: bool,
    pub partial: bool,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    pub table: String,
    pub name: String,
    /// `polcmd`: r SELECT, a INSERT, w UPDATE, d DELETE, * ALL.
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Trigger {
    pub table: String,
    pub name: String,
    /// `tgtype` bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 64 INSTEAD.
    #[serde(rename = "type")]
    pub ty: i32,
    /// `tgenabled`: O origin, D disabled, R replica, A always.
    pub enabled: String,
    pub function: String,
    pub function_source: String,
    /// `UPDATE OF` columns; empty when the trigger fires on any update.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    pub name: String,
    pub arguments: String,
    /// `provolatile`: i immutable, s stable, v volatile.
    pub volatility: String,
    pub security_definer: bool,
    pub config: Vec<String>,
    pub source: String,
    pub language: String,
    pub returns_trigger: bool,
    pub app_role_can_execute: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct View {
    pub name: String,
    /// v view, m materialized view.
    pub kind: String,
    pub options: Vec<String>,
    /// Tables of the same schema the view reads.
    pub tables: Vec<String>,
    pub app_role_can_select: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    pub inherit: bool,
}

/// The rows of one catalog query, indexed by the object they belong to (a table's columns,
/// constraints, ...), so checks stay linear in the number of tables.
#[derive(Debug, Clone)]
pub struct Rows<T> {
    rows: Vec<Row<T>>,
    by_object: HashMap<String, Vec<usize>>,
}

impl<T> Rows<T> {
    fn new(rows: Vec<Row<T>>) -> Rows<T> {
        let mut by_object: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            by_object.entry(row.object.clone()).or_default().push(i);
        }
        Rows { rows, by_object }
    }

    /// The rows of one object, in query order.
    pub fn of<'a>(&'a self, object: &str) -> impl Iterator<Item = &'a Row<T>> + 'a {
        self.by_object.get(object).into_iter().flatten().map(move |&i| &self.rows[i])
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
}

impl Catalog {
    /// Reads the catalog of `schema` with one query per kind of object.
    pub fn load(conn: &mut PgConnection, schema: &str, app_role: &str) -> Result<Catalog> {
        macro_rules! read {
            ($query:expr) => {
                Rows::new(load_rows(conn, &$query, schema, app_role)?)
            };
        }
        let session: Vec<Row<Session>> = load_rows(conn, &SESSION, schema, app_role)?;
        let session = session.into_iter().next().ok_or_else(|| Error::Database {
            doing: "reading the session".to_owned(),
            reason: "current_user is not in pg_roles".to_owned(),
        })?;
        Ok(Catalog {
            schema: schema.to_owned(),
            app_role: app_role.to_owned(),
            session,
            tables: read!(TABLES),
            columns: read!(COLUMNS),
            constraints: read!(CONSTRAINTS),
            indexes: read!(INDEXES),
            policies: read!(POLICIES),
            triggers: read!(TRIGGERS),
            functions: read!(FUNCTIONS),
            views: read!(VIEWS),
            roles: read!(ROLES),
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

    /// The evidence for a verdict about one object (a table, function, view; None for all):
    /// `query` with the schema, the object's name and the app role filled in, and every row it
    /// returns — run it, and you get exactly these rows.
    pub fn evidence(&self, query: &Query, object: Option<&str>) -> Evidence {
        fn matching<'a, T>(rows: &'a Rows<T>, object: Option<&str>) -> Vec<&'a str> {
            match object {
                Some(object) => rows.of(object).map(|r| r.json.as_str()).collect(),
                None => rows.iter().map(|r| r.json.as_str()).collect(),
            }
        }
        let rows = match query.name {
            "session" => vec![self.session.json.as_str()],
            "tables" => matching(&self.tables, object),
            "columns" => matching(&self.columns, object),
            "constraints" => matching(&self.constraints, object),
            "indexes" => matching(&self.indexes, object),
            "policies" => matching(&self.policies, object),
            "triggers" => matching(&self.triggers, object),
            "functions" => matching(&self.functions, object),
            "views" => matching(&self.views, object),
            _ => matching(&self.roles, object),
        };
        let sql = query
            .sql
            .replace("$3", &literal(&self.app_role))
            .replace("$2", &object.map_or_else(|| "NULL".to_owned(), literal))
            .replace("$1", &literal(&self.schema));
        let result = if rows.is_empty() { "(no rows)".to_owned() } else { rows.join("\n") };
        Evidence { sql, result }
    }
}

/// A query's rows as JSON text: `SELECT to_jsonb(q)::text AS row FROM (<sql>) q`.
pub(crate) fn as_json(sql: &str) -> String {
    format!("SELECT to_jsonb(q)::text AS row FROM ({sql}) q")
}

#[derive(diesel::QueryableByName)]
pub(crate) struct JsonRow {
    #[diesel(sql_type = Text)]
    pub row: String,
}

fn load_rows<T: DeserializeOwned>(
    conn: &mut PgConnection,
    query: &Query,
    schema: &str,
    app_role: &str,
) -> Result<Vec<Row<T>>> {
    let rows = diesel::sql_query(as_json(query.sql))
        .bind::<Text, _>(schema)
        .bind::<Nullable<Text>, _>(None::<String>)
        .bind::<Text, _>(app_role)
        .load::<JsonRow>(conn)
        .map_err(|err| catalog_error(query, err))?;
    rows.into_iter()
        .map(|r| {
            let invalid = |err: serde_json::Error| Error::Database {
                doing: format!("reading catalog {}", query.name),
                reason: format!("unexpected row {}: {err}", r.row),
            };
            let value: serde_json::Value = serde_json::from_str(&r.row).map_err(invalid)?;
            let object = value.get("table").or_else(|| value.get("name")).and_then(|v| v.as_str()).unwrap_or("");
            let object = object.to_owned();
            let fact = serde_json::from_value(value).map_err(invalid)?;
            Ok(Row { fact, json: r.row, object })
        })
        .collect()
}

fn catalog_error(query: &Query, err: diesel::result::Error) -> Error {
    let reason = crate::error::first_line(&err.to_string());
    if reason.contains("permission denied") {
        Error::CatalogPermission { query: query.name.to_owned(), reason }
    } else {
        Error::query(format!("reading catalog {}", query.name), reason)
    }
}
