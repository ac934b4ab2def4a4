//! `org-id-null-rows`: rows whose organization column is NULL — owned by no organization,
//! invisible to every app session, and blocking `SET NOT NULL`.

use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-null-rows", severity: Severity::Error, category: "data" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let org = cx.org_column();
    for data in cx.data.iter().filter(|d| d.null_org.rows > 0) {
        out.push(CODE.finding(
            On::column(&data.table, org),
            format!("{} of {} with no organization ({org} IS NULL){}", crate::scan::rows(data.null_org.rows), data.table, data.null_org.samples_shown()),
            "backfill them as the declaration's #[backfill] says (`tenancy-migrate plan` writes the batched backfill), or delete them",
            data.evidence(&data.null_org),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn rows_without_an_organization_are_found() {
        case_also(
            "data_null_org",
            "org-id-null-rows",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD CONSTRAINT contacts_pkey UNIQUE (org_id, id);
             ALTER TABLE contacts ALTER COLUMN org_id DROP NOT NULL;
             INSERT INTO contacts (org_id, id, email) VALUES (NULL, 7, 'legacy@x'), (NULL, 8, 'legacy2@x')",
            "DELETE FROM contacts WHERE org_id IS NULL;
             ALTER TABLE contacts ALTER COLUMN org_id SET NOT NULL;
             ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD CONSTRAINT contacts_pkey PRIMARY KEY (org_id, id)",
            // NULLs need a nullable column.
            &["org-id-nullable"],
        );
    }
}
