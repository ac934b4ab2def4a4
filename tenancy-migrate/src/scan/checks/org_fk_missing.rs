//! `org-fk-missing`: no foreign key from the organization column to the root table, so rows can
//! name organizations that do not exist and survive their organization's deletion.

use crate::catalog::CONSTRAINTS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-fk-missing", severity: Severity::Error, category: "foreign-key" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let root = cx.schema.root();
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        if cx.org_foreign_key(name, scoped.org_column).is_some() {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, scoped.org_column),
            format!("{name}.{} has no foreign key to {}", scoped.org_column, root.name),
            format!(
                "ALTER TABLE {t} ADD CONSTRAINT {c} FOREIGN KEY ({o}) REFERENCES {r} ({k}) ON DELETE CASCADE NOT VALID; ALTER TABLE {t} VALIDATE CONSTRAINT {c}",
                t = ident(name),
                c = ident(&names::foreign_key(name, scoped.org_column)),
                o = ident(scoped.org_column),
                r = ident(&root.name),
                k = ident(&root.key().name),
            ),
            cx.catalog.evidence(&CONSTRAINTS, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_missing_org_foreign_key_is_found() {
        case(
            "org_fk_missing",
            "org-fk-missing",
            "ALTER TABLE agents DROP CONSTRAINT agents_org_id_fkey",
            "ALTER TABLE agents ADD CONSTRAINT agents_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE",
        );
    }
}
