//! `view-without-security-invoker`: a view reads a tenant table with its owner's rights (the
//! default before PostgreSQL 15's `security_invoker`), so the table's policies are checked
//! against the owner — usually exempt — and the app role reads every organization through it.

use crate::catalog::{VIEWS, ViewKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "view-without-security-invoker", severity: Severity::Error, category: "view" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for view in cx.catalog.views.iter().filter(|v| v.kind == ViewKind::View) {
        let isolated = cx.isolated_tables_read_by(view);
        if isolated.is_empty() || view.security_invoker() {
            continue;
        }
        out.push(CODE.finding(
            On::global(&view.name),
            format!(
                "view {} reads {} with its owner's rights, bypassing their row-level security",
                view.name,
                isolated.join(", ")
            ),
            format!("ALTER VIEW {} SET (security_invoker = true)", ident(&view.name)),
            cx.catalog.evidence(&VIEWS, Some(&view.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_definer_rights_view_over_a_tenant_table_is_found() {
        case(
            "view_security_invoker",
            "view-without-security-invoker",
            "CREATE VIEW \"Agent Names\" AS SELECT id, name FROM agents",
            "ALTER VIEW \"Agent Names\" SET (security_invoker = true)",
        );
    }
}
