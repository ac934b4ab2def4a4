//! `table-not-declared`: a table in the database the declaration does not know — the seeds'
//! "49 tables vs 38 models". Nobody decided whether it holds tenant data, so nothing isolates it.

use crate::catalog::TABLES;
use crate::scan::{Code, Context, INTERNAL_TABLES, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "table-not-declared", severity: Severity::Warn, category: "drift" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for table in &cx.catalog.tables {
        if cx.schema.table(&table.name).is_some() || INTERNAL_TABLES.contains(&table.name.as_str()) {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!("table {} exists in the database but not in the declaration", table.name),
            format!(
                "declare it (tenant if its rows belong to an organization, else global), or drop it: DROP TABLE {}",
                ident(&table.name)
            ),
            cx.catalog.evidence(&TABLES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn an_undeclared_table_is_found() {
        case("table_not_declared", "table-not-declared", "CREATE TABLE sessions (id bigint)", "DROP TABLE sessions");
    }
}
