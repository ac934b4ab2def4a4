//! `table-missing`: a declared table that does not exist in the database.

use crate::catalog::TABLES;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "table-missing", severity: Severity::Error, category: "drift" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for table in &cx.schema.tables {
        if cx.catalog.table(&table.name).is_some() {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!("declared table {} does not exist in schema {}", table.name, table.schema_in(&cx.schema.settings)),
            "apply the migrations (`tenancy-migrate apply`), or plan them for this database (`tenancy-migrate plan`)",
            cx.catalog.evidence(&TABLES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_missing_declared_table_is_found() {
        case(
            "table_missing",
            "table-missing",
            "DROP TABLE plans",
            "CREATE TABLE plans (id bigint PRIMARY KEY, name text NOT NULL)",
        );
    }
}
