//! Step 6, `tenant_fks`: declared references as foreign keys; between tenant tables composite
//! `(org, column) → (org, key)`, so a row can only point at a parent of its own organization.
//! Each is added `NOT VALID` then validated (no write-blocking scan), then the plain keys it
//! replaces are dropped (and restored by `down`).

use super::{Mode, Planner};
use crate::catalog::{self, ConstraintKind, FkAction};
use crate::ddl::{Constraint, Ddl, OnDelete, Validate};
use crate::sql::{self, names};

pub(super) fn tenant_fks(p: &mut Planner<'_>) {
    p.step("tenant_fks", Mode::Statements);
    let existing: Vec<&str> = p.existing().iter().map(|t| t.name.as_str()).collect();
    for table in p.schema.tables_in_dependency_order() {
        let t = table.name.as_str();
        let is_new = !existing.contains(&t);
        for column in &table.columns {
            let Some(reference) = &column.references else { continue };
            // New tables got their keys to other new tables in `prepare`.
            if is_new && !existing.contains(&reference.table.as_str()) {
                continue;
            }
            let (from, to) = sql::reference_columns(p.schema, table, column, reference);
            let fks: Vec<catalog::Constraint> = p
                .catalog
                .constraints_of(t)
                .filter(|c| c.kind == ConstraintKind::ForeignKey && c.columns.contains(&column.name))
                .map(|c| c.fact.clone())
                .collect();
            if let Some(fk) = fks.iter().find(|c| c.is_foreign_key(&from, &reference.table, &to)) {
                p.validate_foreign_key(t, fk);
                continue;
            }
            // The plain keys it replaces (same column, same parent).
            let replaced: Vec<catalog::Constraint> =
                fks.into_iter().filter(|c| c.ref_table.as_deref() == Some(reference.table.as_str())).collect();
            let mut constraint = sql::foreign_key_constraint(p.schema, table, column, reference);
            // What deleting a parent does stays as the legacy key had it (of this column only,
            // never the org column): a conversion changes who may see rows, not what they mean.
            if let (Some(legacy), Constraint::ForeignKey { on_delete, .. }) = (replaced.first(), &mut constraint) {
                let found = legacy.on_delete.unwrap_or(FkAction::NoAction);
                let kept = match found {
                    FkAction::NoAction => None,
                    FkAction::Restrict => Some(OnDelete::Restrict),
                    FkAction::Cascade => Some(OnDelete::Cascade),
                    FkAction::SetNull => Some(OnDelete::SetNull(vec![column.name.clone()])),
                    FkAction::SetDefault => Some(OnDelete::SetDefault(vec![column.name.clone()])),
                };
                if *on_delete != kept {
                    p.plan.notes.push(format!(
                        "{t}.{}: ON DELETE {} kept as the legacy key {} had it",
                        column.name,
                        found.sql(),
                        legacy.name
                    ));
                }
                *on_delete = kept;
            }
            p.replace_foreign_key(t, constraint, &replaced);
        }
    }
    p.finish();
}

impl Planner<'_> {
    /// Adds foreign key `constraint` without blocking writes — `NOT VALID`, then `VALIDATE` —
    /// and then drops the legacy keys it replaces; `down` restores them. A legacy key that
    /// already has the name is renamed out of the way first.
    pub(super) fn replace_foreign_key(
        &mut self,
        table: &str,
        constraint: Constraint,
        replaced: &[catalog::Constraint],
    ) {
        let wanted = constraint.name().to_owned();
        let legacy = names::legacy(&wanted);
        let offenders = match &constraint {
            Constraint::ForeignKey { columns, table: parent, ref_columns, .. } => {
                Some(self.foreign_key_offenders(table, columns, parent, ref_columns))
            }
            _ => None,
        };
        if replaced.iter().any(|c| c.name == wanted) {
            self.rename_constraint(table, &wanted, &legacy);
        }
        self.up_and_undo(Ddl::AddConstraint { table: table.to_owned(), constraint, not_valid: true }, None);
        let validate =
            Ddl::ValidateConstraint { table: table.to_owned(), name: wanted.clone(), kind: Validate::ForeignKey };
        self.up(validate, Some(table));
        if let Some(offenders) = offenders {
            self.offenders(offenders);
        }
        for fk in replaced {
            let current = if fk.name == wanted { legacy.clone() } else { fk.name.clone() };
            self.up(
                Ddl::DropConstraint { table: table.to_owned(), name: current.clone(), if_exists: true, cascade: false },
                None,
            );
            if let Some(restore) = self.restore_constraint(table, &fk.name, &current) {
                self.down(restore);
            }
        }
    }
}
