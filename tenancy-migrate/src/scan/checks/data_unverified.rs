//! `data-unverified`: the data checks could not run on a table because the scanning role is
//! subject to its row-level security — counts would be filtered, so none are claimed.

use crate::catalog::{SESSION, TABLES};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Evidence, Finding, Severity};

pub const CODE: Code = Code { code: "data-unverified", severity: Severity::Warn, category: "data" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let session = &cx.catalog.session;
    for name in cx.data_blocked {
        if cx.catalog.table(name).is_none() {
            continue;
        }
        let role = cx.catalog.evidence(&SESSION, None);
        let rls = cx.catalog.evidence(&TABLES, Some(name));
        out.push(CODE.finding(
            On::table(name),
            format!(
                "data checks skipped on {name}: the scanning role {} is subject to its row-level security, so counts would be filtered",
                session.role
            ),
            format!(
                "scan as a role with BYPASSRLS (ALTER ROLE {} BYPASSRLS, as a superuser), or accept --no-data",
                ident(&session.role)
            ),
            Evidence { sql: format!("{};\n{}", role.sql, rls.sql), result: format!("{}\n{}", role.result, rls.result) },
        ));
    }
}
