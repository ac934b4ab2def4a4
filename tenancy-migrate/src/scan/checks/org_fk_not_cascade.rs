//! `org-fk-not-cascade`: the foreign key to the root exists but is not ON DELETE CASCADE, so
//! deleting an organization fails (or, with SET NULL, leaves rows that belong to no one).

use crate::catalog::{CONSTRAINTS, FkAction};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-fk-not-cascade", severity: Severity::Warn, category: "foreign-key" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let Some(fk) = cx.org_foreign_key(name, scoped.org_column) else { continue };
        if fk.on_delete == Some(FkAction::Cascade) {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, scoped.org_column).detail(&fk.name),
            format!("foreign key {} of {name} does not cascade when an organization is deleted", fk.name),
            format!(
                "recreate it: ALTER TABLE {t} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} FOREIGN KEY ({o}) REFERENCES {r} ON DELETE CASCADE NOT VALID; then VALIDATE CONSTRAINT {c}",
                t = ident(name),
                c = ident(&fk.name),
                o = ident(scoped.org_column),
                r = ident(&cx.schema.root().name),
            ),
            cx.catalog.evidence(&CONSTRAINTS, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_non_cascading_org_foreign_key_is_found() {
        case(
            "org_fk_not_cascade",
            "org-fk-not-cascade",
            "ALTER TABLE agents DROP CONSTRAINT agents_org_id_fkey,
               ADD CONSTRAINT agents_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id)",
            "ALTER TABLE agents DROP CONSTRAINT agents_org_id_fkey,
               ADD CONSTRAINT agents_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE",
        );
    }
}
