//! `policy-not-org-scoped`: a permissive policy that applies to the app role and does not compare
//! the organization column with the claim, in USING (rows it may see) or WITH CHECK (rows it may
//! write). Permissive policies are OR-ed: one such policy opens the table. A restrictive policy
//! that is org-scoped on the same side closes it again, and then nothing is reported.

use crate::catalog::POLICIES;
use crate::scan::policy;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "policy-not-org-scoped", severity: Severity::Error, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        for p in cx.catalog.policies_of(name) {
            // An always-true write policy is reported by policy-always-true, once.
            if cx.always_true_write(p, org) {
                continue;
            }
            let open = cx.open_sides(p, org);
            if open.is_empty() {
                continue;
            }
            let sides: Vec<&str> = open.iter().map(|s| s.sql()).collect();
            out.push(CODE.finding(
                On::table(name).detail(&p.name),
                format!(
                    "policy {} on {name} ({} for {}) does not compare {org} with the organization claim in {}",
                    p.name,
                    policy::command_name(p),
                    p.roles.join(", "),
                    sides.join(" and ")
                ),
                format!(
                    "replace it: DROP POLICY {pn} ON {t}; CREATE POLICY {pn} ON {t} FOR {} TO {} USING ({o} = (SELECT auth_org_id())) WITH CHECK ({o} = (SELECT auth_org_id()))",
                    policy::command_name(p),
                    ident(cx.app_role()),
                    pn = ident(&p.name),
                    t = ident(name),
                    o = ident(org),
                ),
                cx.catalog.evidence(&POLICIES, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_policy_on_the_wrong_column_is_found() {
        case(
            "policy_not_org_scoped",
            "policy-not-org-scoped",
            "DROP POLICY agents_org_isolation ON agents;
             CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = (SELECT auth_org_id()) OR name = 'shared')
               WITH CHECK (org_id = (SELECT auth_org_id()))",
            "DROP POLICY agents_org_isolation ON agents;
             CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = (SELECT auth_org_id())) WITH CHECK (org_id = (SELECT auth_org_id()))",
        );
    }

    #[test]
    fn a_restrictive_org_policy_closes_a_permissive_one() {
        use crate::scan::testing::{fixture, scan_as};
        use diesel::connection::SimpleConnection;
        let db = fixture("policy_restrictive_cover");
        let mut conn = db.admin();
        let codes = |conn: &mut diesel::PgConnection| -> Vec<String> {
            scan_as(conn).findings.into_iter().map(|f| f.code).collect()
        };
        conn.batch_execute("CREATE POLICY everyone_reads ON agents FOR SELECT TO app_user USING (name IS NOT NULL)")
            .unwrap();
        assert_eq!(codes(&mut conn), ["policy-not-org-scoped", "policy-several-permissive"]);
        conn.batch_execute(
            "CREATE POLICY org_only ON agents AS RESTRICTIVE FOR SELECT TO app_user USING (org_id = (SELECT auth_org_id()))",
        )
        .unwrap();
        assert_eq!(codes(&mut conn), ["policy-several-permissive"]);
    }
}
