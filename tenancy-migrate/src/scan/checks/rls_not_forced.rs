//! `rls-not-forced`: RLS is enabled but not forced, so the table's owner — often the role
//! migrations and background jobs run as — bypasses every policy.

use crate::catalog::TABLES;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "rls-not-forced", severity: Severity::Warn, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, db) in cx.isolated_tables() {
        if !db.rls_enabled || db.rls_forced {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!(
                "row-level security on {} is not forced: its owner ({}) bypasses the policies",
                table.name, db.owner
            ),
            format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", ident(&table.name)),
            cx.catalog.evidence(&TABLES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn unforced_rls_is_found() {
        case(
            "rls_not_forced",
            "rls-not-forced",
            "ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE contacts FORCE ROW LEVEL SECURITY",
        );
    }
}
