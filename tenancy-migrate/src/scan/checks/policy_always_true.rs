//! `policy-always-true`: a permissive write policy (INSERT, UPDATE, DELETE or ALL) whose USING or
//! WITH CHECK is `true` — the seeds' "permissive policy": the app role may write any row of any
//! organization.

use crate::catalog::POLICIES;
use crate::scan::policy;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "policy-always-true", severity: Severity::Error, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        for p in cx.catalog.policies_of(name).filter(|p| cx.always_true_write(p, org)) {
            out.push(CODE.finding(
                On::table(name).detail(&p.name),
                format!(
                    "policy {} on {name} lets {} {} any row of any organization (its condition is always true)",
                    p.name,
                    p.roles.join(", "),
                    policy::verb(p)
                ),
                format!(
                    "DROP POLICY {} ON {}; the organization policy (`tenancy-migrate plan`) already allows same-organization writes",
                    ident(&p.name),
                    ident(name)
                ),
                cx.catalog.evidence(&POLICIES, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn an_always_true_write_policy_is_found() {
        case_also(
            "policy_always_true",
            "policy-always-true",
            "CREATE POLICY service_writes ON contacts FOR UPDATE TO app_user USING (true) WITH CHECK (true)",
            "DROP POLICY service_writes ON contacts",
            // A second permissive UPDATE policy is also, by itself, OR-ed with the first.
            &["policy-several-permissive"],
        );
    }
}
