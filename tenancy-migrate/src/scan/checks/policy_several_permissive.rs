//! `policy-several-permissive`: more than one permissive policy applies to the app role for the
//! same command. They are OR-ed, so the table is only as tight as the loosest one, and each
//! must be evaluated for every row.

use crate::catalog::POLICIES;
use crate::scan::policy;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "policy-several-permissive", severity: Severity::Warn, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, _) in cx.isolated_tables() {
        let name = &table.name;
        let permissive: Vec<_> =
            cx.catalog.policies_of(name).filter(|p| p.permissive && cx.applies_to_app(p)).collect();
        let overlapping: Vec<&str> = ["SELECT", "INSERT", "UPDATE", "DELETE"]
            .into_iter()
            .filter(|command| permissive.iter().filter(|p| policy::commands(p).contains(command)).count() > 1)
            .collect();
        if overlapping.is_empty() {
            continue;
        }
        let names: Vec<&str> = permissive.iter().map(|p| p.name.as_str()).collect();
        out.push(CODE.finding(
            On::table(name),
            format!(
                "{} permissive policies on {name} apply to {} for {} ({}): they are OR-ed",
                permissive.len(),
                cx.app_role(),
                overlapping.join(", "),
                names.join(", ")
            ),
            "merge them into one policy per command, or make the extra conditions AS RESTRICTIVE",
            cx.catalog.evidence(&POLICIES, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn two_permissive_policies_for_one_command_are_found() {
        case(
            "policy_several_permissive",
            "policy-several-permissive",
            "CREATE POLICY active_only ON agents FOR SELECT TO app_user USING (org_id = (SELECT auth_org_id()) AND name <> '')",
            "DROP POLICY active_only ON agents",
        );
    }
}
