//! Sample rows for verify: two organizations, and one row per organization in every table the
//! tenant tables need, values synthesized from the declared column types, parents first.

use crate::verify::Org;
use std::collections::HashMap;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::{Column, ColumnType, Schema, Scope, Table};

/// A row's key: the values of its table's key columns as text, in declaration order.
pub type Key = Vec<String>;

/// `a = '<a>'::type AND b = ...`: the condition naming the row of `table` with `key`.
pub fn key_is(table: &Table, key: &[String]) -> String {
    let columns = table.keys().into_iter().zip(key);
    let each = columns.map(|(c, v)| format!("{} = {}::{}", ident(&c.name), literal(v), c.ty.sql_name()));
    each.collect::<Vec<_>>().join(" AND ")
}

/// The sample rows made so far: table → key per organization (A, B). Shared tables have two
/// rows too (any organization may use either).
#[derive(Debug, Default)]
pub struct Samples {
    pub keys: HashMap<String, [Option<Key>; 2]>,
    /// Tables whose rows could not be made, with the reason.
    pub skipped: HashMap<String, String>,
    counter: u64,
    /// Makes text values unique against existing rows.
    pub run: String,
    /// (table, column) → keys of existing rows for a column the declaration leaves plain but
    /// the database constrains with a foreign key to a table outside the declaration
    /// (`auth.users`), read by the connecting role before the attacks.
    pub external: HashMap<(String, String), External>,
    /// (table, column) → a value that passes the column's CHECK constraints (see `checked`).
    pub checked: HashMap<(String, String), String>,
}

/// Existing keys of a table outside the declaration, and how many a key column has used.
#[derive(Debug, Default)]
pub struct External {
    /// The referenced table, for messages.
    pub table: String,
    pub keys: Vec<String>,
    pub used: usize,
}

impl Samples {
    pub fn new(run: &str) -> Samples {
        Samples { run: run.to_owned(), counter: 0, ..Samples::default() }
    }

    pub fn key(&self, table: &str, org: Org) -> Option<&[String]> {
        self.keys.get(table).and_then(|keys| keys[org.index()].as_deref())
    }

    /// The key of a table a reference points at by its key: one column (validated).
    pub fn single_key(&self, table: &str, org: Org) -> Option<&str> {
        self.key(table, org).and_then(|k| k.first()).map(String::as_str)
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A value for `column` in a row of `org` (an SQL expression), or why there is none.
    fn value(
        &mut self,
        column: &Column,
        org: Org,
        references_org: Option<Org>,
        global: Org,
        schema: &Schema,
    ) -> Result<String, String> {
        if column.references.is_some() {
            return Ok(match self.reference(column, org, references_org, global, schema)? {
                Some(key) => format!("{}::{}", literal(&key), column.ty.sql_name()),
                None => "NULL".to_owned(),
            });
        }
        let n = self.next();
        let tag = format!("tenancy verify {} {} {n}", self.run, org.name());
        value(&column.ty, &tag, n).ok_or_else(|| {
            format!(
                "{} is {}, for which verify has no sample value; give the column a default (#[default(\"...\")])",
                column.name,
                column.ty.sql_name()
            )
        })
    }

    /// The parent key a reference column takes in a row of `org` (None: NULL), or why there is
    /// none: tenant parents of `references_org` (else `org`), the root row of `org`, other
    /// parents' row of `global`.
    fn reference(
        &self,
        column: &Column,
        org: Org,
        references_org: Option<Org>,
        global: Org,
        schema: &Schema,
    ) -> Result<Option<String>, String> {
        let reference = column.references.as_ref().expect("a reference column");
        let target = schema.table(&reference.table).expect("validated reference");
        // Tenant parents of the given org (the attacks point at the other one); shared rows
        // as told (a fresh row uses the other shared row, so org-scoped unique keys that
        // include the reference cannot collide with the sample row).
        let owner = match target.scope {
            Scope::Tenant => references_org.unwrap_or(org),
            Scope::Root => org,
            Scope::Global | Scope::Shared | Scope::Internal => global,
        };
        if target.key_names() != [reference.column.as_str()] {
            return Err(format!("{} references {}.{}, not its key", column.name, reference.table, reference.column));
        }
        match self.single_key(&reference.table, owner) {
            Some(key) => Ok(Some(key.to_owned())),
            None if column.nullable => Ok(None),
            None => Err(format!(
                "it needs a row of {} ({})",
                reference.table,
                self.skipped.get(&reference.table).map_or("not sampled", String::as_str)
            )),
        }
    }

    /// A key nothing else has: explicit (verify never calls `nextval`, so no sequence moves),
    /// from the top of the type's range for integers, a fresh uuid, or a tagged text.
    pub fn fresh_key(&mut self, column: &Column, org: Org) -> String {
        let n = self.next();
        match &column.ty {
            ColumnType::SmallInt => format!("{}", 32_000 + n % 700),
            ColumnType::Int => format!("{}", 2_140_000_000 + n),
            ColumnType::BigInt => format!("{}", 9_200_000_000_000_000_000_i64 + n as i64),
            ColumnType::Uuid => uuid::Uuid::new_v4().to_string(),
            // Keys of several columns have dates, times and others in them (`(ad_id, day)`):
            // values far from real data, distinct per `n`.
            ColumnType::Date => format!("{}-01-01", 3000 + n),
            ColumnType::Timestamp | ColumnType::Timestamptz => format!("{}-01-01 00:00:00+00", 3000 + n),
            ColumnType::Time => format!("{:02}:{:02}:{:02}", (n / 3600) % 24, (n / 60) % 60, n % 60),
            ColumnType::Numeric(Some((precision, scale))) => {
                format!("{}", n % 10_u64.pow(precision.saturating_sub(*scale).min(9)))
            }
            ColumnType::Numeric(None) => format!("{}", 900_000_000 + n),
            ColumnType::Inet => format!("10.{}.{}.{}", 200 + (n >> 16) % 50, (n >> 8) & 255, n & 255),
            ColumnType::Varchar(Some(len)) | ColumnType::Char(len) => {
                let tag = format!("tenancy verify {} {} {n}", self.run, org.name());
                tag.chars().rev().take(*len as usize).collect::<Vec<_>>().into_iter().rev().collect()
            }
            _ => format!("tenancy verify {} {} {n}", self.run, org.name()),
        }
    }

    /// A row of `org` in `table`: tenant references point at the parents of `org` (the column
    /// in `references` at the other organization's), references to shared tables at the shared
    /// row of `global`. Every key is explicit.
    pub fn row(
        &mut self,
        schema: &Schema,
        table: &Table,
        org: Org,
        orgs: &[String; 2],
        global: Org,
        references: Option<(&str, Org)>,
    ) -> Result<Insert, String> {
        let org_column = &schema.settings.org_column;
        let mut columns = Vec::new();
        let mut values = Vec::new();
        if table.is_tenant() {
            columns.push(ident(org_column));
            values.push(format!("{}::{}", literal(&orgs[org.index()]), schema.settings.org_key.sql_name()));
        }
        let mut key = Key::new();
        for column in &table.columns {
            let towards = match references {
                Some((name, other)) if name == column.name => Some(other),
                _ => None,
            };
            let external = self.external.get_mut(&(table.name.clone(), column.name.clone()));
            let external = external.filter(|_| column.references.is_none());
            if let Some(external) = external {
                // A key takes one existing row after the other (fresh rows need fresh keys);
                // another column the first.
                let at = if column.key { external.used } else { 0 };
                let Some(value) = external.keys.get(at).cloned() else {
                    return Err(format!(
                        "{} references {}, which has {} row(s) to point at; verify needs more",
                        column.name,
                        external.table,
                        external.keys.len()
                    ));
                };
                if column.key {
                    external.used += 1;
                    key.push(value.clone());
                }
                columns.push(ident(&column.name));
                values.push(format!("{}::{}", literal(&value), column.ty.sql_name()));
                continue;
            }
            if column.key {
                // A key column that references a parent (`(project_id, user_id)`) takes the
                // parent's key; the others a fresh one.
                let value = match () {
                    _ if table.scope == Scope::Root => orgs[org.index()].clone(),
                    _ if column.references.is_some() => self
                        .reference(column, org, towards, global, schema)?
                        .ok_or_else(|| format!("key column {} has no row to reference", column.name))?,
                    _ => self.fresh_key(column, org),
                };
                columns.push(ident(&column.name));
                values.push(format!("{}::{}", literal(&value), column.ty.sql_name()));
                key.push(value);
                continue;
            }
            // Optional columns with defaults are left to them.
            if column.default.is_some() && column.references.is_none() {
                continue;
            }
            if column.references.as_ref().is_some_and(|r| r.table == table.name) {
                if column.nullable {
                    continue; // a self-reference, left empty
                }
                return Err(format!("{} references its own table and is required", column.name));
            }
            columns.push(ident(&column.name));
            match self.checked.get(&(table.name.clone(), column.name.clone())) {
                Some(value) if column.references.is_none() => {
                    values.push(format!("{}::{}", literal(value), column.ty.sql_name()))
                }
                _ => values.push(self.value(column, org, towards, global, schema)?),
            }
        }
        Ok(Insert { table: ident(&table.name), columns, values, key })
    }
}

/// One row to insert, with the key it will have.
#[derive(Debug, Clone)]
pub struct Insert {
    table: String,
    /// Quoted column names, parallel to `values`.
    columns: Vec<String>,
    values: Vec<String>,
    /// The row's key.
    pub key: Key,
}

impl Insert {
    /// A plain `INSERT`, as applications write one (`OVERRIDING SYSTEM VALUE`: identity keys
    /// take the explicit value).
    pub fn sql(&self) -> String {
        format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
            self.table,
            self.columns.join(", "),
            self.values.join(", ")
        )
    }

    /// The same row with `column` (unquoted) set to the SQL expression `value`.
    pub fn with(mut self, column: &str, value: String) -> Insert {
        let quoted = ident(column);
        match self.columns.iter().position(|c| *c == quoted) {
            Some(at) => self.values[at] = value,
            None => {
                self.columns.push(quoted);
                self.values.push(value);
            }
        }
        self
    }

    /// The same with `RETURNING *` (which makes PostgreSQL check the new row against the SELECT
    /// policies too).
    pub fn returning(&self) -> String {
        format!("{} RETURNING *", self.sql())
    }
}

/// Two organization keys of the key type that no real organization has: uuids, or values from
/// the top of an integer type's range, or tagged text.
pub(super) fn organization_keys(ty: &ColumnType, run: &str) -> [String; 2] {
    let salt = u32::from_str_radix(&run[..run.len().min(6)], 16).unwrap_or(0) % 100_000;
    match ty {
        ColumnType::BigInt => [0, 1].map(|i| (9_100_000_000_000_000_000_i64 + i64::from(salt) * 2 + i).to_string()),
        ColumnType::Int => [0, 1].map(|i| (2_100_000_000 + salt as i32 * 2 + i).to_string()),
        ColumnType::Text => [0, 1].map(|i| format!("tenancy-verify-{run}-{i}")),
        _ => [uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string()],
    }
}

/// A value of `ty` for the `n`th sample cell (distinct per `n` where unique keys could care),
/// or `None` for a type verify knows nothing about (`Sql<"...">`).
fn value(ty: &ColumnType, tag: &str, n: u64) -> Option<String> {
    let cut = |len: u32| {
        literal(&tag.chars().rev().take(len as usize).collect::<Vec<_>>().into_iter().rev().collect::<String>())
    };
    Some(match ty {
        ColumnType::Uuid => "gen_random_uuid()".to_owned(),
        ColumnType::Text | ColumnType::Varchar(None) => literal(tag),
        ColumnType::Citext => format!("{}::citext", literal(tag)),
        // The tail of the tag holds the counter that keeps values distinct.
        ColumnType::Varchar(Some(len)) | ColumnType::Char(len) => cut(*len),
        ColumnType::SmallInt => format!("{}::smallint", 20_000 + n % 10_000),
        ColumnType::Int | ColumnType::BigInt => format!("{}", 1_900_000_000 + n),
        ColumnType::Real | ColumnType::Double => "1.5".to_owned(),
        ColumnType::Numeric(None) => format!("{n}"),
        ColumnType::Numeric(Some((precision, scale))) => {
            let digits = precision.saturating_sub(*scale).min(9);
            format!("{}", n % 10_u64.pow(digits))
        }
        ColumnType::Bool => "true".to_owned(),
        ColumnType::Json => "'{}'::json".to_owned(),
        ColumnType::Jsonb => "'{}'::jsonb".to_owned(),
        ColumnType::Timestamp => "localtimestamp".to_owned(),
        ColumnType::Timestamptz => "now()".to_owned(),
        ColumnType::Date => "current_date".to_owned(),
        ColumnType::Time => "'12:00'::time".to_owned(),
        ColumnType::Interval => "'1 hour'::interval".to_owned(),
        ColumnType::Bytes => "'\\x00'::bytea".to_owned(),
        ColumnType::Inet => format!("'10.{}.{}.{}'::inet", (n >> 16) & 255, (n >> 8) & 255, n & 255),
        ColumnType::Cidr => format!("'10.{}.{}.0/24'::cidr", (n >> 8) & 255, n & 255),
        ColumnType::Array(_) => format!("'{{}}'::{}", ty.sql_name()),
        // The type's first label, read from the database.
        ColumnType::Enum(name) => format!("(enum_range(NULL::{name}))[1]"),
        ColumnType::Sql(_) => return None,
    })
}
