//! `materialized-view-over-tenant-table`: a materialized view copies tenant rows into a relation
//! that cannot have row-level security at all; whoever can read it reads every organization.

use crate::catalog::{VIEWS, ViewKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code =
    Code { code: "materialized-view-over-tenant-table", severity: Severity::Error, category: "view" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for view in cx.catalog.views.iter().filter(|v| v.kind == ViewKind::Materialized) {
        let isolated = cx.isolated_tables_read_by(view);
        if isolated.is_empty() || view.app_role_can_select == Some(false) {
            continue;
        }
        out.push(CODE.finding(
            On::global(&view.name),
            format!(
                "materialized view {} copies rows of {} and the app role can read it: materialized views have no row-level security",
                view.name,
                isolated.join(", ")
            ),
            format!("REVOKE SELECT ON {} FROM {}, or replace it by a security_invoker view", ident(&view.name), ident(cx.app_role())),
            cx.catalog.evidence(&VIEWS, Some(&view.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_readable_materialized_view_over_a_tenant_table_is_found() {
        case(
            "materialized_view",
            "materialized-view-over-tenant-table",
            "CREATE MATERIALIZED VIEW agent_counts AS SELECT org_id, count(*) FROM agents GROUP BY org_id;
             GRANT SELECT ON agent_counts TO app_user",
            "REVOKE SELECT ON agent_counts FROM app_user",
        );
    }
}
