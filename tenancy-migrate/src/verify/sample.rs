//! Sample rows for verify: two organizations, and one row per organization in every table the
//! tenant tables need, values synthesized from the declared column types, parents first.

use crate::verify::Org;
use std::collections::HashMap;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::{Column, ColumnType, Schema, Scope, Table};

/// The sample rows made so far: table → key (as text) per organization (A, B). Shared tables
/// have two rows too (any organization may use either).
#[derive(Debug, Default)]
pub struct Samples {
    pub keys: HashMap<String, [Option<String>; 2]>,
    /// Tables whose rows could not be made, with the reason.
    pub skipped: HashMap<String, String>,
    counter: u64,
    /// Makes text values unique against existing rows.
    pub run: String,
}

impl Samples {
    pub fn new(run: &str) -> Samples {
        Samples { run: run.to_owned(), counter: 0, ..Samples::default() }
    }

    pub fn key(&self, table: &str, org: Org) -> Option<&str> {
        self.keys.get(table).and_then(|keys| keys[org.index()].as_deref())
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A value for `column` in a row of `org`, or why there is none.
    fn value(
        &mut self,
        column: &Column,
        org: Org,
        references_org: Option<Org>,
        global: Org,
        schema: &Schema,
    ) -> Result<String, String> {
        if let Some(reference) = &column.references {
            let target = schema.table(&reference.table).expect("validated reference");
            // Tenant parents of the given org (the attacks point at the other one); shared rows
            // as told (a fresh row uses the other shared row, so org-scoped unique keys that
            // include the reference cannot collide with the sample row).
            let owner = match target.scope {
                Scope::Tenant => references_org.unwrap_or(org),
                Scope::Root => org,
                Scope::Global | Scope::Shared | Scope::Internal => global,
            };
            let key_column = target.key();
            if reference.column != key_column.name {
                return Err(format!(
                    "{} references {}.{}, not its key",
                    column.name, reference.table, reference.column
                ));
            }
            return match self.key(&reference.table, owner) {
                Some(key) => Ok(format!("{}::{}", literal(key), key_column.ty.sql_name())),
                None if column.nullable => Ok("NULL".to_owned()),
                None => Err(format!(
                    "it needs a row of {} ({})",
                    reference.table,
                    self.skipped.get(&reference.table).map_or("not sampled", String::as_str)
                )),
            };
        }
        let n = self.next();
        let tag = format!("tenancy verify {} {} {n}", self.run, org.name());
        Ok(match column.ty {
            ColumnType::Uuid => "gen_random_uuid()".to_owned(),
            ColumnType::Text => literal(&tag),
            ColumnType::SmallInt => format!("{}::smallint", 20_000 + n % 10_000),
            ColumnType::Int | ColumnType::BigInt => format!("{}", 1_900_000_000 + n),
            ColumnType::Real | ColumnType::Double => "1.5".to_owned(),
            ColumnType::Bool => "true".to_owned(),
            ColumnType::Json => "'{}'::jsonb".to_owned(),
            ColumnType::Timestamp => "now()".to_owned(),
            ColumnType::Date => "current_date".to_owned(),
            ColumnType::Bytes => "'\\x00'::bytea".to_owned(),
        })
    }

    /// A key nothing else has: explicit (verify never calls `nextval`, so no sequence moves),
    /// from the top of the type's range for integers, a fresh uuid, or a tagged text.
    fn fresh_key(&mut self, column: &Column, org: Org) -> String {
        let n = self.next();
        match column.ty {
            ColumnType::SmallInt => format!("{}", 32_000 + n % 700),
            ColumnType::Int => format!("{}", 2_140_000_000 + n),
            ColumnType::BigInt => format!("{}", 9_200_000_000_000_000_000_i64 + n as i64),
            ColumnType::Uuid => uuid::Uuid::new_v4().to_string(),
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
            values.push(format!("{}::uuid", literal(&orgs[org.index()])));
        }
        let mut key = String::new();
        for column in &table.columns {
            if column.key {
                key = if table.scope == Scope::Root { orgs[org.index()].clone() } else { self.fresh_key(column, org) };
                columns.push(ident(&column.name));
                values.push(format!("{}::{}", literal(&key), column.ty.sql_name()));
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
            let towards = match references {
                Some((name, other)) if name == column.name => Some(other),
                _ => None,
            };
            columns.push(ident(&column.name));
            values.push(self.value(column, org, towards, global, schema)?);
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
    /// The row's key, as text.
    pub key: String,
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
