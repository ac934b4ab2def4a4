//! `policy-not-linked`: a shared table's permissive policy for the app role that does not limit
//! rows to those linked to the caller's organization (`EXISTS (SELECT FROM link WHERE
//! link.col = table.key AND link.org_id = <claim>)`): it shows the app every organization's
//! shared rows — every tenant's users.

use crate::catalog::POLICIES;
use crate::scan::policy::{self, LinkShape, Side};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{belongs_to, ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "policy-not-linked", severity: Severity::Error, category: "rls" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (table, link) in cx.shared_tables() {
        let shape = LinkShape {
            link_table: &link.table,
            link_column: &link.column,
            table: &table.name,
            key: &table.key().name,
            org_column: cx.org_column(),
        };
        for p in cx.catalog.policies_of(&table.name) {
            if !p.permissive || !cx.applies_to_app(p) || !policy::sides(p).contains(&Side::Using) {
                continue;
            }
            if policy::expression(p, Side::Using)
                .is_some_and(|e| policy::linked(e, &shape) || through_function(cx, e, &shape))
            {
                continue;
            }
            let claim = format!("(SELECT {}())", ident(names::AUTH_ORG_ID));
            let link_condition = belongs_to(&cx.schema.settings, table, &claim).unwrap_or_default();
            out.push(CODE.finding(
                On::table(&table.name).detail(&p.name),
                format!(
                    "policy {} on shared table {} ({} for {}) does not limit rows to those linked to the caller's organization through {}.{}: every organization's rows are visible",
                    p.name,
                    table.name,
                    policy::command_name(p),
                    p.roles.join(", "),
                    link.table,
                    link.column
                ),
                format!(
                    "replace it: DROP POLICY {pn} ON {t}; CREATE POLICY {pn} ON {t} FOR SELECT TO {} USING ({link_condition})",
                    ident(cx.app_role()),
                    pn = ident(&p.name),
                    t = ident(&table.name),
                ),
                cx.catalog.evidence(&POLICIES, Some(&table.name)),
            ));
        }
    }
}

/// On Citus (no subquery in a policy) the link check is tenancy's function of the key,
/// `tenancy_link_users(id)`: linked when that function's body is the link, read as if written
/// in the policy (its argument standing for the table's key).
fn through_function(cx: &Context<'_>, expression: &str, shape: &LinkShape<'_>) -> bool {
    let name = tenancy_codegen::citus::link_function(shape.table);
    let mut call = expression.trim().replace('"', "");
    while let Some(inner) = call.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
        call = inner.trim().to_owned();
    }
    if call != format!("{name}({})", shape.key) {
        return false;
    }
    cx.catalog.functions.iter().filter(|f| f.name == name).any(|f| {
        let schema = format!("{}.", ident(&cx.schema.settings.schema));
        let key = format!("{}.{}", ident(shape.table), ident(shape.key));
        let body = f.source.replace(&schema, "").replace(" = key ", &format!(" = {key} "));
        let body = body.replace(" = $1 ", &format!(" = {key} "));
        let body = body.trim();
        // `SELECT <condition>` (SQL) or `BEGIN RETURN <condition>; END` (PL/pgSQL).
        let condition = body.strip_prefix("SELECT ").unwrap_or(body);
        let condition = match condition.strip_prefix("BEGIN RETURN ").and_then(|c| c.strip_suffix("END")) {
            Some(returned) => returned.trim().trim_end_matches(';').trim(),
            None => condition,
        };
        f.volatility != tenancy_codegen::catalog::Volatility::Volatile && policy::linked(condition, shape)
    })
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_shared_table_open_to_every_organization_is_found() {
        case(
            "policy_not_linked",
            "policy-not-linked",
            "DROP POLICY users_org_isolation ON users;
             CREATE POLICY users_org_isolation ON users FOR SELECT TO app_user
               USING (EXISTS (SELECT FROM memberships WHERE memberships.user_id = users.id))",
            "DROP POLICY users_org_isolation ON users;
             CREATE POLICY users_org_isolation ON users FOR SELECT TO app_user
               USING (EXISTS (SELECT FROM memberships WHERE memberships.user_id = users.id
                              AND memberships.org_id = (SELECT auth_org_id())))",
        );
    }
}
