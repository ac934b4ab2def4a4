//! `tenant-fk-without-org`: a foreign key between tenant tables that does not carry the
//! organization column, e.g. `calls(agent_id) → agents(id)`. Foreign-key checks ignore RLS, so
//! one organization's row can point at another organization's: the key must be
//! `(org_id, agent_id) → agents(org_id, id)`.

use crate::catalog::{CONSTRAINTS, ConstraintKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::Scope;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "tenant-fk-without-org", severity: Severity::Error, category: "foreign-key" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let org = scoped.org_column;
        for fk in cx.catalog.constraints_of(name).filter(|k| k.kind == ConstraintKind::ForeignKey) {
            let Some(parent) = fk.ref_table.as_deref() else { continue };
            if cx.declared.table(parent).is_none_or(|p| p.scope != Scope::Tenant) {
                continue;
            }
            let carries_org = fk.columns.iter().zip(&fk.ref_columns).any(|(c, r)| c == org && r == org);
            if carries_org {
                continue;
            }
            let mut columns = vec![ident(org)];
            columns.extend(fk.columns.iter().map(|c| ident(c)));
            let mut targets = vec![ident(org)];
            targets.extend(fk.ref_columns.iter().map(|c| ident(c)));
            out.push(CODE.finding(
                On::table(name).detail(&fk.name),
                format!(
                    "foreign key {} ({name}.{} → {parent}) omits {org}: a row can reference another organization's {parent}",
                    fk.name,
                    fk.columns.join(", ")
                ),
                format!(
                    "ALTER TABLE {t} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} FOREIGN KEY ({}) REFERENCES {p} ({}) NOT VALID; then VALIDATE CONSTRAINT {c} (needs UNIQUE ({org}, ...) on {parent})",
                    columns.join(", "),
                    targets.join(", "),
                    t = ident(name),
                    c = ident(&fk.name),
                    p = ident(parent),
                ),
                cx.catalog.evidence(&CONSTRAINTS, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    #[test]
    fn a_foreign_key_without_org_id_is_found() {
        case_also(
            "tenant_fk_without_org",
            "tenant-fk-without-org",
            "CREATE UNIQUE INDEX agents_id_only ON agents (id);
             ALTER TABLE contacts DROP CONSTRAINT contacts_agent_id_fkey,
               ADD CONSTRAINT contacts_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id)",
            "ALTER TABLE contacts DROP CONSTRAINT contacts_agent_id_fkey,
               ADD CONSTRAINT contacts_agent_id_fkey FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, id) ON DELETE SET NULL (agent_id);
             DROP INDEX agents_id_only",
            // A plain key needs a unique index on agents(id) alone, itself a finding.
            &["unique-without-org"],
        );
    }
}
