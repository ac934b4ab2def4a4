//! `org-id-mutable`: no enabled BEFORE UPDATE row trigger guards the organization column. The
//! policy's WITH CHECK already stops the app role from moving a row to another organization;
//! the trigger also stops the owner, migrations and background jobs (defence in depth).

use crate::catalog::{TRIGGERS, TriggerEnabled};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::{ident, names};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "org-id-mutable", severity: Severity::Warn, category: "trigger" };
pub const CODES: &[Code] = &[CODE];

const ROW: i32 = 1;
const BEFORE: i32 = 2;
const UPDATE: i32 = 16;

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        let guarded = cx.catalog.triggers_of(name).any(|t| {
            t.ty & (ROW | BEFORE | UPDATE) == ROW | BEFORE | UPDATE
                && t.enabled != TriggerEnabled::Disabled
                && (t.columns.is_empty() || t.columns.iter().any(|c| c == org))
                && t.function_source.contains(org)
        });
        if guarded {
            continue;
        }
        out.push(CODE.finding(
            On::column(name, org),
            format!("nothing stops an UPDATE from moving a row of {name} to another organization ({org} can change)"),
            format!(
                "CREATE TRIGGER {} BEFORE UPDATE OF {} ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
                ident(names::IMMUTABLE_TRIGGER),
                ident(org),
                ident(name),
                ident(names::IMMUTABLE_TRIGGER_FUNCTION)
            ),
            cx.catalog.evidence(&TRIGGERS, Some(name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_disabled_immutability_trigger_is_found() {
        case(
            "org_id_mutable",
            "org-id-mutable",
            "ALTER TABLE contacts DISABLE TRIGGER tenancy_org_id_immutable",
            "ALTER TABLE contacts ENABLE TRIGGER tenancy_org_id_immutable",
        );
    }
}
