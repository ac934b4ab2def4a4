//! `rls-no-policy`: RLS is enabled but the table has no policy: every query of the app role sees
//! nothing and every write fails — not a leak, but the application is broken on this table.

use crate::catalog::POLICIES;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "rls-no-policy", severity: Severity::Warn, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, db) in cx.isolated_tables() {
        if !db.rls_enabled || cx.catalog.policies_of(&table.name).next().is_some() {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!(
                "row-level security is enabled on {} but it has no policy: the app role can read or write nothing",
                table.name
            ),
            "create the organization policy (`tenancy-migrate plan` writes it)",
            cx.catalog.evidence(&POLICIES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn rls_without_policy_is_found() {
        case(
            "rls_no_policy",
            "rls-no-policy",
            "DROP POLICY agents_org_isolation ON agents",
            "CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = (SELECT auth_org_id())) WITH CHECK (org_id = (SELECT auth_org_id()))",
        );
    }
}
