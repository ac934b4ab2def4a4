//! `org-id-missing`: a declared tenant table without the organization column — the seeds' table
//! that shipped without `organization_id`. Checks that need the column skip the table, so this is
//! reported once, not by every org check.

use crate::catalog::COLUMNS;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-missing", severity: Severity::Error, category: "org-column" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let org = cx.org_column();
    for (table, _) in cx.tenant_tables() {
        if cx.catalog.column(&table.name, org).is_some() {
            continue;
        }
        out.push(CODE.finding(
            On::column(&table.name, org),
            format!("tenant table {} has no {org} column: its rows belong to no organization", table.name),
            "plan the conversion (`tenancy-migrate plan`): add the column, backfill it as the declaration's #[backfill] says, then NOT NULL, FK, index, RLS",
            cx.catalog.evidence(&COLUMNS, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::{case, recreate};

    #[test]
    fn a_tenant_table_without_org_id_is_found() {
        case(
            "org_column_missing",
            "org-id-missing",
            "DROP TABLE contacts;
             CREATE TABLE contacts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, agent_id bigint);
             ALTER TABLE contacts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
             CREATE POLICY legacy ON contacts USING (false)",
            &format!("DROP TABLE contacts; {}", recreate("contacts")),
        );
    }
}
