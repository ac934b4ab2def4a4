//! `claim-from-user-metadata`: a policy or the claim function reads the organization from the
//! JWT's `user_metadata`, which the user can edit (Supabase: `auth.updateUser`). Any user can
//! then claim any organization. Read `app_metadata` (written by the server only).

use crate::catalog::{FUNCTIONS, POLICIES};
use crate::scan::policy;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "claim-from-user-metadata", severity: Severity::Error, category: "claims" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for p in &cx.catalog.policies {
        let reads =
            [p.using.as_deref(), p.with_check.as_deref()].into_iter().flatten().any(policy::reads_user_metadata);
        if reads {
            out.push(CODE.finding(
                On::table(&p.table).detail(&p.name),
                format!("policy {} on {} reads the organization from user_metadata, which users can edit", p.name, p.table),
                "read it from app_metadata: (auth.jwt() -> 'app_metadata' ->> 'org_id')::uuid, or use the postgrest claim preset",
                cx.catalog.evidence(&POLICIES, Some(&p.table)),
            ));
        }
    }
    for f in cx.catalog.functions.iter().filter(|f| policy::reads_user_metadata(&f.source)) {
        out.push(CODE.finding(
            On::global(&f.name),
            format!("function {}({}) reads user_metadata, which users can edit", f.name, f.arguments),
            "read the organization from app_metadata instead (the postgrest claim preset does)",
            cx.catalog.evidence(&FUNCTIONS, Some(&f.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_claim_from_user_metadata_is_found() {
        case(
            "claim_from_user_metadata",
            "claim-from-user-metadata",
            "CREATE POLICY metadata_org ON agents AS RESTRICTIVE FOR SELECT TO app_user
               USING (org_id = (SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{user_metadata,org_id}')::uuid))",
            "DROP POLICY metadata_org ON agents",
        );
    }
}
