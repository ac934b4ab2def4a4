//! `role-default-claim`: a login default (`ALTER ROLE ... SET`, `ALTER DATABASE ... SET`) that
//! sets the claim for the app role, a role that can become it, or this database. Every new
//! session starts with that organization's claim: a request that sets none — a health check, a
//! job, a connection fresh from the pool — reads that organization's rows, and the org-scoped
//! API refuses to run on such a connection.

use crate::catalog::{GRANTS, GrantKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "role-default-claim", severity: Severity::Error, category: "role" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let setting = cx.schema.settings.claim.setting();
    for grant in cx.catalog.grants.iter().filter(|g| g.kind == GrantKind::RoleSetting) {
        let Some(entry) = grant.privileges.iter().find(|p| p.split_once('=').is_some_and(|(k, _)| k == setting)) else {
            continue;
        };
        let (role, database) = grant.name.split_once(" in ").unwrap_or((&grant.name, "*"));
        let fix = match (role, database) {
            ("*", database) => format!("ALTER DATABASE {} RESET {}", ident(database), literal_setting(setting)),
            (role, "*") => format!("ALTER ROLE {} RESET {}", ident(role), literal_setting(setting)),
            (role, database) => {
                format!("ALTER ROLE {} IN DATABASE {} RESET {}", ident(role), ident(database), literal_setting(setting))
            }
        };
        let shown = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        out.push(CODE.finding(
            On::global(&grant.name),
            format!(
                "a login default sets the claim ({shown}=…) for {} in {}: every new session starts with an organization's claim",
                role, database
            ),
            fix,
            cx.catalog.evidence(&GRANTS, Some(&grant.name)),
        ));
    }
}

/// A setting name as `ALTER ... RESET` takes it (`app.org_token` is two identifiers).
fn literal_setting(setting: &str) -> String {
    setting.split('.').map(ident).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_claim_set_by_a_role_default_is_found() {
        // Scoped to this test's database, so the cluster-wide app role is untouched elsewhere.
        case(
            "role_default_claim",
            "role-default-claim",
            "DO $$ BEGIN EXECUTE format('ALTER ROLE app_user IN DATABASE %I SET app.org_token = %L', current_database(), 'planted'); END $$",
            "DO $$ BEGIN EXECUTE format('ALTER ROLE app_user IN DATABASE %I RESET app.org_token', current_database()); END $$",
        );
    }
}
