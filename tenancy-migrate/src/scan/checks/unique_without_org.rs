//! `unique-without-org`: a primary key, unique constraint or unique index of a tenant table that
//! does not include the organization column. Two organizations cannot then hold the same value,
//! and the constraint error tells one organization that the other has it. A key the declaration
//! says is global (`#[unique(global)]`) is `unique-global`'s.

use crate::catalog::INDEXES;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "unique-without-org", severity: Severity::Error, category: "index" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        let declared = |columns: &[String]| {
            scoped.table.is_global_unique(&columns.iter().map(String::as_str).collect::<Vec<_>>())
                || crate::scan::global_expression(scoped.table, columns).is_some()
        };
        // Declared global keys are reported by `unique-global` (info) instead.
        let undeclared = |i: &&crate::catalog::Row<crate::catalog::Index>| {
            i.unique && !i.columns.iter().any(|c| c == org) && !declared(&i.columns)
        };
        for index in cx.catalog.indexes_of(name).filter(undeclared) {
            let kind = if index.primary { "primary key" } else { "unique index" };
            let mut columns = vec![ident(org)];
            columns.extend(index.columns.iter().map(|c| ident(c)));
            out.push(CODE.finding(
                On::table(name).detail(&index.name),
                format!("{kind} {} on {name} ({}) does not include {org}", index.name, index.columns.join(", ")),
                format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY ON {} ({}); then replace {} with it (ALTER TABLE ... ADD CONSTRAINT ... USING INDEX)",
                    ident(name),
                    columns.join(", "),
                    ident(&index.name)
                ),
                cx.catalog.evidence(&INDEXES, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_unique_key_without_org_id_is_found() {
        case(
            "unique_without_org",
            "unique-without-org",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_org_id_email_key, ADD CONSTRAINT contacts_org_id_email_key UNIQUE (email)",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_org_id_email_key, ADD CONSTRAINT contacts_org_id_email_key UNIQUE (org_id, email)",
        );
    }
}
