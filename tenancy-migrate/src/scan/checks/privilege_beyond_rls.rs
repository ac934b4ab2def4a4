//! Privileges row-level security does not govern. On a table isolated by organization,
//! TRUNCATE empties every organization's rows, REFERENCES lets a table of the app role's probe
//! other organizations' keys, and TRIGGER runs the app role's code on their writes
//! (`privilege-beyond-rls`). On a global or shared table, any write changes what other
//! organizations read (`global-table-writable`). On an internal table, any privilege at all is
//! one the declaration says the application does not have (`internal-table-accessible`).

use crate::catalog::{GRANTS, GrantKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::Scope;
use tenancy_schema::report::{Finding, Severity};

pub const BEYOND_RLS: Code = Code { code: "privilege-beyond-rls", severity: Severity::Error, category: "privilege" };
pub const GLOBAL_WRITABLE: Code =
    Code { code: "global-table-writable", severity: Severity::Warn, category: "privilege" };
pub const INTERNAL: Code = Code { code: "internal-table-accessible", severity: Severity::Error, category: "privilege" };
pub const CODES: &[Code] = &[BEYOND_RLS, GLOBAL_WRITABLE, INTERNAL];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let role = cx.app_role();
    for table in &cx.schema.tables {
        let Some(grant) = cx.catalog.grant(GrantKind::Table, &table.name) else { continue };
        // An owner holds every privilege; that is reported once, by app-role-owner.
        if cx.catalog.table(&table.name).is_some_and(|t| t.app_role_owns == Some(true)) {
            continue;
        }
        let (code, dangerous, why): (Code, &[&str], &str) = match table.scope {
            Scope::Global | Scope::Shared => (
                GLOBAL_WRITABLE,
                &["INSERT", "UPDATE", "DELETE", "TRUNCATE"],
                "a table organizations share; a write by one changes what others see",
            ),
            Scope::Internal => (
                INTERNAL,
                &["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
                "an internal table the application is declared not to touch, with no row-level security for it",
            ),
            Scope::Tenant | Scope::Root => (
                BEYOND_RLS,
                &["TRUNCATE", "REFERENCES", "TRIGGER"],
                "row-level security does not govern these: they reach every organization's rows",
            ),
        };
        let held: Vec<&str> = dangerous.iter().copied().filter(|p| grant.has(p)).collect();
        if held.is_empty() {
            continue;
        }
        out.push(code.finding(
            On::table(&table.name).detail(role),
            format!("{role} holds {} on {}: {why}", held.join(", "), table.name),
            format!("REVOKE {} ON {} FROM {}", held.join(", "), ident(&table.name), ident(role)),
            cx.catalog.evidence(&GRANTS, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn truncate_on_a_tenant_table_is_found() {
        case(
            "privilege_truncate",
            "privilege-beyond-rls",
            "GRANT TRUNCATE, TRIGGER ON agents TO app_user",
            "REVOKE TRUNCATE, TRIGGER ON agents FROM app_user",
        );
    }

    #[test]
    fn writes_on_a_global_table_are_found() {
        case(
            "privilege_global_write",
            "global-table-writable",
            "GRANT INSERT, UPDATE ON plans TO app_user",
            "REVOKE INSERT, UPDATE ON plans FROM app_user",
        );
    }
}
