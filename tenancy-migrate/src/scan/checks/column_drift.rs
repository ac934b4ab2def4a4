//! Column drift between a declared table and the database: `column-missing`,
//! `column-not-declared`, `column-type-mismatch`, `column-nullability-mismatch`. The org column is
//! left to the org-column checks.

use crate::catalog::COLUMNS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const MISSING: Code = Code { code: "column-missing", severity: Severity::Error, category: "drift" };
pub const UNDECLARED: Code = Code { code: "column-not-declared", severity: Severity::Info, category: "drift" };
pub const TYPE: Code = Code { code: "column-type-mismatch", severity: Severity::Warn, category: "drift" };
pub const NULLABILITY: Code = Code { code: "column-nullability-mismatch", severity: Severity::Warn, category: "drift" };
pub const CODES: &[Code] = &[MISSING, UNDECLARED, TYPE, NULLABILITY];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let org_column = cx.org_column();
    for table in &cx.schema.tables {
        if cx.catalog.table(&table.name).is_none() {
            continue;
        }
        let name = &table.name;
        let is_org = |column: &str| table.is_tenant() && column == org_column;
        for column in &table.columns {
            let Some(db) = cx.catalog.column(name, &column.name) else {
                out.push(MISSING.finding(
                    On::column(name, &column.name),
                    format!("declared column {name}.{} does not exist", column.name),
                    format!("ALTER TABLE {} ADD COLUMN {} {}", ident(name), ident(&column.name), column.ty.sql_name()),
                    cx.catalog.evidence(&COLUMNS, Some(name)),
                ));
                continue;
            };
            let evidence = || cx.catalog.evidence(&COLUMNS, Some(name));
            if db.ty != column.ty.sql_name() {
                out.push(TYPE.finding(
                    On::column(name, &column.name),
                    format!(
                        "{name}.{} is {} in the database but declared {}",
                        column.name,
                        db.ty,
                        column.ty.sql_name()
                    ),
                    format!(
                        "change the declaration, or ALTER TABLE {} ALTER COLUMN {} TYPE {}",
                        ident(name),
                        ident(&column.name),
                        column.ty.sql_name()
                    ),
                    evidence(),
                ));
            }
            if db.not_null == column.nullable {
                let (is, declared) = if db.not_null { ("NOT NULL", "optional") } else { ("nullable", "required") };
                out.push(NULLABILITY.finding(
                    On::column(name, &column.name),
                    format!("{name}.{} is {is} in the database but declared {declared}", column.name),
                    format!(
                        "change the declaration, or ALTER TABLE {} ALTER COLUMN {} {} NOT NULL",
                        ident(name),
                        ident(&column.name),
                        if column.nullable { "DROP" } else { "SET" }
                    ),
                    evidence(),
                ));
            }
        }
        for db in cx.catalog.columns_of(name) {
            if table.column(&db.name).is_none() && !is_org(&db.name) {
                out.push(UNDECLARED.finding(
                    On::column(name, &db.name),
                    format!("column {name}.{} ({}) exists in the database but not in the declaration", db.name, db.ty),
                    "declare it, so the generated models can read it",
                    cx.catalog.evidence(&COLUMNS, Some(name)),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_missing_column_is_found() {
        case(
            "column_missing",
            "column-missing",
            "ALTER TABLE agents DROP COLUMN name",
            "ALTER TABLE agents ADD COLUMN name text NOT NULL DEFAULT ''",
        );
    }

    #[test]
    fn an_undeclared_column_is_found() {
        case(
            "column_not_declared",
            "column-not-declared",
            "ALTER TABLE agents ADD COLUMN \"Nick Name\" text",
            "ALTER TABLE agents DROP COLUMN \"Nick Name\"",
        );
    }

    #[test]
    fn a_mistyped_column_is_found() {
        case(
            "column_type",
            "column-type-mismatch",
            "ALTER TABLE agents ALTER COLUMN name TYPE varchar(20)",
            "ALTER TABLE agents ALTER COLUMN name TYPE text",
        );
    }

    #[test]
    fn a_nullability_difference_is_found() {
        case(
            "column_nullability",
            "column-nullability-mismatch",
            "ALTER TABLE agents ALTER COLUMN name DROP NOT NULL",
            "ALTER TABLE agents ALTER COLUMN name SET NOT NULL",
        );
    }
}
