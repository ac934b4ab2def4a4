//! `table-not-declared`: a table in the database the declaration does not know — the seeds'
//! "49 tables vs 38 models". Nobody decided whether it holds tenant data, so nothing isolates it.

use crate::catalog::{GrantKind, TABLES};
use crate::scan::{Code, Context, INTERNAL_TABLES, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "table-not-declared", severity: Severity::Warn, category: "drift" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for table in &cx.catalog.tables {
        if cx.declared.table(&table.name).is_some() || INTERNAL_TABLES.contains(&table.name.as_str()) {
            continue;
        }
        // Whether the app role can read it decides how urgent it is (a copy of tenant rows with
        // the org column is an error of its own: undeclared-table-readable).
        let readable = cx.catalog.grant(GrantKind::Table, &table.name).is_some_and(|g| g.has("SELECT"));
        let reach = match (readable, table.rls_enabled) {
            (true, false) => {
                format!(", and {} can read all of it (SELECT granted, no row-level security)", cx.app_role())
            }
            (true, true) => format!(", and {} can read what its own policies allow (SELECT granted)", cx.app_role()),
            (false, _) => String::new(),
        };
        out.push(CODE.finding(
            On::table(&table.name),
            format!("table {} exists in the database but not in the declaration{reach}", table.name),
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
