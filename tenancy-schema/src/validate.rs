//! Cross-table rules of a declaration. Every rule reports at the place the author must edit.

use crate::diagnostic::Diagnostic;
use crate::ir::{Backfill, ColumnType, Schema, Scope, Span, Table};
use std::collections::{HashMap, HashSet};

/// PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Checks `schema` and resolves references written as `#[references(table)]` to the table's key.
pub(crate) fn validate(schema: &mut Schema, settings_span: &Span, errors: &mut Vec<Diagnostic>) {
    let root_key = schema.tables.iter().find(|t| t.scope == Scope::Root).and_then(|r| r.columns.iter().find(|c| c.key));
    if let Some(key) = root_key.filter(|k| k.ty.is_org_key()) {
        schema.settings.org_key = key.ty.clone();
    }
    // A table in the declaration's own schema is written like any other.
    let own = schema.settings.schema.clone();
    for table in &mut schema.tables {
        table.schema = table.schema.take().filter(|namespace| *namespace != own);
    }
    check_settings(schema, settings_span, errors);
    check_roots(schema, errors);
    check_names(schema, errors);
    check_keys(schema, errors);
    resolve_references(schema, errors);
    check_uniques(schema, errors);
    check_backfills(schema, errors);
    check_links(schema, errors);
    if errors.is_empty() {
        check_required_cycles(schema, errors);
    }
}

fn check_settings(schema: &Schema, span: &Span, errors: &mut Vec<Diagnostic>) {
    let settings = &schema.settings;
    for (what, value) in [("org_column", &settings.org_column), ("app_role", &settings.app_role)] {
        check_identifier(what, value, span, errors);
    }
    check_schema_name(&settings.schema, span, errors);
    let key = schema.tables.iter().find(|t| t.scope == Scope::Root).and_then(|r| r.columns.iter().find(|c| c.key));
    if let (Some(org), Some(key)) = (&settings.default_org, key) {
        let fits = match key.ty {
            ColumnType::Uuid => looks_like_uuid(org),
            ColumnType::BigInt => org.parse::<i64>().is_ok(),
            ColumnType::Int => org.parse::<i32>().is_ok(),
            _ => !org.is_empty(),
        };
        if !fits {
            let example = match key.ty {
                ColumnType::Uuid => "8-4-4-4-12 hex digits, e.g. \"00000000-0000-0000-0000-000000000001\"",
                _ => "a value of the organizations key, e.g. \"1\"",
            };
            errors.push(
                Diagnostic::new(span.clone(), format!("default_org `{org}` is not a {}", key.ty.sql_name()))
                    .hint(format!("organization keys are {}; write it as {example}", key.ty.sql_name())),
            );
        }
    }
}

fn check_roots(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    let roots: Vec<&Table> = schema.tables.iter().filter(|t| t.scope == Scope::Root).collect();
    match roots.as_slice() {
        [_] => {}
        [] => errors.push(
            Diagnostic::new(
                schema.tables.first().map(|t| t.span.clone()).unwrap_or_default(),
                "no root table: exactly one table must be #[tenancy(root)]",
            )
            .hint("mark the organizations table: #[tenancy(root)] struct Organization { #[key] id: Uuid, ... }"),
        ),
        [_, rest @ ..] => {
            for extra in rest {
                errors.push(
                    Diagnostic::new(extra.span.clone(), format!("second root table `{}`", extra.name)).hint(format!(
                        "only one table is the organizations table; `{}` is already root",
                        roots[0].name
                    )),
                );
            }
        }
    }
    if let Some(root) = roots.first()
        && let Some(key) = root.columns.iter().find(|c| c.key && !c.ty.is_org_key())
    {
        errors.push(
            Diagnostic::new(root.key_span(), format!("the root table's key is {}", key.ty.sql_name()))
                .hint("organization keys are what claims carry and every org column holds: `#[key] id: Uuid` (the default), i64, i32 or String"),
        );
    }
}

fn check_names(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    let mut tables: HashMap<&str, &Table> = HashMap::new();
    let mut structs: HashMap<&str, &Table> = HashMap::new();
    for table in &schema.tables {
        check_identifier("table name", &table.name, &table.span, errors);
        if let Some(namespace) = &table.schema {
            check_schema_name(namespace, &table.span, errors);
        }
        if let Some(first) = tables.insert(&table.name, table) {
            errors.push(
                Diagnostic::new(table.span.clone(), format!("duplicate table `{}`", table.name))
                    .hint(format!("it is first declared at {}", first.span)),
            );
        } else if let Some(first) = structs.insert(&table.struct_name, table) {
            errors.push(
                Diagnostic::new(table.span.clone(), format!("duplicate struct `{}`", table.struct_name))
                    .hint(format!("it is first declared at {}", first.span)),
            );
        }
        let mut columns: HashMap<&str, &Span> = HashMap::new();
        for column in &table.columns {
            check_identifier("column name", &column.name, &column.span, errors);
            if let Some(first) = columns.insert(&column.name, &column.span) {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!("duplicate column `{}` in `{}`", column.name, table.name),
                    )
                    .hint(format!("it is first declared at {first}")),
                );
            }
            if table.scope == Scope::Tenant && column.name == schema.settings.org_column {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!("tenant table `{}` declares `{}` itself", table.name, column.name),
                    )
                    .hint("tenant tables get the organization column, its key, FK, policy and trigger generated; remove this field"),
                );
            }
        }
    }
}

fn check_keys(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    for table in &schema.tables {
        let keys: Vec<_> = table.columns.iter().filter(|c| c.key).collect();
        if keys.is_empty() {
            errors.push(
                Diagnostic::new(table.span.clone(), format!("table `{}` has no #[key] column", table.name))
                    .hint("mark its identifier: `#[key] id: i64` (tenant tables get the key (org_id, id))"),
            );
        }
        for key in keys.iter().filter(|k| k.nullable) {
            errors.push(
                Diagnostic::new(key.span.clone(), format!("key column `{}` cannot be Option", key.name))
                    .hint("a key identifies a row; remove the Option<...>"),
            );
        }
        // A key of several columns (`(project_id, user_id)`) is fine where nothing needs one
        // column to name a row: the root's key is what claims carry, and a shared table's key
        // is what its link points at.
        if matches!(table.scope, Scope::Root | Scope::Shared) {
            for column in keys.iter().skip(1) {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!("second #[key] column in {} table `{}`", table.scope.name(), table.name),
                    )
                    .hint(format!(
                        "the {} table's key is one column (what {} points at); use #[tenancy(unique(a, b))] for other keys",
                        table.scope.name(),
                        if table.scope == Scope::Root { "every org column and claim" } else { "its link" }
                    )),
                );
            }
        }
    }
}

fn resolve_references(schema: &mut Schema, errors: &mut Vec<Diagnostic>) {
    let targets: HashMap<String, Table> = schema.tables.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let org_column = schema.settings.org_column.clone();
    for table in &mut schema.tables {
        for column in &mut table.columns {
            let Some(reference) = &mut column.references else {
                continue;
            };
            let Some(target) = targets.get(&reference.table) else {
                let mut known: Vec<&str> = targets.keys().map(String::as_str).collect();
                known.sort_unstable();
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!("`{}` references undeclared table `{}`", column.name, reference.table),
                    )
                    .hint(format!("declared tables: {}", known.join(", "))),
                );
                continue;
            };
            if reference.column.is_empty() {
                match target.keys().as_slice() {
                    [key] => reference.column = key.name.clone(),
                    [] => continue, // reported by check_keys
                    several => {
                        let names: Vec<&str> = several.iter().map(|c| c.name.as_str()).collect();
                        errors.push(
                            Diagnostic::new(
                                column.span.clone(),
                                format!(
                                    "`{}` references `{}`, whose key has several columns ({})",
                                    column.name,
                                    target.name,
                                    names.join(", ")
                                ),
                            )
                            .hint(format!(
                                "a reference is one column: reference a #[unique] column, #[references({}.column)]",
                                target.name
                            )),
                        );
                        continue;
                    }
                }
            }
            let Some(target_column) = target.column(&reference.column) else {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!(
                            "`{}` references undeclared column `{}.{}`",
                            column.name, target.name, reference.column
                        ),
                    )
                    .hint(format!("`{}` has columns: {}", target.name, column_list(target))),
                );
                continue;
            };
            if target_column.key && !target_column.unique && target.keys().len() > 1 {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!(
                            "`{}.{}` is one column of a key of several ({}), not unique by itself",
                            target.name,
                            target_column.name,
                            target.key_names().join(", ")
                        ),
                    )
                    .hint("reference a #[unique] column of that table, or mark this one #[unique] if it is"),
                );
            } else if !(target_column.key || target_column.unique) {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!(
                            "`{}.{}` is neither #[key] nor #[unique], so it cannot be referenced",
                            target.name, target_column.name
                        ),
                    )
                    .hint("reference the key, or mark the target column #[unique]"),
                );
            }
            if target_column.ty != column.ty {
                errors.push(
                    Diagnostic::new(
                        column.span.clone(),
                        format!(
                            "`{}` is {} but references `{}.{}` of type {}",
                            column.name,
                            column.ty.rust_name(),
                            target.name,
                            target_column.name,
                            target_column.ty.rust_name()
                        ),
                    )
                    .hint("a foreign key and its target have the same type"),
                );
            }
            let rule = match (table.scope, target.scope) {
                (Scope::Global | Scope::Root | Scope::Shared | Scope::Internal, Scope::Tenant) => Some(format!(
                    "{} table `{}` references tenant table `{}`",
                    table.scope.name(),
                    table.name,
                    target.name
                )),
                (Scope::Tenant, Scope::Root) => Some(format!(
                    "tenant table `{}` references the root table `{}` through `{}`",
                    table.name, target.name, column.name
                )),
                _ => None,
            };
            if let Some(message) = rule {
                let hint = if table.scope == Scope::Tenant {
                    format!(
                        "tenant rows already belong to an organization through the generated `{org_column}`; remove this reference"
                    )
                } else {
                    "shared rows cannot point at one organization's rows; make this table tenant, or move the reference to the tenant side".to_owned()
                };
                errors.push(Diagnostic::new(column.span.clone(), message).hint(hint));
            }
        }
    }
}

fn check_uniques(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    for table in &schema.tables {
        let global = table.global_uniques.iter().zip(&table.global_unique_spans);
        let global_columns = table.columns.iter().filter(|c| c.global_unique).map(|c| &c.span);
        let global_expressions = table.unique_expressions.iter().filter(|e| e.global).map(|_| &table.span);
        for span in global.clone().map(|(_, s)| s).chain(global_columns).chain(global_expressions) {
            if table.scope != Scope::Tenant {
                errors.push(
                    Diagnostic::new(span.clone(), format!("global unique key on {} table `{}`", table.scope.name(), table.name))
                        .hint("unique keys of tables without an org column already hold across organizations; write unique(...) or #[unique]"),
                );
            }
        }
        for (unique, span) in table.uniques.iter().zip(&table.unique_spans).chain(global) {
            let mut seen = HashSet::new();
            for name in unique {
                if table.column(name).is_none() {
                    errors.push(
                        Diagnostic::new(
                            span.clone(),
                            format!("unique key of `{}` names unknown column `{name}`", table.name),
                        )
                        .hint(format!("`{}` has columns: {}", table.name, column_list(table))),
                    );
                } else if !seen.insert(name) {
                    errors
                        .push(Diagnostic::new(span.clone(), format!("column `{name}` appears twice in a unique key")));
                }
            }
            if unique.is_empty() {
                errors.push(Diagnostic::new(span.clone(), "empty unique key").hint("write unique(col, ...)"));
            }
        }
    }
}

fn check_backfills(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    for table in &schema.tables {
        if table.backfill.is_none() && table.missing_org.is_none() {
            continue;
        }
        let span = table.span.clone();
        if table.scope != Scope::Tenant {
            errors.push(
                Diagnostic::new(span, format!("#[backfill] on {} table `{}`", table.scope.name(), table.name))
                    .hint("only tenant tables are backfilled with an organization"),
            );
            continue;
        }
        let Some(backfill) = &table.backfill else {
            if table.missing_org == Some(crate::ir::MissingOrg::Reassign) {
                errors.push(
                    Diagnostic::new(
                        span,
                        format!("missing_org = \"reassign\" on `{}`, which declares no strategy", table.name),
                    )
                    .hint("reassign places those rows as the strategy says: #[backfill(default_org, missing_org = \"reassign\")]"),
                );
            }
            continue;
        };
        match backfill {
            Backfill::DefaultOrg if schema.settings.default_org.is_none() => errors.push(
                Diagnostic::new(span, "#[backfill(default_org)] but no default organization is set")
                    .hint("add `default_org = \"<uuid>\"` to #![tenancy(...)]"),
            ),
            Backfill::Via { column, table: via_table, target } => {
                if table.column(column).is_none() {
                    errors.push(
                        Diagnostic::new(
                            span.clone(),
                            format!("backfill via unknown column `{column}` of `{}`", table.name),
                        )
                        .hint(format!("`{}` has columns: {}", table.name, column_list(table))),
                    );
                }
                match schema.table(via_table) {
                    None => errors.push(Diagnostic::new(span, format!("backfill via undeclared table `{via_table}`"))),
                    Some(via)
                        if via.column(target).is_none()
                            && !(via.is_tenant() && *target == schema.settings.org_column) =>
                    {
                        errors.push(
                            Diagnostic::new(span, format!("backfill via unknown column `{via_table}.{target}`"))
                                .hint(format!("`{via_table}` has columns: {}", column_list(via))),
                        )
                    }
                    Some(_) => {}
                }
            }
            Backfill::FromParent { column } => {
                let parent =
                    table.column(column).and_then(|c| c.references.as_ref()).and_then(|r| schema.table(&r.table));
                if !parent.is_some_and(|p| p.is_tenant()) {
                    errors.push(
                        Diagnostic::new(
                            span,
                            format!("backfill from_parent = \"{column}\" needs a column referencing a tenant table"),
                        )
                        .hint("name a field of this table marked #[references(tenant_table)]"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// A cycle of NOT NULL references means no row of any table in it can ever be inserted.
fn check_required_cycles(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    let edges: HashMap<&str, Vec<(&str, &Span)>> = schema
        .tables
        .iter()
        .map(|t| {
            let required = t
                .columns
                .iter()
                .filter(|c| !c.nullable)
                .filter_map(|c| c.references.as_ref().map(|r| (r.table.as_str(), &c.span)))
                .collect();
            (t.name.as_str(), required)
        })
        .collect();
    let mut reported = HashSet::new();
    for table in &schema.tables {
        let mut path = vec![table.name.as_str()];
        if let Some((cycle, span)) = find_cycle(&edges, &mut path, &mut HashSet::new()) {
            // One report per cycle, whichever table it was found from.
            let mut key: Vec<&str> = cycle[..cycle.len() - 1].to_vec();
            key.sort_unstable();
            if reported.insert(key) {
                errors.push(
                    Diagnostic::new(span.clone(), format!("cycle of required references: {}", cycle.join(" -> ")))
                        .hint("no row could ever be inserted; make one of these references Option<...>"),
                );
            }
        }
    }
}

fn find_cycle<'a>(
    edges: &HashMap<&'a str, Vec<(&'a str, &'a Span)>>,
    path: &mut Vec<&'a str>,
    visited: &mut HashSet<&'a str>,
) -> Option<(Vec<&'a str>, &'a Span)> {
    let current = *path.last()?;
    for &(next, span) in edges.get(current).into_iter().flatten() {
        if next == path[0] {
            let mut cycle = path.clone();
            cycle.push(next);
            return Some((cycle, span));
        }
        if path.contains(&next) || !visited.insert(next) {
            continue;
        }
        path.push(next);
        if let Some(found) = find_cycle(edges, path, visited) {
            return Some(found);
        }
        path.pop();
    }
    None
}

/// A schema name: an identifier, and no comma (the tools pass a declaration's schemas as one
/// comma-separated list).
fn check_schema_name(name: &str, span: &Span, errors: &mut Vec<Diagnostic>) {
    check_identifier("schema name", name, span, errors);
    if name.contains(',') {
        errors.push(
            Diagnostic::new(span.clone(), format!("schema name `{name}` contains a comma"))
                .hint("tenancy lists a declaration's schemas separated by commas; rename the schema"),
        );
    }
}

fn check_identifier(what: &str, name: &str, span: &Span, errors: &mut Vec<Diagnostic>) {
    if name.len() > MAX_IDENTIFIER_BYTES {
        errors.push(
            Diagnostic::new(
                span.clone(),
                format!("{what} `{name}` is {} bytes; PostgreSQL allows {MAX_IDENTIFIER_BYTES}", name.len()),
            )
            .hint("PostgreSQL would silently truncate it; choose a shorter name (with table = \"...\" for tables)"),
        );
    } else if name.is_empty() {
        errors.push(Diagnostic::new(span.clone(), format!("empty {what}")));
    }
}

fn looks_like_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn column_list(table: &Table) -> String {
    table.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// A shared table's link is a column of a tenant table that references the shared table's key.
fn check_links(schema: &Schema, errors: &mut Vec<Diagnostic>) {
    for table in schema.tables.iter().filter(|t| t.scope == Scope::Shared) {
        let Some(link) = &table.link else { continue };
        let hint = format!(
            "name a column of a tenant table that references `{}`: shared(through = \"user_organizations.user_id\")",
            table.name
        );
        let Some(link_table) = schema.table(&link.table) else {
            errors.push(
                Diagnostic::new(
                    table.span.clone(),
                    format!("shared table `{}` is linked through unknown table `{}`", table.name, link.table),
                )
                .hint(hint),
            );
            continue;
        };
        if link_table.scope != Scope::Tenant {
            errors.push(
                Diagnostic::new(
                    table.span.clone(),
                    format!(
                        "shared table `{}` is linked through {} table `{}`",
                        table.name,
                        link_table.scope.name(),
                        link.table
                    ),
                )
                .hint("the link says which organization sees a row, so it is a tenant table"),
            );
            continue;
        }
        let Some(column) = link_table.column(&link.column) else {
            errors.push(
                Diagnostic::new(
                    table.span.clone(),
                    format!(
                        "link column `{}` is not a column of `{}` (columns: {})",
                        link.column,
                        link.table,
                        column_list(link_table)
                    ),
                )
                .hint(hint),
            );
            continue;
        };
        let key = table.columns.iter().find(|c| c.key).map(|c| c.name.as_str());
        let points_here =
            column.references.as_ref().is_some_and(|r| r.table == table.name && Some(r.column.as_str()) == key);
        if !points_here {
            errors.push(
                Diagnostic::new(
                    column.span.clone(),
                    format!(
                        "link column `{}.{}` does not reference the key of `{}`",
                        link.table, link.column, table.name
                    ),
                )
                .hint(format!("add #[references({})] to `{}`", table.name, link.column)),
            );
        }
    }
}

impl Table {
    fn key_span(&self) -> Span {
        self.columns.iter().find(|c| c.key).map(|c| c.span.clone()).unwrap_or_else(|| self.span.clone())
    }
}
