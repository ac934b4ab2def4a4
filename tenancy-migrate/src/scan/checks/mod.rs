//! Every check, one file each. A check is a pure function of the [`Context`]: it reads the
//! declaration, the catalog and the data facts, and pushes findings — each with its evidence.
//! Each file ends with its real-database test: break the object → exactly one finding; fix it →
//! none (see `scan::testing::case`).

use super::{Code, Context};
use tenancy_schema::report::Finding;

mod app_role;
mod app_role_can_create;
mod auth_org_id;
mod citus_placement;
mod claim_from_user_metadata;
mod claim_per_row;
mod claim_signing;
mod column_drift;
mod data_null_org;
mod data_orphan_org;
mod data_parent_org;
mod data_unverified;
mod definer_trigger;
mod global_personal_data;
mod materialized_view;
mod member_of_privileged_role;
mod org_column_missing;
mod org_column_nullable;
mod org_column_type;
mod org_fk_missing;
mod org_fk_not_cascade;
mod org_id_mutable;
mod org_index_missing;
mod policy_always_true;
mod policy_not_linked;
mod policy_not_org_scoped;
mod policy_several_permissive;
mod privilege_beyond_rls;
mod rls_disabled;
mod rls_no_policy;
mod rls_not_forced;
mod role_default_claim;
mod security_definer;
mod table_missing;
mod table_not_declared;
mod tenant_fk_without_org;
mod undeclared_table_readable;
mod unique_global;
mod unique_without_org;
mod view_security_invoker;

pub struct Check {
    pub codes: &'static [Code],
    pub run: fn(&Context<'_>, &mut Vec<Finding>),
}

macro_rules! checks {
    ($($check:ident),* $(,)?) => {
        /// Every check, in the order they run.
        pub const ALL: &[Check] = &[$(Check { codes: $check::CODES, run: $check::check }),*];
    };
}

checks![
    table_not_declared,
    undeclared_table_readable,
    table_missing,
    column_drift,
    org_column_missing,
    org_column_nullable,
    org_column_type,
    org_fk_missing,
    org_fk_not_cascade,
    tenant_fk_without_org,
    org_index_missing,
    unique_without_org,
    unique_global,
    rls_disabled,
    rls_not_forced,
    rls_no_policy,
    policy_not_org_scoped,
    policy_not_linked,
    global_personal_data,
    policy_always_true,
    policy_several_permissive,
    claim_per_row,
    claim_from_user_metadata,
    auth_org_id,
    app_role,
    view_security_invoker,
    materialized_view,
    security_definer,
    definer_trigger,
    role_default_claim,
    org_id_mutable,
    data_null_org,
    data_orphan_org,
    data_parent_org,
    data_unverified,
    privilege_beyond_rls,
    app_role_can_create,
    member_of_privileged_role,
    claim_signing,
    citus_placement,
];

/// Every code any check can report.
pub fn codes() -> impl Iterator<Item = &'static Code> {
    ALL.iter().flat_map(|c| c.codes.iter())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_documented_and_unique() {
        let doc = include_str!("../../../../docs/report-format.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in super::codes() {
            assert!(seen.insert(code.code), "{} is used by two checks", code.code);
            assert!(
                doc.contains(&format!("| `{}` |", code.code)),
                "{} is missing from docs/report-format.md",
                code.code
            );
        }
    }
}
