//! The `auth_org_id()` contract: it exists (`auth-org-id-missing`), is STABLE so the planner may
//! evaluate it once (`auth-org-id-not-stable`), pins its `search_path` so nobody can shadow
//! `current_setting` (`auth-org-id-search-path`), and maps a missing or empty claim to NULL with
//! `nullif` — no rows, never an error, never all rows (`auth-org-id-nullif`).

use crate::catalog::{FUNCTIONS, Function, Row, Volatility};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::names::AUTH_ORG_ID;
use tenancy_schema::report::{Finding, Severity};

pub const MISSING: Code = Code { code: "auth-org-id-missing", severity: Severity::Error, category: "claims" };
pub const NOT_STABLE: Code = Code { code: "auth-org-id-not-stable", severity: Severity::Error, category: "claims" };
pub const SEARCH_PATH: Code = Code { code: "auth-org-id-search-path", severity: Severity::Error, category: "claims" };
pub const NULLIF: Code = Code { code: "auth-org-id-nullif", severity: Severity::Error, category: "claims" };
pub const CODES: &[Code] = &[MISSING, NOT_STABLE, SEARCH_PATH, NULLIF];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let found: Vec<&Row<Function>> =
        cx.catalog.functions.iter().filter(|f| f.name == AUTH_ORG_ID && f.arguments.is_empty()).collect();
    let evidence = || cx.catalog.evidence(&FUNCTIONS, Some(AUTH_ORG_ID));
    let on = On::global(AUTH_ORG_ID);
    let Some(f) = found.first() else {
        out.push(MISSING.finding(
            on,
            format!(
                "function {}.{AUTH_ORG_ID}() does not exist; the organization policies need it",
                cx.schema.settings.schema
            ),
            "apply the migrations (`tenancy-migrate apply`); they create it",
            evidence(),
        ));
        return;
    };
    if f.volatility != Volatility::Stable {
        let is = if f.volatility == Volatility::Volatile {
            "VOLATILE (evaluated for every row)"
        } else {
            "IMMUTABLE (may be cached across claims)"
        };
        out.push(NOT_STABLE.finding(
            on,
            format!("{AUTH_ORG_ID}() is {is}"),
            format!("ALTER FUNCTION {AUTH_ORG_ID}() STABLE"),
            evidence(),
        ));
    }
    if !f.config.iter().any(|c| c.starts_with("search_path=")) {
        out.push(SEARCH_PATH.finding(
            on,
            format!("{AUTH_ORG_ID}() has no fixed search_path: a caller's search_path can change what it calls"),
            format!("ALTER FUNCTION {AUTH_ORG_ID}() SET search_path = pg_catalog, pg_temp"),
            evidence(),
        ));
    }
    if !f.source.to_ascii_lowercase().contains("nullif(") {
        out.push(NULLIF.finding(
            on,
            format!("{AUTH_ORG_ID}() does not map an empty claim to NULL (no nullif): an empty claim raises an error or matches rows"),
            "return nullif(current_setting('app.org_id', true), '')::uuid",
            evidence(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_volatile_claim_function_is_found() {
        case(
            "auth_org_id_volatile",
            "auth-org-id-not-stable",
            "ALTER FUNCTION auth_org_id() VOLATILE",
            "ALTER FUNCTION auth_org_id() STABLE",
        );
    }

    #[test]
    fn a_claim_function_without_search_path_is_found() {
        case(
            "auth_org_id_search_path",
            "auth-org-id-search-path",
            "ALTER FUNCTION auth_org_id() RESET search_path",
            "ALTER FUNCTION auth_org_id() SET search_path = pg_catalog, pg_temp",
        );
    }

    #[test]
    fn a_claim_function_without_nullif_is_found() {
        // The fixture signs its claim: any other function is also no verifier of it.
        crate::scan::testing::case_also(
            "auth_org_id_nullif",
            "auth-org-id-nullif",
            "CREATE OR REPLACE FUNCTION auth_org_id() RETURNS uuid LANGUAGE sql STABLE
               SET search_path = pg_catalog, pg_temp AS $$ SELECT current_setting('app.org_id')::uuid $$",
            &crate::scan::testing::recreate_auth_org_id(),
            &["claim-not-verified"],
        );
    }

    #[test]
    fn a_missing_claim_function_is_found() {
        // Policies depend on it: drop them with it (the finding for those is rls-no-policy).
        crate::scan::testing::case_also(
            "auth_org_id_missing",
            "auth-org-id-missing",
            "DROP FUNCTION auth_org_id() CASCADE",
            &(crate::scan::testing::recreate_auth_org_id() + &crate::scan::testing::recreate_policies()),
            &["rls-no-policy"],
        );
    }
}
