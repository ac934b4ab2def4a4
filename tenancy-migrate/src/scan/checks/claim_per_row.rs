//! `claim-per-row`: a policy calls the claim function directly (`org_id = auth_org_id()`), so
//! PostgreSQL evaluates it for every row; wrapped as `(SELECT auth_org_id())` it runs once per
//! statement.

use crate::catalog::POLICIES;
use crate::scan::policy;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "claim-per-row", severity: Severity::Warn, category: "performance" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, _) in cx.isolated_tables() {
        let name = &table.name;
        for p in cx.catalog.policies_of(name) {
            let per_row =
                [p.using.as_deref(), p.with_check.as_deref()].into_iter().flatten().any(policy::claim_per_row);
            if !per_row {
                continue;
            }
            out.push(CODE.finding(
                On::table(name).detail(&p.name),
                format!("policy {} on {name} evaluates the claim once per row", p.name),
                "wrap the claim in a sub-select: `org_id = (SELECT auth_org_id())`, evaluated once per statement",
                cx.catalog.evidence(&POLICIES, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    const FIX: &str = "DROP POLICY agents_org_isolation ON agents;
        CREATE POLICY agents_org_isolation ON agents TO app_user
          USING (org_id = (SELECT auth_org_id())) WITH CHECK (org_id = (SELECT auth_org_id()))";

    #[test]
    fn a_claim_evaluated_per_row_is_found() {
        case(
            "claim_per_row",
            "claim-per-row",
            "DROP POLICY agents_org_isolation ON agents;
             CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = auth_org_id()) WITH CHECK (org_id = auth_org_id())",
            FIX,
        );
    }
}
