//! `rls-disabled`: row-level security is off on a table that must be isolated by organization:
//! every role with a grant sees every organization's rows.

use crate::catalog::TABLES;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "rls-disabled", severity: Severity::Error, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, db) in cx.isolated_tables() {
        if db.rls_enabled {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!("row-level security is disabled on {}: the app role sees every organization's rows", table.name),
            format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY (after creating its policy)", ident(&table.name)),
            cx.catalog.evidence(&TABLES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn disabled_rls_is_found() {
        case(
            "rls_disabled",
            "rls-disabled",
            "ALTER TABLE agents DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE agents ENABLE ROW LEVEL SECURITY",
        );
    }
}
