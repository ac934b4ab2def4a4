//! `import`: a first declaration for an existing database, so a team can adopt tenancy in
//! minutes. Tables, columns, keys, uniques and references come from the catalog; tenancy is a
//! guess (an org column → tenant, a `user_id` → tenant placed through the user's organization,
//! anything else → global), and every guess is marked `REVIEW` for a person to confirm.

use crate::catalog::{Catalog, ConstraintKind};
use crate::error::Result;
use diesel::PgConnection;
use std::fmt::Write as _;
use tenancy_schema::{ColumnType, Settings};

/// Reads schema `schema` and returns the text of a declaration file.
pub fn import(conn: &mut PgConnection, schema: &str) -> Result<String> {
    let settings = Settings::default();
    let catalog = crate::catalog::load(conn, schema, &settings.app_role)?;
    Ok(render(&catalog, &settings))
}

/// The declaration text for `catalog` (pure, for tests).
pub fn render(catalog: &Catalog, settings: &Settings) -> String {
    let org = settings.org_column.as_str();
    // The root: the table the org columns reference, else one named organizations.
    let root = catalog
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::ForeignKey && c.columns == [org])
        .and_then(|c| c.ref_table.clone())
        .or_else(|| catalog.table("organizations").map(|t| t.name.clone()));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Imported by `tenancy-migrate import` from database {}, schema {}.\n\
         //! Review every line marked REVIEW, then plan the conversion:\n\
         //!   tenancy-migrate plan --declaration <this file> --database-url ... --out conversion/\n\n\
         #![tenancy(org_column = {org:?}, app_role = {:?})]\n\
         // REVIEW: add `default_org = \"<uuid>\"` above if rows without an owner should go to one organization.",
        catalog.session.database, catalog.schema, settings.app_role
    );
    for table in catalog.tables.iter() {
        let name = table.name.as_str();
        let columns: Vec<&crate::catalog::Column> = catalog.columns_of(name).map(|c| &c.fact).collect();
        let constraints: Vec<&crate::catalog::Constraint> = catalog.constraints_of(name).map(|c| &c.fact).collect();
        let _ = writeln!(out);
        if let Some(bad) = columns.iter().find(|c| !is_field_name(&c.name)) {
            let _ = writeln!(
                out,
                "// REVIEW: table {name:?} is left out: its column {:?} cannot be a Rust field name; rename it to declare the table.",
                bad.name
            );
            continue;
        }
        if !is_field_name(name) {
            let _ = writeln!(out, "// REVIEW: table {name:?} is left out: its name is not a plain SQL identifier.");
            continue;
        }
        let has_org = columns.iter().any(|c| c.name == org);
        let has_user = columns.iter().any(|c| c.name == "user_id");
        let is_root = root.as_deref() == Some(name);
        let pk: Vec<&str> = constraints
            .iter()
            .find(|c| c.kind == ConstraintKind::PrimaryKey)
            .map(|c| c.columns.iter().map(String::as_str).filter(|c| *c != org || !has_org).collect())
            .unwrap_or_default();
        let tenant = !is_root && (has_org || has_user);
        let (scope, comment) = if is_root {
            ("root", "the organizations table")
        } else if has_org {
            ("tenant", "has an org column")
        } else if has_user {
            ("tenant", "has user_id: placed through the user's organization")
        } else {
            ("global", "no org or user column: shared by every organization")
        };
        // Multi-column unique keys (single ones become #[unique]); on tenants without the org column.
        let uniques: Vec<Vec<&str>> = constraints
            .iter()
            .filter(|c| c.kind == ConstraintKind::Unique)
            .map(|c| c.columns.iter().map(String::as_str).filter(|c| !(tenant && *c == org)).collect::<Vec<_>>())
            .filter(|cols| cols.len() > 1)
            .collect();
        let mut attributes = vec![scope.to_owned(), format!("table = {name:?}")];
        for unique in &uniques {
            attributes.push(format!("unique({})", unique.join(", ")));
        }
        let _ = writeln!(out, "// REVIEW: {scope} ({comment}).");
        if pk.len() != 1 {
            let _ = writeln!(
                out,
                "// REVIEW: no single-column primary key; mark the column that identifies a row with #[key]."
            );
        }
        let _ = writeln!(out, "#[tenancy({})]", attributes.join(", "));
        if tenant && has_user && !has_org {
            let _ = writeln!(out, "// REVIEW: how legacy rows find their organization");
            let _ = writeln!(out, "#[backfill(via = \"user_id -> users.default_org_id\")]");
        } else if tenant {
            let _ = writeln!(
                out,
                "// REVIEW: if rows may lack an organization, say how they find one: #[backfill(default_org)], (from_parent = \"col\"), (sql = \"...\")"
            );
        }
        let _ = writeln!(out, "struct {} {{", struct_name(name));
        for column in &columns {
            if tenant && column.name == org {
                continue; // implicit on tenant tables
            }
            let Some(ty) = rust_type(&column.ty) else {
                let _ = writeln!(
                    out,
                    "    // REVIEW: {} is {}, which tenancy does not know yet; left out.",
                    column.name, column.ty
                );
                continue;
            };
            if pk == [column.name.as_str()] {
                let _ = writeln!(out, "    #[key]");
            }
            let single = |kind: ConstraintKind| {
                constraints.iter().find(|c| {
                    c.kind == kind
                        && (c.columns == [column.name.as_str()]
                            || (tenant && c.columns.len() == 2 && c.columns[0] == org && c.columns[1] == column.name))
                })
            };
            if single(ConstraintKind::Unique).is_some() && pk != [column.name.as_str()] {
                let _ = writeln!(out, "    #[unique]");
            }
            if let Some(fk) = single(ConstraintKind::ForeignKey)
                && let Some(target) = &fk.ref_table
            {
                let _ = writeln!(out, "    #[references({target})]");
            }
            if let Some(default) = &column.default
                && !default.starts_with("nextval(")
                && !(pk == [column.name.as_str()] && default == "gen_random_uuid()")
            {
                let _ = writeln!(out, "    #[default({default:?})]");
            }
            let ty = if column.not_null { ty.to_owned() } else { format!("Option<{ty}>") };
            let _ = writeln!(out, "    {}: {ty},", field(&column.name));
        }
        let _ = writeln!(out, "}}");
    }
    out
}

fn rust_type(sql: &str) -> Option<&'static str> {
    let base = sql.split('(').next().unwrap_or(sql).trim();
    let ty = match base {
        "character varying" | "character" | "citext" => ColumnType::Text,
        "timestamp without time zone" => ColumnType::Timestamp,
        "json" => ColumnType::Json,
        other => ColumnType::ALL.iter().map(|(_, t)| *t).find(|t| t.sql_name() == other)?,
    };
    ColumnType::ALL.iter().find(|(_, t)| *t == ty).map(|(rust, _)| *rust)
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
