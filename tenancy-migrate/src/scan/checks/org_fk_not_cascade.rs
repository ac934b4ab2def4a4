//! `org-fk-not-cascade`: the foreign key to the root exists but is not ON DELETE CASCADE, so
//! deleting an organization fails (or, with SET NULL, leaves rows that belong to no one).

use crate::catalog::{CONSTRAINTS, Constraint, ConstraintKind, Row};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-fk-not-cascade", severity: Severity::Warn, category: "foreign-key" };
pub const CODES: &[Code] = &[CODE];

/// The foreign key `(org_column) → root(key)` of a table, if any.
pub fn org_foreign_key<'a>(cx: &Context<'a>, table: &str, org_column: &str) -> Option<&'a Row<Constraint>> {
    let root = cx.schema.root();
    cx.catalog.constraints.iter().find(|k| {
        k.table == table
            && k.kind == ConstraintKind::ForeignKey
            && k.columns == [org_column]
            && k.ref_table.as_deref() == Some(root.name.as_str())
            && k.ref_columns == [root.key().name.as_str()]
    })
}

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let Some(fk) = org_foreign_key(cx, name, scoped.org_column) else { continue };
        if fk.on_delete.as_deref() == Some("c") {
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
