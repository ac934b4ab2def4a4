//! Step 8, `security`: row-level security enabled and forced, our policy (every other policy on
//! the table dropped: another permissive one would widen ours), the immutability trigger, the
//! declared grants (and what the app role holds beyond them revoked), views made
//! `security_invoker`, SECURITY DEFINER functions taken from the app role, and tables it owns
//! handed back.

use super::{Mode, Planner};
use crate::catalog::policy as reading;
use crate::catalog::{self, ViewKind};
use crate::ddl::{self, Condition, Ddl, FunctionRef, Grantee, Owner, Privilege, QualifiedName};
use crate::error::PlanError;
use crate::sql;
use tenancy_schema::{Scope, Table};

/// Access the database grants today that tenancy's model does not, which the step takes away:
/// policies other than an org-scoped permissive one, privileges beyond the declared grants,
/// EXECUTE on SECURITY DEFINER functions. Listed in the plan's notes, and refused unless
/// `Options::replace_access` says the list was reviewed.
struct Replaced(Vec<String>);

pub(super) fn security(p: &mut Planner<'_>) -> Result<(), PlanError> {
    let settings = &p.schema.settings;
    let role = settings.app_role.clone();
    let mut replaced = Replaced(Vec::new());
    p.step("security", Mode::Statements);
    for table in p.schema.tables_in_dependency_order() {
        let t = table.name.as_str();
        // Tables created by `prepare` have none of it yet.
        let live = p.catalog.table(t).map(|row| &row.fact);
        let (rls_enabled, rls_forced) = live.map_or((false, false), |l| (l.rls_enabled, l.rls_forced));
        // The app role must not own what it is isolated from.
        if live.is_some_and(|l| l.app_role_owns == Some(true)) {
            hand_back(p, t);
        }
        for statement in sql::security(settings, table) {
            match statement {
                Ddl::EnableRls { .. } if rls_enabled => {}
                Ddl::ForceRls { .. } if rls_forced => {}
                Ddl::EnableRls { .. } | Ddl::ForceRls { .. } => p.up_and_undo(statement, None),
                Ddl::CreatePolicy(ref policy) => {
                    let ours = policy.name.clone();
                    if p.catalog.policies_of(t).any(|live| live.name == ours) {
                        // Ours by name but not by content: replace it (down leaves ours out).
                        p.up(Ddl::DropPolicy { name: ours.clone(), table: t.to_owned(), if_exists: true }, None);
                    }
                    p.up_and_undo(statement, None);
                    let others: Vec<catalog::Policy> = p
                        .catalog
                        .policies_of(t)
                        .filter(|live| live.name != ours)
                        .map(|live| live.fact.clone())
                        .collect();
                    for policy in others {
                        p.up(Ddl::DropPolicy { name: policy.name.clone(), table: t.to_owned(), if_exists: true }, None);
                        p.down(restore_policy(&policy));
                        let scope = sql::scope_column(settings, table);
                        let org_scoped = policy.permissive
                            && scope.is_some_and(|column| {
                                reading::sides(&policy).iter().all(|side| {
                                    reading::expression(&policy, *side).is_some_and(|e| reading::org_scoped(e, column))
                                })
                            });
                        let shown = describe_policy(&policy);
                        if org_scoped {
                            p.plan.notes.push(format!("{shown} is dropped; {ours} on {t} does what it did"));
                        } else {
                            replaced.0.push(format!("{shown} (replaced by {ours})"));
                        }
                    }
                }
                Ddl::CreateTrigger { ref name, .. } => {
                    if !p.catalog.triggers_of(t).any(|live| &live.name == name) {
                        p.up_and_undo(statement, None);
                    }
                }
                Ddl::Grant { privileges, .. } => grants(p, table, &privileges, &mut replaced),
                other => p.up(other, None),
            }
        }
        // An internal table has no grant to make: whatever the app role holds goes.
        if table.scope == Scope::Internal {
            grants(p, table, &[], &mut replaced);
        }
    }
    // The rest of the database: views over isolated tables and SECURITY DEFINER functions the
    // app can call.
    let isolated: Vec<&str> =
        p.schema.tables.iter().filter(|t| t.scope != Scope::Global).map(|t| t.name.as_str()).collect();
    for view in p.catalog.views.iter() {
        if view.kind != ViewKind::View || !view.tables.iter().any(|t| isolated.contains(&t.as_str())) {
            continue;
        }
        if !view.security_invoker() {
            p.up_and_undo(Ddl::ViewSecurityInvoker { view: view.name.clone(), on: true }, None);
        }
    }
    for function in p.catalog.functions.iter() {
        if function.security_definer && function.app_role_can_execute == Some(true) {
            replaced.0.push(format!(
                "EXECUTE on SECURITY DEFINER function {}({}) (it reads past row-level security)",
                function.name, function.arguments
            ));
            let function = FunctionRef { name: function.name.clone(), arguments: function.arguments.clone() };
            p.up(
                Ddl::RevokeExecute {
                    function: function.clone(),
                    from: vec![Grantee::Public, Grantee::Role(role.clone())],
                },
                None,
            );
            p.down(Ddl::GrantExecute { function, to: vec![Grantee::Public] });
        }
    }
    // Tables nobody declared but the app role owns.
    for live in p.catalog.tables.iter() {
        if live.app_role_owns == Some(true) && p.schema.table(&live.name).is_none() {
            hand_back(p, &live.name);
        }
    }
    p.finish();
    if replaced.0.is_empty() {
        return Ok(());
    }
    if !p.options.replace_access {
        return Err(PlanError::conversion(
            "the app role's access",
            format!(
                "the plan would take away {} that tenancy's model does not grant: {}",
                if replaced.0.len() == 1 { "1 grant".to_owned() } else { format!("{} grants", replaced.0.len()) },
                replaced.0.join("; ")
            ),
            "review each (the application may rely on it; tenancy's policies, grants and claim replace them), then plan again with --replace-access; nothing was written",
        ));
    }
    p.plan.notes.extend(replaced.0.into_iter().map(|r| format!("replaced (--replace-access): {r}")));
    Ok(())
}

/// `policy calls_service on calls (PERMISSIVE FOR ALL TO app_user USING (true) WITH CHECK (true))`.
fn describe_policy(policy: &catalog::Policy) -> String {
    let mut sides = String::new();
    for side in reading::sides(policy) {
        if let Some(expression) = reading::expression(policy, *side) {
            sides.push_str(&format!(" {} ({expression})", side.sql()));
        }
    }
    format!(
        "policy {} on {} ({} FOR {} TO {}{sides})",
        policy.name,
        policy.table,
        if policy.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
        reading::command_name(policy),
        policy.roles.join(", ")
    )
}

fn hand_back(p: &mut Planner<'_>, table: &str) {
    let role = p.schema.settings.app_role.clone();
    p.up(Ddl::SetOwner { table: table.to_owned(), owner: Owner::CurrentUser }, None);
    p.down(Ddl::SetOwner { table: table.to_owned(), owner: Owner::Role(role) });
}

/// The declared grants, and revoking what the app role may do beyond them. Where it may
/// insert, USAGE on the sequences the table's defaults draw from (a `serial` key: without it
/// every INSERT is refused).
fn grants(p: &mut Planner<'_>, table: &Table, wanted: &[Privilege], replaced: &mut Replaced) {
    let role = p.schema.settings.app_role.clone();
    if wanted.contains(&Privilege::Insert) {
        let sequences = p.live.sequences.get(&table.name).cloned().unwrap_or_default();
        for sequence in sequences.into_iter().filter(|s| !s.app_usage) {
            let sequence = QualifiedName { schema: sequence.schema, name: sequence.name };
            p.up_and_undo(Ddl::GrantSequenceUsage { sequence, role: role.clone() }, None);
        }
    }
    let held: Vec<Privilege> = p.live.app_privileges.get(&table.name).cloned().unwrap_or_default();
    let t = table.name.clone();
    let missing: Vec<Privilege> = wanted.iter().copied().filter(|w| !held.contains(w)).collect();
    if !missing.is_empty() {
        p.up(Ddl::Grant { privileges: wanted.to_vec(), table: t.clone(), role: role.clone() }, None);
        p.down(Ddl::Revoke { privileges: missing, table: t.clone(), role: role.clone() });
    }
    let extra: Vec<Privilege> = held.into_iter().filter(|h| !wanted.contains(h)).collect();
    if !extra.is_empty() {
        let names: Vec<&str> = extra.iter().map(|e| e.sql()).collect();
        replaced.0.push(format!("{} on {} held by {role}", names.join(", "), table.name));
        p.up_and_undo(Ddl::Revoke { privileges: extra, table: t, role }, None);
    }
}

/// A dropped policy as it was, unless one of that name exists again.
fn restore_policy(policy: &catalog::Policy) -> Ddl {
    let roles =
        policy.roles.iter().map(|r| if r == "public" { Grantee::Public } else { Grantee::Role(r.clone()) }).collect();
    Ddl::Guarded {
        condition: Condition::Not(Box::new(Condition::PolicyExists {
            table: policy.table.clone(),
            name: policy.name.clone(),
        })),
        statement: Box::new(Ddl::CreatePolicy(ddl::Policy {
            name: policy.name.clone(),
            table: policy.table.clone(),
            permissive: policy.permissive,
            command: policy.command.sql(),
            roles,
            using: policy.using.clone(),
            with_check: policy.with_check.clone(),
        })),
    }
}
