//! `org-id-orphan-rows`: rows whose organization does not exist — without the foreign key (or
//! with one NOT VALID), and also behind one PostgreSQL marks validated, when rows were restored
//! with triggers disabled (`pg_restore --disable-triggers`, `session_replication_role =
//! replica`): the data pass never trusts the flag.

use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-orphan-rows", severity: Severity::Error, category: "data" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let org = cx.org_column();
    let root = &cx.schema.root().name;
    for data in cx.data {
        let Some(problem) = data.orphan_org.as_ref().filter(|p| p.rows > 0) else { continue };
        out.push(CODE.finding(
            On::column(&data.table, org),
            format!(
                "{} of {} with an organization that does not exist in {root}{}",
                crate::scan::rows(problem.rows),
                data.table,
                problem.samples_shown()
            ),
            format!("move them to an existing organization or delete them, then add the foreign key to {root}"),
            data.evidence(problem),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn rows_of_a_missing_organization_are_found() {
        case_also(
            "data_orphan_org",
            "org-id-orphan-rows",
            "ALTER TABLE agents DROP CONSTRAINT agents_org_id_fkey;
             INSERT INTO agents (org_id, id, name) VALUES ('0000000c-0000-4000-8000-000000000000', 9, 'ghost')",
            "DELETE FROM agents WHERE id = 9;
             ALTER TABLE agents ADD CONSTRAINT agents_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE",
            // Orphans need the foreign key gone.
            &["org-fk-missing"],
        );
    }

    #[test]
    fn orphans_behind_a_validated_foreign_key_are_found() {
        // Restored with triggers off: the foreign key stays "validated" and proves nothing.
        case_also(
            "data_orphan_org_restored",
            "org-id-orphan-rows",
            "SET session_replication_role = replica;
             INSERT INTO agents (org_id, id, name) VALUES ('0000000c-0000-4000-8000-000000000000', 9, 'ghost');
             SET session_replication_role = DEFAULT",
            "DELETE FROM agents WHERE id = 9",
            &[],
        );
    }
}
