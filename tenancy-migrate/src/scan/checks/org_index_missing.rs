//! `org-index-missing`: no valid index leads with the organization column, so every RLS-filtered
//! query scans the whole table.

use crate::catalog::INDEXES;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-index-missing", severity: Severity::Warn, category: "index" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        let leads = |i: &&crate::catalog::Row<crate::catalog::Index>| {
            i.valid && !i.partial && i.columns.first().map(String::as_str) == Some(org)
        };
        if cx.catalog.indexes_of(name).any(|i| leads(&i)) {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, org),
            format!("no index of {name} leads with {org}: every organization-filtered query scans the table"),
            format!(
                "CREATE INDEX CONCURRENTLY {} ON {} ({})",
                ident(&names::index(name, &[org])),
                ident(name),
                ident(org)
            ),
            cx.catalog.evidence(&INDEXES, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_table_without_an_org_leading_index_is_found() {
        // The primary key (org_id, id) is such an index: replace it by (id, org_id).
        case(
            "org_index_missing",
            "org-index-missing",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD CONSTRAINT contacts_pkey PRIMARY KEY (id, org_id);
             ALTER TABLE contacts DROP CONSTRAINT contacts_org_id_email_key, ADD CONSTRAINT contacts_org_id_email_key UNIQUE (email, org_id);
             DROP INDEX contacts_org_id_agent_id_idx",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD CONSTRAINT contacts_pkey PRIMARY KEY (org_id, id);
             ALTER TABLE contacts DROP CONSTRAINT contacts_org_id_email_key, ADD CONSTRAINT contacts_org_id_email_key UNIQUE (org_id, email);
             CREATE INDEX contacts_org_id_agent_id_idx ON contacts (org_id, agent_id)",
        );
    }
}
