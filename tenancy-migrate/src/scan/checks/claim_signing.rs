//! The claim's own safety. `claim-unsigned` (information): the claim is a setting any SQL the app
//! role runs can set — one SQL injection names another organization; `claim = signed` closes it.
//! `claim-key-exposed`: with the signed claim, the app role can use the keys' schema or table —
//! whoever reads the keys mints any organization's token. `claim-not-verified`: the declaration
//! says `claim = signed`, but the live `auth_org_id()` is not the generated verifier (a SECURITY
//! DEFINER function checking the token's HMAC): the claim is taken on trust.

use crate::catalog::{GRANTS, GrantKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{self, ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const UNSIGNED: Code = Code { code: "claim-unsigned", severity: Severity::Info, category: "claims" };
pub const KEY_EXPOSED: Code = Code { code: "claim-key-exposed", severity: Severity::Error, category: "claims" };
pub const NOT_VERIFIED: Code = Code { code: "claim-not-verified", severity: Severity::Error, category: "claims" };
pub const CODES: &[Code] = &[UNSIGNED, KEY_EXPOSED, NOT_VERIFIED];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let claim = &cx.schema.settings.claim;
    let role = cx.app_role();
    if !claim.is_signed() {
        out.push(UNSIGNED.finding(
            On::global(claim.setting()),
            format!(
                "the organization claim ({}) is unsigned: SQL running as {role} can set it to any organization (one injection is enough)",
                claim.setting()
            ),
            "declare #![tenancy(claim = signed)] (README, \"Signed claims\"), migrate, and install a key with `tenancy-migrate claim-key install`",
            cx.catalog.evidence(&crate::catalog::FUNCTIONS, Some(names::AUTH_ORG_ID)),
        ));
        return;
    }
    let verifier = cx.catalog.functions.iter().find(|f| f.name == names::AUTH_ORG_ID && f.arguments.is_empty());
    if let Some(f) = verifier {
        let generated = sql::auth_org_id_body(&cx.schema.settings);
        if f.source.trim() != generated || !f.security_definer {
            out.push(NOT_VERIFIED.finding(
                On::global(names::AUTH_ORG_ID),
                format!(
                    "the declaration signs the claim, but {}() is not its verifier (SECURITY DEFINER, checking the token's HMAC): a forged {} is taken on trust",
                    names::AUTH_ORG_ID,
                    claim.setting()
                ),
                "apply the migrations (or `tenancy-migrate plan` for a converted database): they replace it",
                cx.catalog.evidence(&crate::catalog::FUNCTIONS, Some(names::AUTH_ORG_ID)),
            ));
        }
    }
    let exposed = cx.catalog.grants.iter().filter(|g| {
        (g.kind == GrantKind::ClaimKeys && !g.privileges.is_empty())
            || (g.kind == GrantKind::Schema && g.name == names::KEY_SCHEMA && !g.privileges.is_empty())
    });
    for grant in exposed {
        out.push(KEY_EXPOSED.finding(
            On::global(&grant.name),
            format!(
                "{role} holds {} on {}: whoever reads the claim keys can sign any organization's claim",
                grant.privileges.join(", "),
                grant.name
            ),
            format!(
                "REVOKE ALL ON SCHEMA {s} FROM PUBLIC, {r}; REVOKE ALL ON {s}.{t} FROM PUBLIC, {r}",
                s = ident(names::KEY_SCHEMA),
                t = ident(names::KEY_TABLE),
                r = ident(role)
            ),
            cx.catalog.evidence(&GRANTS, Some(&grant.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn readable_claim_keys_are_found() {
        case(
            "claim_key_exposed",
            "claim-key-exposed",
            "GRANT SELECT ON tenancy_private.claim_keys TO app_user",
            "REVOKE SELECT ON tenancy_private.claim_keys FROM app_user",
        );
    }

    #[test]
    fn a_verifier_that_does_not_verify_is_found() {
        crate::scan::testing::case_also(
            "claim_not_verified",
            "claim-not-verified",
            "CREATE OR REPLACE FUNCTION auth_org_id() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
               SET search_path = pg_catalog, pg_temp
               AS $$ SELECT nullif(split_part(current_setting('app.org_token', true), '.', 1), '')::uuid $$",
            &crate::scan::testing::recreate_auth_org_id(),
            // A definer function that is not the generated verifier is one more definer.
            &["security-definer-executable"],
        );
    }

    #[test]
    fn an_unsigned_claim_is_information() {
        use crate::scan::testing::{DECLARATION, fixture};
        use crate::scan::{Options, scan};
        let declaration = DECLARATION.replace("claim = signed", "claim = \"app.org_id\"");
        let declaration = tenancy_schema::parse_str("fixture.rs", &declaration).unwrap();
        let db = fixture("claim_unsigned");
        let report = scan(&mut db.admin(), &declaration, &Options { data: false, ..Options::default() }).unwrap();
        let unsigned: Vec<_> = report.findings.iter().filter(|f| f.code == "claim-unsigned").collect();
        assert_eq!(unsigned.len(), 1, "{:#?}", report.findings);
        assert!(unsigned[0].message.contains("app.org_id"));
    }
}
