//! `import`: a first declaration for an existing database, so a team can adopt tenancy in
//! minutes. Tables, columns (every type: the named ones, enums, `Sql<"...">` for the rest — no
//! column is ever dropped), keys, uniques and references come from the catalog. What tenancy
//! means is guessed, and every guess is marked `REVIEW` with its reason:
//! - the root: the table most tenant columns reference, else one named like organizations;
//! - the tenant column: whatever the references to the root are called (`company_id`);
//! - tenant tables: those with the tenant column, then their children by foreign key
//!   (`from_parent`), then rows owned by a user whose organization is known (`via`);
//! - keys as found: `(tenant, id)` primary keys and composite foreign keys are tenancy's own;
//! - unique keys without the tenant column stay global (`#[unique(global)]`).
//!
//! Its output always parses and validates: what the declaration cannot say (a reference to a
//! table outside the schema, a key of several columns) is kept as a plain column with a REVIEW.

use crate::catalog::{Catalog, Column, ConstraintKind};
use crate::error::Result;
use diesel::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use tenancy_schema::{ColumnType, Scope, Settings};

/// Names an organizations table goes by.
const ROOT_NAMES: &[&str] =
    &["organizations", "organisations", "orgs", "companies", "accounts", "tenants", "workspaces", "teams"];
/// Names a tenant column goes by.
const TENANT_COLUMNS: &[&str] = &[
    "org_id",
    "organization_id",
    "organisation_id",
    "tenant_id",
    "company_id",
    "account_id",
    "workspace_id",
    "team_id",
];

/// Reads schema `schema` and returns the text of a declaration file.
pub fn import(conn: &mut PgConnection, schema: &str) -> Result<String> {
    let settings = Settings::default();
    let catalog = crate::catalog::load(conn, schema, &settings.app_role)?;
    let enums = enum_types(conn)?;
    Ok(render(&catalog, &enums, &settings.app_role))
}

/// Every enum type, as `format_type` names it (qualified unless on the search path).
fn enum_types(conn: &mut PgConnection) -> Result<BTreeSet<String>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let rows: Vec<Name> =
        diesel::sql_query("SELECT format_type(oid, NULL) AS name FROM pg_catalog.pg_type WHERE typtype = 'e'")
            .load(conn)
            .map_err(|e| crate::error::Error::Database {
                doing: "reading enum types".to_owned(),
                reason: e.to_string(),
            })?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// The root table, the tenant column and why.
struct Root {
    table: String,
    org: String,
    reason: String,
}

/// What import decided for one table.
struct Guess {
    scope: Scope,
    reason: String,
    backfill: Option<String>,
}

/// The declaration text for `catalog` (pure, for tests).
pub fn render(catalog: &Catalog, enums: &BTreeSet<String>, app_role: &str) -> String {
    let declarable: Vec<&str> = catalog
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|t| is_field_name(t) && catalog.columns_of(t).all(|c| is_field_name(&c.name)))
        .collect();
    let root = find_root(catalog, &declarable);
    let org = root.as_ref().map_or("org_id", |r| r.org.as_str());
    let guesses = classify(catalog, &declarable, root.as_ref());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Imported by `tenancy-migrate import` from database {}, schema {}.\n\
         //! Review every line marked REVIEW, then scan, or plan the conversion:\n\
         //!   tenancy-migrate scan --declaration <this file> --database-url ... --schema {}\n\
         //!   tenancy-migrate plan --declaration <this file> --database-url ... --out conversion/\n",
        catalog.session.database,
        catalog.schema,
        catalog.schema.split(',').next().unwrap_or("public")
    );
    match &root {
        Some(root) => {
            let _ = writeln!(out, "// REVIEW: root {} ({}); tenant column {:?}.", root.table, root.reason, root.org);
        }
        None => {
            let _ = writeln!(
                out,
                "// REVIEW: no organizations table found (no table that tenant columns reference, none named {}).\n\
                 // The declaration adds one; the conversion creates it and places existing rows by each #[backfill].",
                ROOT_NAMES.join("/")
            );
        }
    }
    // `--schema a,b`: the first is the declaration's own, tables of the others name theirs.
    let own = catalog.schema.split(',').next().unwrap_or("public");
    let in_schema = if own == "public" { String::new() } else { format!(", schema = {own:?}") };
    let _ = writeln!(out, "#![tenancy(org_column = {org:?}, app_role = {app_role:?}{in_schema})]");
    let _ = writeln!(
        out,
        "// REVIEW: add `default_org = \"<key>\"` above if rows without an owner should go to one organization."
    );
    if root.is_none() {
        let _ = writeln!(
            out,
            "\n#[tenancy(root)]\nstruct Organization {{\n    #[key]\n    id: Uuid,\n    name: String,\n}}"
        );
    }
    for table in &catalog.tables {
        let name = table.name.as_str();
        let _ = writeln!(out);
        if !declarable.contains(&name) {
            let _ = writeln!(
                out,
                "// REVIEW: table {name:?} is left out: its name or a column's is not a plain lowercase SQL identifier (rename it to declare it)."
            );
            continue;
        }
        let guess = &guesses[name];
        write_table(&mut out, catalog, enums, name, guess, &guesses, org);
    }
    out
}

/// The table most tenant columns reference (by a one-column foreign key to its key), else one
/// named like an organizations table.
fn find_root(catalog: &Catalog, declarable: &[&str]) -> Option<Root> {
    let mut referenced: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for fk in catalog.constraints.iter().filter(|c| c.kind == ConstraintKind::ForeignKey && c.columns.len() == 1) {
        let Some(target) = fk.ref_table.as_deref() else { continue };
        if !declarable.contains(&target)
            || single_key(catalog, target).as_deref() != fk.ref_columns.first().map(String::as_str)
        {
            continue;
        }
        referenced.entry((target, fk.columns[0].as_str())).or_default().insert(fk.table.as_str());
    }
    let named = |table: &str| ROOT_NAMES.contains(&table);
    let tenantish = |column: &str| TENANT_COLUMNS.contains(&column);
    let best = referenced
        .iter()
        .filter(|((target, column), from)| tenantish(column) || named(target) || from.len() >= 3)
        .max_by_key(|((target, column), from)| (tenantish(column), named(target), from.len()));
    if let Some(((table, column), from)) = best {
        return Some(Root {
            table: (*table).to_owned(),
            org: (*column).to_owned(),
            reason: format!("{} table(s) reference it through {column}", from.len()),
        });
    }
    let table = declarable.iter().find(|t| named(t) && single_key(catalog, t).is_some())?;
    let singular =
        table.strip_suffix("ies").map(|s| format!("{s}y")).unwrap_or_else(|| table.trim_end_matches('s').to_owned());
    let candidates: Vec<String> =
        std::iter::once(format!("{singular}_id")).chain(TENANT_COLUMNS.iter().map(|c| (*c).to_owned())).collect();
    let org = candidates
        .iter()
        .max_by_key(|c| declarable.iter().filter(|t| catalog.column(t, c).is_some()).count())
        .cloned()
        .unwrap_or_else(|| "org_id".to_owned());
    Some(Root { table: (*table).to_owned(), org, reason: format!("named {table}") })
}

/// The one column of a table's primary key (what a root needs).
fn single_key(catalog: &Catalog, table: &str) -> Option<String> {
    let pk = catalog.primary_key(table)?;
    (pk.columns.len() == 1).then(|| pk.columns[0].clone())
}

/// A table's primary key without the tenant column: what the declaration marks #[key].
fn declared_key(catalog: &Catalog, table: &str, tenant: bool, org: &str) -> Vec<String> {
    let pk = catalog.primary_key(table).map(|pk| pk.columns.clone()).unwrap_or_default();
    pk.into_iter().filter(|c| !(tenant && c == org)).collect()
}

fn classify<'a>(catalog: &Catalog, declarable: &[&'a str], root: Option<&Root>) -> BTreeMap<&'a str, Guess> {
    let mut guesses = BTreeMap::new();
    let org = root.map_or("org_id", |r| r.org.as_str());
    for &table in declarable {
        let guess = if root.is_some_and(|r| r.table == table) {
            Guess { scope: Scope::Root, reason: "the organizations table".to_owned(), backfill: None }
        } else if catalog.column(table, org).is_some() {
            Guess { scope: Scope::Tenant, reason: format!("has {org}"), backfill: None }
        } else {
            continue;
        };
        guesses.insert(table, guess);
    }
    // Children of tenant tables, to a fixpoint: their rows belong to their parent's organization.
    loop {
        let mut found = Vec::new();
        for &table in declarable.iter().filter(|t| !guesses.contains_key(*t)) {
            let parent = catalog.constraints_of(table).find(|fk| {
                fk.kind == ConstraintKind::ForeignKey
                    && fk.columns.len() == 1
                    && fk.ref_table.as_deref().is_some_and(|p| guesses.get(p).is_some_and(|g| g.scope == Scope::Tenant))
            });
            if let Some(fk) = parent {
                let (column, parent) = (&fk.columns[0], fk.ref_table.as_deref().unwrap_or_default());
                found.push((
                    table,
                    Guess {
                        scope: Scope::Tenant,
                        reason: format!("no {org}, but a child of tenant table {parent} through {column}"),
                        backfill: Some(format!("from_parent = {column:?}")),
                    },
                ));
            }
        }
        if found.is_empty() {
            break;
        }
        guesses.extend(found);
    }
    // Rows owned by a user whose organization the users table records.
    let rest: Vec<&str> = declarable.iter().copied().filter(|t| !guesses.contains_key(t)).collect();
    for table in rest {
        let via = root.and_then(|root| {
            let fk = catalog.constraints_of(table).find(|fk| {
                fk.kind == ConstraintKind::ForeignKey
                    && fk.columns.len() == 1
                    && fk.ref_table.as_deref() == Some("users")
            })?;
            let users_org = catalog.constraints_of("users").find(|u| {
                u.kind == ConstraintKind::ForeignKey
                    && u.columns.len() == 1
                    && u.ref_table.as_deref() == Some(root.table.as_str())
            })?;
            Some((fk.columns[0].clone(), users_org.columns[0].clone()))
        });
        let guess = match via {
            Some((column, users_org)) => Guess {
                scope: Scope::Tenant,
                reason: format!("no {org}; its rows belong to users, and users.{users_org} names their organization"),
                backfill: Some(format!("via = \"{column} -> users.{users_org}\"")),
            },
            None => Guess {
                scope: Scope::Global,
                reason: format!(
                    "no {org} and no tenant parent: read-only reference data for every organization. If its rows belong to organizations or people, make it tenant (with a #[backfill]), shared or internal"
                ),
                backfill: None,
            },
        };
        guesses.insert(table, guess);
    }
    guesses
}

fn write_table(
    out: &mut String,
    catalog: &Catalog,
    enums: &BTreeSet<String>,
    name: &str,
    guess: &Guess,
    guesses: &BTreeMap<&str, Guess>,
    org: &str,
) {
    let tenant = guess.scope == Scope::Tenant;
    let columns: Vec<&Column> = catalog.columns_of(name).map(|c| &c.fact).collect();
    let declared = |column: &str| !(tenant && column == org);
    // The key: the primary key without the tenant column (one column or several); a root
    // or shared table's key is one column.
    let pk = declared_key(catalog, name, tenant, org);
    let single = matches!(guess.scope, Scope::Root | Scope::Shared);
    let key: Vec<String> = match pk.as_slice() {
        [_] => pk.clone(),
        [_, _, ..] if !single => pk.clone(),
        _ => {
            let chosen = pk
                .first()
                .map(String::as_str)
                .or_else(|| columns.iter().find(|c| c.not_null && declared(&c.name)).map(|c| c.name.as_str()))
                .or_else(|| columns.iter().find(|c| declared(&c.name)).map(|c| c.name.as_str()))
                .unwrap_or("id")
                .to_owned();
            let why = if pk.is_empty() {
                "no primary key".to_owned()
            } else {
                format!("a primary key of several columns ({}) on the {} table", pk.join(", "), guess.scope.name())
            };
            let _ = writeln!(out, "// REVIEW: {why}; {chosen} is declared the key (what its references point at).");
            vec![chosen]
        }
    };
    // Unique keys (constraints and plain unique indexes), with or without the tenant column.
    let mut per_org: Vec<Vec<&str>> = Vec::new();
    let mut global: Vec<Vec<&str>> = Vec::new();
    let mut expressions: Vec<String> = Vec::new();
    for index in catalog.indexes_of(name).filter(|i| i.unique && !i.primary && i.valid) {
        let (keys, with_org): (Vec<&String>, Vec<&String>) =
            index.columns.iter().partition(|c| !(tenant && c.as_str() == org));
        if !index.partial && keys.len() == 1 && keys[0].starts_with('(') {
            // An expression key: `lower(email)`, per organization when the org column is in it.
            let sql = keys[0].strip_prefix('(').and_then(|k| k.strip_suffix(')')).unwrap_or(keys[0]);
            let global = tenant && with_org.is_empty();
            expressions.push(format!("{}(expr = {sql:?})", if global { "unique_global" } else { "unique" }));
            continue;
        }
        if index.partial || index.columns.iter().any(|c| c.starts_with('(')) {
            let _ = writeln!(
                out,
                "// REVIEW: unique index {} ({}) is partial or on an expression; not declared.",
                index.name,
                index.columns.join(", ")
            );
            continue;
        }
        let has_org = tenant && index.columns.iter().any(|c| c == org);
        let rest: Vec<&str> = index.columns.iter().map(String::as_str).filter(|c| declared(c)).collect();
        if rest.is_empty() || rest == key {
            continue;
        }
        let list = if has_org || !tenant { &mut per_org } else { &mut global };
        if !list.contains(&rest) {
            list.push(rest);
        }
    }
    let scope = guess.scope.name();
    let mut attributes = vec![scope.to_owned(), format!("table = {name:?}")];
    let namespace = catalog.table(name).map(|t| t.schema.as_str()).unwrap_or_default();
    if !namespace.is_empty() && Some(namespace) != catalog.schema.split(',').next() {
        attributes.push(format!("schema = {namespace:?}"));
    }
    attributes.extend(per_org.iter().filter(|u| u.len() > 1).map(|u| format!("unique({})", u.join(", "))));
    attributes.extend(global.iter().filter(|u| u.len() > 1).map(|u| format!("unique_global({})", u.join(", "))));
    attributes.extend(expressions);
    let _ = writeln!(out, "// REVIEW: {scope} ({}).", guess.reason);
    if !global.is_empty() {
        let _ = writeln!(
            out,
            "// REVIEW: unique across organizations as found: {}. Keep it global (an existence oracle, reported as info), or make it per organization with unique(...).",
            global.iter().map(|u| u.join(", ")).collect::<Vec<_>>().join("; ")
        );
    }
    let _ = writeln!(out, "#[tenancy({})]", attributes.join(", "));
    if let Some(backfill) = &guess.backfill {
        let _ = writeln!(out, "#[backfill({backfill})]");
    } else if tenant {
        let _ = writeln!(
            out,
            "// REVIEW: if rows may lack an organization, say how they find one: #[backfill(default_org)], (from_parent = \"col\"), (sql = \"...\")"
        );
    }
    let _ = writeln!(out, "struct {} {{", struct_name(name));
    for column in columns.iter().filter(|c| declared(&c.name)) {
        let column_name = column.name.as_str();
        let is_key = key.iter().any(|k| k == column_name);
        let ty = column_type(&column.ty, enums);
        if is_key {
            let _ = writeln!(out, "    #[key]");
        }
        if !is_key && per_org.iter().any(|u| u == &[column_name]) {
            let _ = writeln!(out, "    #[unique]");
        }
        if !is_key && global.iter().any(|u| u == &[column_name]) {
            let _ = writeln!(out, "    #[unique(global)]");
        }
        if let Some(reference) = reference(catalog, name, column_name, tenant, org, guess.scope, guesses, &ty) {
            let _ = writeln!(out, "    {reference}");
        }
        if let Some(default) = &column.default
            && !default.starts_with("nextval(")
            && !(is_key && default == "gen_random_uuid()")
        {
            let _ = writeln!(out, "    #[default({default:?})]");
        }
        let written = ty.rust_name();
        let written = if column.not_null || is_key { written } else { format!("Option<{written}>") };
        if is_key && !column.not_null {
            let _ = writeln!(out, "    // REVIEW: the key is nullable in the database.");
        }
        let _ = writeln!(out, "    {}: {written},", field(column_name));
    }
    let _ = writeln!(out, "}}");
}

/// `#[references(...)]` for a column, when the declaration can say it: a one-column foreign
/// key, or a composite one through the tenant column (tenancy's own form). Otherwise a REVIEW
/// comment, and the column stays plain.
#[allow(clippy::too_many_arguments)]
fn reference(
    catalog: &Catalog,
    table: &str,
    column: &str,
    tenant: bool,
    org: &str,
    scope: Scope,
    guesses: &BTreeMap<&str, Guess>,
    ty: &ColumnType,
) -> Option<String> {
    let fks = || catalog.constraints_of(table).filter(|fk| fk.kind == ConstraintKind::ForeignKey);
    let found = fks().find(|fk| {
        fk.columns == [column]
            || (tenant
                && fk.columns.len() == 2
                && fk.columns.iter().any(|c| c == org)
                && fk.columns.iter().any(|c| c == column))
    });
    let Some(fk) = found else {
        // A foreign key of several columns besides the tenant column: not one reference.
        let wide = fks().find(|fk| fk.columns.iter().any(|c| c == column))?;
        return Some(format!(
            "// REVIEW: part of the foreign key {} ({}) -> {}; a reference is one column, so it stays a plain column.",
            wide.name,
            wide.columns.join(", "),
            wide.ref_table.as_deref().unwrap_or("?")
        ));
    };
    let target = fk.ref_table.as_deref()?;
    let at = fk.columns.iter().position(|c| c == column)?;
    let target_column = fk.ref_columns.get(at)?;
    let outside = fk.ref_schema.as_deref().is_some_and(|s| !catalog.schema.split(',').any(|n| n == s));
    let Some(target_guess) = guesses.get(target).filter(|_| !outside) else {
        let shown = match fk.ref_schema.as_deref() {
            Some(namespace) if outside => format!("{namespace}.{target}"),
            _ => target.to_owned(),
        };
        return Some(format!(
            "// REVIEW: references {shown}.{target_column}, outside this declaration; kept as a plain column (verify points it at existing rows)."
        ));
    };
    // What validation allows: tenant rows reach the root through the org column only, and
    // nothing outside tenant tables points at one organization's rows.
    let allowed = !matches!(
        (scope, target_guess.scope),
        (Scope::Tenant, Scope::Root) | (Scope::Global | Scope::Root | Scope::Shared | Scope::Internal, Scope::Tenant)
    );
    let target_ty = catalog.column(target, target_column).map(|c| c.ty.as_str());
    if !allowed || target_ty.is_some_and(|t| !ty.matches_sql(t)) {
        return Some(format!(
            "// REVIEW: references {target}.{target_column} ({} table), which a {} table cannot declare; kept as a plain column.",
            target_guess.scope.name(),
            scope.name()
        ));
    }
    let key = declared_key(catalog, target, target_guess.scope == Scope::Tenant, org);
    let unique = catalog.indexes_of(target).any(|i| {
        let rest: Vec<&String> =
            i.columns.iter().filter(|c| !(target_guess.scope == Scope::Tenant && *c == org)).collect();
        i.unique && i.valid && !i.partial && rest == [target_column]
    });
    Some(match key.as_slice() {
        [one] if one == target_column => format!("#[references({target})]"),
        _ if unique => format!("#[references({target}.{target_column})]"),
        _ => format!(
            "// REVIEW: references {target}.{target_column}, part of {target}'s key ({}); a reference is one column, so it stays a plain column.",
            key.join(", ")
        ),
    })
}

/// A column's type as the declaration writes it: a named type, an enum, or `Sql<"...">`.
fn column_type(sql: &str, enums: &BTreeSet<String>) -> ColumnType {
    let element = sql.strip_suffix("[]");
    let is_enum = |name: &str| enums.contains(name);
    match element {
        Some(inner) if is_enum(inner) => ColumnType::Array(Box::new(ColumnType::Enum(inner.to_owned()))),
        _ if is_enum(sql) => ColumnType::Enum(sql.to_owned()),
        _ => ColumnType::from_sql_name(sql).unwrap_or_else(|| ColumnType::Sql(sql.to_owned())),
    }
}

fn is_field_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn field(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "fn", "for", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "type", "unsafe", "use", "where",
        "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) { format!("r#{name}") } else { name.to_owned() }
}

/// `social_platform_connections` → `SocialPlatformConnection` (a name only; `table = ` is explicit).
fn struct_name(table: &str) -> String {
    let singular = table
        .strip_suffix("ies")
        .map(|s| format!("{s}y"))
        .unwrap_or_else(|| table.strip_suffix('s').filter(|s| !s.ends_with('s')).unwrap_or(table).to_owned());
    singular
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}
