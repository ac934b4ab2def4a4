//! `org-id-type`: the organization column's type differs from the root key's (e.g. text or
//! integer where organizations.id is uuid): no foreign key is possible and claims compare wrong.

use crate::catalog::COLUMNS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-type", severity: Severity::Error, category: "org-column" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let expected = cx.schema.root().key().ty.sql_name();
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let Some(column) = cx.catalog.column(name, scoped.org_column) else { continue };
        if column.ty == expected {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, scoped.org_column),
            format!("{name}.{} is {} but organization keys are {expected}", scoped.org_column, column.ty),
            format!(
                "ALTER TABLE {} ALTER COLUMN {} TYPE {expected} USING {}::{expected}",
                ident(name),
                ident(scoped.org_column),
                ident(scoped.org_column)
            ),
            cx.catalog.evidence(&COLUMNS, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn a_text_org_id_is_found() {
        // The policy and the FKs depend on the column's type: drop them, change it, and restore.
        case_also(
            "org_column_type",
            "org-id-type",
            "DROP POLICY agents_org_isolation ON agents;
             DROP TRIGGER tenancy_org_id_immutable ON agents;
             ALTER TABLE contacts DROP CONSTRAINT contacts_agent_id_fkey;
             ALTER TABLE agents DROP CONSTRAINT agents_org_id_fkey;
             ALTER TABLE agents ALTER COLUMN org_id TYPE text;
             CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = (SELECT auth_org_id()::text)) WITH CHECK (org_id = (SELECT auth_org_id()::text));
             CREATE TRIGGER tenancy_org_id_immutable BEFORE UPDATE OF org_id ON agents
               FOR EACH ROW EXECUTE FUNCTION tenancy_org_id_immutable()",
            "DROP POLICY agents_org_isolation ON agents;
             DROP TRIGGER tenancy_org_id_immutable ON agents;
             ALTER TABLE agents ALTER COLUMN org_id TYPE uuid USING org_id::uuid;
             ALTER TABLE agents ADD CONSTRAINT agents_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
             ALTER TABLE contacts ADD CONSTRAINT contacts_agent_id_fkey FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, id) ON DELETE SET NULL (agent_id);
             CREATE POLICY agents_org_isolation ON agents TO app_user
               USING (org_id = (SELECT auth_org_id())) WITH CHECK (org_id = (SELECT auth_org_id()));
             CREATE TRIGGER tenancy_org_id_immutable BEFORE UPDATE OF org_id ON agents
               FOR EACH ROW EXECUTE FUNCTION tenancy_org_id_immutable()",
            // Without the uuid type there can be no foreign key to organizations.
            &["org-fk-missing"],
        );
    }
}
