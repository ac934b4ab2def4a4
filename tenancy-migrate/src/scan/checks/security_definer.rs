//! `security-definer-executable`: a SECURITY DEFINER function the app role may execute. It runs
//! with its owner's rights — exempt from row-level security — so it must check the organization
//! itself. Trigger functions are left out (they cannot be called directly).

use crate::catalog::FUNCTIONS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{self, ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "security-definer-executable", severity: Severity::Warn, category: "function" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for f in &cx.catalog.functions {
        if !f.security_definer || f.app_role_can_execute != Some(true) || f.returns_trigger {
            continue;
        }
        // The signed claim's verifier is a definer by design (it alone reads the keys), and
        // checked by auth_org_id.rs and claim_signing.rs.
        let ours = f.name == names::AUTH_ORG_ID
            && f.arguments.is_empty()
            && f.source.trim() == sql::auth_org_id_body(&cx.schema.settings);
        if ours && cx.schema.settings.claim.is_signed() {
            continue;
        }
        let signature = format!("{}({})", f.name, f.arguments);
        out.push(CODE.finding(
            On::global(&signature),
            format!(
                "SECURITY DEFINER function {signature} can be executed by {}: it runs with its owner's rights, outside row-level security",
                cx.app_role()
            ),
            format!(
                "make it SECURITY INVOKER, or REVOKE EXECUTE ON FUNCTION {}({}) FROM PUBLIC, {} and check the organization inside",
                ident(&f.name),
                f.arguments,
                ident(cx.app_role())
            ),
            cx.catalog.evidence(&FUNCTIONS, Some(&f.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn an_executable_security_definer_function_is_found() {
        case(
            "security_definer",
            "security-definer-executable",
            "CREATE FUNCTION all_agents() RETURNS bigint LANGUAGE sql SECURITY DEFINER
               SET search_path = pg_catalog, public AS $$ SELECT count(*) FROM agents $$",
            "REVOKE EXECUTE ON FUNCTION all_agents() FROM PUBLIC",
        );
    }
}
