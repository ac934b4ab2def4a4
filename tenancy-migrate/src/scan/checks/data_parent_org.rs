//! `parent-org-mismatch`: child rows whose parent (through a declared reference) is not in the
//! child's organization — the cross-organization links a plain foreign key allows.

use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "parent-org-mismatch", severity: Severity::Error, category: "data" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let org = cx.org_column();
    for data in cx.data {
        for parent in data.parents.iter().filter(|p| p.problem.rows > 0) {
            out.push(CODE.finding(
                On::column(&data.table, &parent.column),
                format!(
                    "{} of {} referencing a {} row outside their organization through {}{}",
                    crate::scan::rows(parent.problem.rows),
                    data.table,
                    parent.parent,
                    parent.column,
                    parent.problem.samples_shown()
                ),
                format!(
                    "fix or clear {} on those rows, then make the foreign key composite: ({org}, {}) → {}({org}, ...)",
                    parent.column, parent.column, parent.parent
                ),
                data.evidence(&parent.problem),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn children_of_another_organizations_parent_are_found() {
        case_also(
            "data_parent_org",
            "parent-org-mismatch",
            "CREATE UNIQUE INDEX agents_id_only ON agents (id);
             ALTER TABLE contacts DROP CONSTRAINT contacts_agent_id_fkey,
               ADD CONSTRAINT contacts_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id);
             UPDATE contacts SET agent_id = 2 WHERE id = 1",
            "UPDATE contacts SET agent_id = 1 WHERE id = 1;
             ALTER TABLE contacts DROP CONSTRAINT contacts_agent_id_fkey,
               ADD CONSTRAINT contacts_agent_id_fkey FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, id) ON DELETE SET NULL (agent_id);
             DROP INDEX agents_id_only",
            // A cross-organization link needs the plain foreign key (and its unique index on id).
            &["tenant-fk-without-org", "unique-without-org"],
        );
    }

    #[test]
    fn a_child_in_another_organization_behind_a_validated_foreign_key_is_found() {
        // The composite foreign key (org_id, agent_id) is validated, but a row written with
        // triggers off names B's agent from A: only reading the rows finds it.
        case_also(
            "data_parent_org_restored",
            "parent-org-mismatch",
            "SET session_replication_role = replica;
             UPDATE contacts SET agent_id = 2 WHERE id = 1;
             SET session_replication_role = DEFAULT",
            "UPDATE contacts SET agent_id = 1 WHERE id = 1",
            &[],
        );
    }
}
