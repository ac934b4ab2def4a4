//! `org-id-nullable`: the organization column allows NULL, so a row can belong to no one (and,
//! with RLS, be invisible to everyone — or with a careless policy, to everyone).

use crate::catalog::COLUMNS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-nullable", severity: Severity::Error, category: "org-column" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let Some(column) = cx.catalog.column(name, scoped.org_column) else { continue };
        if column.not_null {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, scoped.org_column),
            format!("{name}.{} is nullable", scoped.org_column),
            format!(
                "backfill it, then without a long lock: ALTER TABLE {t} ADD CONSTRAINT {c} CHECK ({o} IS NOT NULL) NOT VALID; ALTER TABLE {t} VALIDATE CONSTRAINT {c}; ALTER TABLE {t} ALTER COLUMN {o} SET NOT NULL",
                t = ident(name),
                o = ident(scoped.org_column),
                c = ident(&format!("{name}_{}_not_null", scoped.org_column)),
            ),
            cx.catalog.evidence(&COLUMNS, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_nullable_org_id_is_found() {
        // The primary key (org_id, id) keeps org_id NOT NULL; a legacy key on id alone does not.
        case(
            "org_column_nullable",
            "org-id-nullable",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_pkey;
             ALTER TABLE contacts ADD CONSTRAINT contacts_pkey UNIQUE (org_id, id);
             ALTER TABLE contacts ALTER COLUMN org_id DROP NOT NULL",
            "ALTER TABLE contacts ALTER COLUMN org_id SET NOT NULL;
             ALTER TABLE contacts DROP CONSTRAINT contacts_pkey;
             ALTER TABLE contacts ADD CONSTRAINT contacts_pkey PRIMARY KEY (org_id, id)",
        );
    }
}
