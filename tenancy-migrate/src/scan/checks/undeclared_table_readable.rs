//! `undeclared-table-readable`: a table the declaration does not know, with the org column, that
//! the app role can read with no row-level security — a copy of tenant rows (a backup, an
//! export, a denormalised cache). Every organization reads every other's rows in it: an error
//! when the data pass found organization rows there, a warning when it could not look
//! (`--no-data`) or found none yet.

use crate::catalog::GRANTS;
use crate::scan::data::readable_copies;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Evidence, Finding, Severity};

pub const HOLDS: Code = Code { code: "undeclared-table-readable", severity: Severity::Error, category: "privilege" };
pub const EMPTY: Code =
    Code { code: "undeclared-table-readable-empty", severity: Severity::Warn, category: "privilege" };
pub const CODES: &[Code] = &[HOLDS, EMPTY];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let role = cx.app_role();
    for table in readable_copies(&cx.declared, cx.catalog) {
        let looked = cx.undeclared.iter().find(|u| u.table == table);
        let (code, what, evidence) = match looked {
            Some(u) if u.holds_rows => (
                HOLDS,
                "holds organizations' rows, and every organization can read all of them",
                Evidence { sql: format!("{};", u.sql), result: u.result.clone() },
            ),
            Some(u) => (
                EMPTY,
                "holds no organization's rows yet; once it does, every organization reads them",
                Evidence { sql: format!("{};", u.sql), result: u.result.clone() },
            ),
            None => (
                EMPTY,
                "may hold organizations' rows (not looked into: --no-data), which every organization could read",
                cx.catalog.evidence(&GRANTS, Some(table)),
            ),
        };
        out.push(code.finding(
            On::table(table),
            format!(
                "undeclared table {table} has {} and {role} can read it without row-level security: it {what}",
                cx.org_column()
            ),
            format!(
                "declare it as a tenant table (tenancy then isolates it), or REVOKE ALL ON {} FROM {}",
                ident(table),
                ident(role)
            ),
            evidence,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn a_readable_copy_of_tenant_rows_is_found() {
        case_also(
            "undeclared_table_readable",
            "undeclared-table-readable",
            "CREATE TABLE contacts_backup AS SELECT * FROM contacts; GRANT SELECT ON contacts_backup TO app_user",
            "DROP TABLE contacts_backup",
            &["table-not-declared"],
        );
    }
}
