//! Values for columns under a CHECK constraint the declaration cannot state (`status IN
//! ('open', 'closed')`, `char_length(code) = 4`): the value of an existing row where the table
//! has one (real data satisfies its constraints), else the constraint's first quoted literal.
//! A column left without either gets the synthesized value, and the database says why it is
//! refused.

use crate::error::Result;
use diesel::PgConnection;
use std::collections::HashMap;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::Schema;

/// (table, column) → a value (as text) that passes the column's CHECK constraints.
pub fn values(conn: &mut PgConnection, schema: &Schema) -> Result<HashMap<(String, String), String>> {
    let schemas: Vec<String> = schema.schemas().iter().map(|s| literal(s)).collect();
    let sql = format!(
        "SELECT c.relname::text AS table, a.attname::text AS column, pg_catalog.pg_get_constraintdef(k.oid) AS definition
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (k.conkey)
         WHERE k.contype = 'c' AND n.nspname IN ({}) ORDER BY 1, 2, k.conname",
        schemas.join(", ")
    );
    let org = &schema.settings.org_column;
    let mut out = HashMap::new();
    for row in crate::scan::json_rows(conn, &sql, "reading CHECK constraints")? {
        let row: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
        let (Some(table), Some(column), Some(definition)) =
            (row["table"].as_str(), row["column"].as_str(), row["definition"].as_str())
        else {
            continue;
        };
        // Keys and unique columns need fresh values; the org column is tenancy's.
        let Some(declared) = schema.table(table).and_then(|t| t.column(column)) else { continue };
        if declared.key || declared.unique || declared.global_unique || column == org {
            continue;
        }
        let key = (table.to_owned(), column.to_owned());
        if out.contains_key(&key) {
            continue;
        }
        let existing = format!(
            "SELECT t.{c}::text AS value FROM {t} t WHERE t.{c} IS NOT NULL LIMIT 1",
            c = ident(column),
            t = ident(table)
        );
        let found = crate::scan::json_rows(conn, &existing, "reading a value of a checked column")?
            .first()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|r| r["value"].as_str().map(str::to_owned));
        if let Some(value) = found.or_else(|| first_literal(definition)) {
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// The first single-quoted literal of a constraint definition, unescaped.
fn first_literal(definition: &str) -> Option<String> {
    let start = definition.find('\'')? + 1;
    let mut value = String::new();
    let mut chars = definition[start..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                value.push('\'');
            }
            '\'' => return Some(value),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_literal_of_a_check() {
        let def = "CHECK ((status = ANY (ARRAY['it''s open'::text, 'closed'::text])))";
        assert_eq!(super::first_literal(def).as_deref(), Some("it's open"));
        assert_eq!(super::first_literal("CHECK ((qty > 0))"), None);
    }
}
