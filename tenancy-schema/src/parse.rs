//! Declaration syntax → unvalidated IR.
//!
//! A declaration is a Rust file that is parsed with syn, never compiled:
//!
//! ```text
//! #![tenancy(org_column = "org_id", app_role = "app_user", claim = "app.org_id")]
//!
//! #[tenancy(root)]
//! struct Organization { #[key] id: Uuid, name: String }
//!
//! #[tenancy(tenant, unique(user_id, platform))]
//! #[backfill(via = "user_id -> users.default_org_id")]
//! struct SocialPlatformConnection { #[key] id: i64, #[references(users)] user_id: Uuid, platform: String }
//! ```
//!
//! This module only reads syntax; cross-table rules live in `validate`.

use crate::diagnostic::Diagnostic;
use crate::ir::{Backfill, Claim, Column, ColumnType, Link, MissingOrg, Reference, Scope, Settings, Span, Table};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Fields, GenericArgument, Ident, Item, LitStr, PathArguments, Token, Type};

/// What one file declares, before validation.
pub(crate) struct ParsedFile {
    pub settings: Option<(Settings, Span)>,
    pub tables: Vec<Table>,
    pub enums: Vec<crate::ir::EnumType>,
}

pub(crate) fn parse_file(file: &str, source: &str, errors: &mut Vec<Diagnostic>) -> ParsedFile {
    let mut parsed = ParsedFile { settings: None, tables: Vec::new(), enums: Vec::new() };
    let syntax = match syn::parse_file(source) {
        Ok(syntax) => syntax,
        Err(err) => {
            errors.push(syn_error(file, &err).hint("a declaration is Rust syntax: structs with attributes"));
            return parsed;
        }
    };
    for attr in &syntax.attrs {
        if attr.path().is_ident("tenancy") {
            match parse_settings(attr) {
                Ok(settings) => parsed.settings = Some((settings, span(file, attr.span()))),
                Err(err) => errors.push(syn_error(file, &err).hint(SETTINGS_HINT)),
            }
        } else if !is_doc_or_allow(attr) {
            errors.push(
                Diagnostic::new(span(file, attr.span()), format!("unknown file attribute `{}`", path_name(attr)))
                    .hint(SETTINGS_HINT),
            );
        }
    }
    for item in &syntax.items {
        match item {
            Item::Struct(item) => {
                if let Some(table) = parse_struct(file, item, errors) {
                    parsed.tables.push(table);
                }
            }
            Item::Enum(item) => match parse_enum(file, item) {
                Ok(declared) => parsed.enums.push(declared),
                Err(diagnostic) => errors.push(diagnostic),
            },
            Item::Use(_) => {}
            other => errors.push(
                Diagnostic::new(
                    span(file, other.span()),
                    "only structs and #[tenancy(enum)] enums can be declared here",
                )
                .hint("declare each table as `#[tenancy(tenant)] struct Name { ... }`"),
            ),
        }
    }
    parsed
}

const SETTINGS_HINT: &str = "settings are `#![tenancy(org_column = \"org_id\", app_role = \"app_user\", claim = \"app.org_id\" | postgrest | signed, default_org = \"<uuid>\", schema = \"public\")]`";
const TABLE_HINT: &str = "write `#[tenancy(root | tenant | global | shared(through = \"link.column\") | internal, table = \"name\", schema = \"name\", unique(col, ...), unique_global(col, ...), unique(expr = \"lower(email)\"))]`";
const COLUMN_HINT: &str = "column attributes are #[key], #[unique], #[unique(global)], #[references(table)], #[references(table.column)], #[default(\"sql\")]";
const BACKFILL_HINT: &str = "write #[backfill(default_org)], #[backfill(via = \"col -> table.org_column\")], #[backfill(from_parent = \"col\")] or #[backfill(sql = \"expr\")]";

fn parse_settings(attr: &Attribute) -> syn::Result<Settings> {
    let mut settings = Settings::default();
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("org_column") {
            settings.org_column = meta.value()?.parse::<LitStr>()?.value();
        } else if meta.path.is_ident("app_role") {
            settings.app_role = meta.value()?.parse::<LitStr>()?.value();
        } else if meta.path.is_ident("schema") {
            settings.schema = meta.value()?.parse::<LitStr>()?.value();
        } else if meta.path.is_ident("default_org") {
            settings.default_org = Some(meta.value()?.parse::<LitStr>()?.value());
        } else if meta.path.is_ident("claim") {
            let value = meta.value()?;
            settings.claim = if value.peek(LitStr) {
                Claim::Setting(value.parse::<LitStr>()?.value())
            } else {
                let preset: Ident = value.parse()?;
                if preset == "postgrest" {
                    Claim::Postgrest
                } else if preset == "signed" {
                    // `signed` or `signed("setting.name")`.
                    if value.peek(syn::token::Paren) {
                        let inner;
                        syn::parenthesized!(inner in value);
                        Claim::Signed(inner.parse::<LitStr>()?.value())
                    } else {
                        Claim::Signed(crate::ir::SIGNED_CLAIM_SETTING.to_owned())
                    }
                } else {
                    return Err(syn::Error::new(
                        preset.span(),
                        format!("unknown claim preset `{preset}`; expected \"setting.name\", postgrest or signed"),
                    ));
                }
            };
        } else {
            return Err(meta.error(format!("unknown setting `{}`", meta_name(&meta.path))));
        }
        Ok(())
    })?;
    Ok(settings)
}

fn parse_struct(file: &str, item: &syn::ItemStruct, errors: &mut Vec<Diagnostic>) -> Option<Table> {
    let struct_name = item.ident.unraw().to_string();
    let mut scope = None;
    let mut table_name = None;
    let mut table_schema = None;
    let mut uniques = Vec::new();
    let mut global_uniques = Vec::new();
    let mut unique_expressions = Vec::new();
    let mut backfill = None;
    let mut missing_org = None;
    let mut link = None;
    for attr in &item.attrs {
        let result = if attr.path().is_ident("tenancy") {
            attr.parse_nested_meta(|meta| {
                let name = meta_name(&meta.path);
                match name.as_str() {
                    "root" | "tenant" | "global" | "shared" | "internal" => {
                        if scope.is_some() {
                            return Err(
                                meta.error("a table has exactly one scope: root, tenant, global, shared or internal")
                            );
                        }
                        if name == "shared" {
                            scope = Some(Scope::Shared);
                            link = Some(parse_link(&meta)?);
                            return Ok(());
                        }
                        scope = Some(match name.as_str() {
                            "root" => Scope::Root,
                            "tenant" => Scope::Tenant,
                            "internal" => Scope::Internal,
                            _ => Scope::Global,
                        });
                    }
                    "table" => table_name = Some(meta.value()?.parse::<LitStr>()?.value()),
                    "schema" => table_schema = Some(meta.value()?.parse::<LitStr>()?.value()),
                    "unique" | "unique_global" => {
                        let mut columns = Vec::new();
                        let mut expression = None;
                        meta.parse_nested_meta(|column| {
                            if column.path.is_ident("expr") {
                                let sql = column.value()?.parse::<LitStr>()?;
                                if sql.value().trim().is_empty() {
                                    return Err(syn::Error::new(sql.span(), "an empty expression"));
                                }
                                expression = Some(sql.value());
                                return Ok(());
                            }
                            let ident = column.path.require_ident()?;
                            columns.push((ident.unraw().to_string(), span(file, ident.span())));
                            Ok(())
                        })?;
                        let global = name == "unique_global";
                        match expression {
                            Some(_) if !columns.is_empty() => {
                                return Err(
                                    meta.error("write an expression key alone: unique(expr = \"lower(email)\")")
                                );
                            }
                            Some(sql) => {
                                unique_expressions.push(crate::ir::UniqueExpression { sql, global });
                            }
                            None if global => global_uniques.push(columns),
                            None => uniques.push(columns),
                        }
                    }
                    _ => return Err(meta.error(format!("unknown table attribute `{name}`"))),
                }
                Ok(())
            })
            .map_err(|err| syn_error(file, &err).hint(TABLE_HINT))
        } else if attr.path().is_ident("backfill") {
            parse_backfill(attr)
                .map(|(b, m)| (backfill, missing_org) = (b, m))
                .map_err(|err| syn_error(file, &err).hint(BACKFILL_HINT))
        } else if is_doc_or_allow(attr) {
            Ok(())
        } else {
            Err(Diagnostic::new(span(file, attr.span()), format!("unknown attribute `{}`", path_name(attr)))
                .hint(TABLE_HINT))
        };
        if let Err(diagnostic) = result {
            errors.push(diagnostic);
        }
    }
    let Some(scope) = scope else {
        errors.push(
            Diagnostic::new(
                span(file, item.ident.span()),
                format!("struct `{struct_name}` has no #[tenancy(...)] scope"),
            )
            .hint(TABLE_HINT),
        );
        return None;
    };
    let Fields::Named(fields) = &item.fields else {
        errors.push(
            Diagnostic::new(span(file, item.ident.span()), "a table struct needs named fields")
                .hint("write `struct Name { #[key] id: i64, ... }`"),
        );
        return None;
    };
    let columns = fields.named.iter().filter_map(|field| parse_column(file, field, errors)).collect();
    Some(Table {
        name: table_name.unwrap_or_else(|| default_table_name(&struct_name)),
        schema: table_schema,
        struct_name,
        scope,
        columns,
        unique_spans: uniques
            .iter()
            .map(|u: &Vec<(String, Span)>| u.first().map(|(_, s)| s.clone()).unwrap_or_default())
            .collect(),
        uniques: uniques.into_iter().map(|u| u.into_iter().map(|(c, _)| c).collect()).collect(),
        global_unique_spans: global_uniques
            .iter()
            .map(|u: &Vec<(String, Span)>| u.first().map(|(_, s)| s.clone()).unwrap_or_default())
            .collect(),
        global_uniques: global_uniques.into_iter().map(|u| u.into_iter().map(|(c, _)| c).collect()).collect(),
        unique_expressions,
        backfill,
        missing_org,
        link,
        span: span(file, item.ident.span()),
    })
}

/// `#[tenancy(enum)] enum Mood { Calm, #[value("on hold")] OnHold }` → the type `mood` with the
/// labels `calm`, `on hold` (`#[tenancy(enum, name = "schema.name")]` names it).
fn parse_enum(file: &str, item: &syn::ItemEnum) -> Result<crate::ir::EnumType, Diagnostic> {
    let hint = "declare an enum type as `#[tenancy(enum)] enum Mood { Calm, Busy }` (labels: snake_case, or #[value(\"...\")])";
    let mut is_enum = false;
    let mut name = None;
    for attr in &item.attrs {
        if attr.path().is_ident("tenancy") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("enum") {
                    is_enum = true;
                } else if meta.path.is_ident("name") {
                    name = Some(meta.value()?.parse::<LitStr>()?.value());
                } else {
                    return Err(meta.error("an enum takes `enum` and `name = \"...\"`"));
                }
                Ok(())
            })
            .map_err(|err| syn_error(file, &err).hint(hint))?;
        }
    }
    if !is_enum {
        return Err(Diagnostic::new(
            span(file, item.ident.span()),
            format!("enum `{}` has no #[tenancy(enum)]", item.ident),
        )
        .hint(hint));
    }
    let mut labels = Vec::new();
    for variant in &item.variants {
        let mut label = crate::snake_case(&variant.ident.to_string());
        for attr in &variant.attrs {
            if attr.path().is_ident("value") {
                label = attr.parse_args::<LitStr>().map_err(|err| syn_error(file, &err).hint(hint))?.value();
            }
        }
        if labels.contains(&label) {
            return Err(
                Diagnostic::new(span(file, variant.ident.span()), format!("label `{label}` appears twice")).hint(hint)
            );
        }
        labels.push(label);
    }
    if labels.is_empty() {
        return Err(Diagnostic::new(span(file, item.ident.span()), "an enum type needs at least one label").hint(hint));
    }
    Ok(crate::ir::EnumType { name: name.unwrap_or_else(|| crate::snake_case(&item.ident.to_string())), labels })
}

/// `shared(through = "link_table.column")`.
fn parse_link(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Link> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error("shared needs the link: `shared(through = \"link_table.column\")`"));
    }
    let mut link = None;
    meta.parse_nested_meta(|inner| {
        if !inner.path.is_ident("through") {
            return Err(inner.error("shared takes `through = \"link_table.column\"`"));
        }
        let value = inner.value()?.parse::<LitStr>()?;
        let text = value.value();
        let Some((table, column)) = text.split_once('.').filter(|(t, c)| !t.is_empty() && !c.is_empty()) else {
            return Err(syn::Error::new(value.span(), "write `through = \"link_table.column\"`"));
        };
        link = Some(Link { table: table.to_owned(), column: column.to_owned() });
        Ok(())
    })?;
    link.ok_or_else(|| meta.error("shared needs the link: `shared(through = \"link_table.column\")`"))
}

/// `#[backfill(strategy, missing_org = "reassign" | "delete")]`: either part may be alone.
fn parse_backfill(attr: &Attribute) -> syn::Result<(Option<Backfill>, Option<MissingOrg>)> {
    let mut backfill = None;
    let mut missing_org = None;
    attr.parse_nested_meta(|meta| {
        let name = meta_name(&meta.path);
        if name == "missing_org" {
            let lit = meta.value()?.parse::<LitStr>()?;
            missing_org = Some(match lit.value().as_str() {
                "reassign" => MissingOrg::Reassign,
                "delete" => MissingOrg::Delete,
                other => {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("missing_org = \"{other}\": write \"reassign\" (placed by the strategy) or \"delete\""),
                    ));
                }
            });
            return Ok(());
        }
        backfill = Some(match name.as_str() {
            "default_org" => Backfill::DefaultOrg,
            "from_parent" => Backfill::FromParent { column: meta.value()?.parse::<LitStr>()?.value() },
            "sql" => Backfill::Sql(meta.value()?.parse::<LitStr>()?.value()),
            "via" => {
                let lit = meta.value()?.parse::<LitStr>()?;
                parse_via(&lit.value())
                    .ok_or_else(|| syn::Error::new(lit.span(), "`via` must look like \"column -> table.column\""))?
            }
            _ => return Err(meta.error(format!("unknown backfill strategy `{name}`"))),
        });
        Ok(())
    })?;
    if backfill.is_none() && missing_org.is_none() {
        return Err(syn::Error::new(attr.span(), "empty #[backfill()]"));
    }
    Ok((backfill, missing_org))
}

fn parse_via(text: &str) -> Option<Backfill> {
    let (column, target) = text.split_once("->")?;
    let (table, target) = target.trim().split_once('.')?;
    let [column, table, target] = [column.trim(), table.trim(), target.trim()];
    if [column, table, target].iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return None;
    }
    Some(Backfill::Via { column: column.to_owned(), table: table.to_owned(), target: target.to_owned() })
}

fn parse_column(file: &str, field: &syn::Field, errors: &mut Vec<Diagnostic>) -> Option<Column> {
    let ident = field.ident.as_ref()?;
    let name = ident.unraw().to_string();
    let (ty, nullable) = match column_type(&field.ty) {
        Ok(found) => found,
        Err(shown) => {
            errors.push(
                Diagnostic::new(span(file, field.ty.span()), format!("unknown column type `{shown}` for `{name}`"))
                    .hint(format!("supported types: {}, each optionally wrapped in Option<...>", ColumnType::NAMES)),
            );
            return None;
        }
    };
    let mut column = Column {
        name,
        ty,
        nullable,
        key: false,
        unique: false,
        global_unique: false,
        references: None,
        default: None,
        span: span(file, ident.span()),
    };
    for attr in &field.attrs {
        let result = if attr.path().is_ident("key") {
            attr.meta.require_path_only().map(|_| column.key = true)
        } else if attr.path().is_ident("unique") {
            if matches!(attr.meta, syn::Meta::Path(_)) {
                column.unique = true;
                Ok(())
            } else {
                attr.parse_args::<Ident>().and_then(|scope| {
                    if scope == "global" {
                        column.global_unique = true;
                        Ok(())
                    } else {
                        Err(syn::Error::new(scope.span(), "write #[unique] (per organization) or #[unique(global)]"))
                    }
                })
            }
        } else if attr.path().is_ident("references") {
            attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
                let table = Ident::parse_any(input)?.unraw().to_string();
                let column = if input.peek(Token![.]) {
                    input.parse::<Token![.]>()?;
                    Some(Ident::parse_any(input)?.unraw().to_string())
                } else {
                    None
                };
                Ok((table, column))
            })
            .map(|(table, target)| {
                // An empty column means "the key of that table"; validation resolves it.
                column.references = Some(Reference { table, column: target.unwrap_or_default() });
            })
        } else if attr.path().is_ident("default") {
            attr.parse_args::<LitStr>().map(|sql| column.default = Some(sql.value()))
        } else if is_doc_or_allow(attr) {
            Ok(())
        } else {
            Err(syn::Error::new(attr.span(), format!("unknown column attribute `{}`", path_name(attr))))
        };
        if let Err(err) = result {
            errors.push(syn_error(file, &err).hint(COLUMN_HINT));
        }
    }
    Some(column)
}

/// `T` or `Option<T>` → (type, nullable); on failure the type as written.
fn column_type(ty: &Type) -> Result<(ColumnType, bool), String> {
    let shown = || quote_type(ty);
    let Type::Path(path) = ty else {
        return Err(shown());
    };
    let segment = path.path.segments.last().ok_or_else(shown)?;
    if segment.ident == "Option" {
        let [GenericArgument::Type(inner)] = generic_args(segment).ok_or_else(shown)?[..] else {
            return Err(shown());
        };
        let (inner, nullable) = column_type(inner)?;
        if nullable {
            return Err(shown());
        }
        return Ok((inner, true));
    }
    if path.path.segments.len() != 1 {
        return Err(shown());
    }
    sql_type(segment).map(|t| (t, false)).ok_or_else(shown)
}

/// A type without `Option`: a plain name, or `Varchar<255>`, `Char<2>`, `Numeric<10, 2>`,
/// `Vec<T>`, `Enum<"name">`, `Sql<"point">`.
fn sql_type(segment: &syn::PathSegment) -> Option<ColumnType> {
    let name = segment.ident.to_string();
    if segment.arguments.is_none() {
        return ColumnType::from_rust_name(&name);
    }
    let args = generic_args(segment)?;
    let number = |arg: &GenericArgument| match arg {
        GenericArgument::Const(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. })) => {
            n.base10_parse::<u32>().ok()
        }
        _ => None,
    };
    let text = |arg: &GenericArgument| match arg {
        GenericArgument::Const(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) => {
            Some(s.value()).filter(|s| !s.trim().is_empty())
        }
        _ => None,
    };
    Some(match (name.as_str(), &args[..]) {
        ("Varchar", [n]) => ColumnType::Varchar(Some(number(n)?)),
        ("Char", [n]) => ColumnType::Char(number(n)?),
        ("Numeric", [p, s]) => ColumnType::Numeric(Some((number(p)?, number(s)?))),
        ("Enum", [name]) => ColumnType::Enum(text(name)?),
        ("Sql", [sql]) => ColumnType::Sql(text(sql)?),
        ("Vec", [GenericArgument::Type(Type::Path(inner))]) if inner.path.segments.len() == 1 => {
            match sql_type(&inner.path.segments[0])? {
                ColumnType::Array(_) => return None, // one dimension, as PostgreSQL columns are used
                element => ColumnType::Array(Box::new(element)),
            }
        }
        _ => return None,
    })
}

fn generic_args(segment: &syn::PathSegment) -> Option<Vec<&GenericArgument>> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter().collect()),
        _ => None,
    }
}

fn quote_type(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty).to_string().replace(' ', "")
}

fn is_doc_or_allow(attr: &Attribute) -> bool {
    attr.path().is_ident("doc") || attr.path().is_ident("allow")
}

fn path_name(attr: &Attribute) -> String {
    meta_name(attr.path())
}

fn meta_name(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

pub(crate) fn span(file: &str, span: proc_macro2::Span) -> Span {
    let start = span.start();
    Span { file: file.to_owned(), line: start.line, column: start.column + 1 }
}

fn syn_error(file: &str, err: &syn::Error) -> Diagnostic {
    Diagnostic::new(span(file, err.span()), err.to_string())
}

/// `SocialPlatformConnection` → `social_platform_connections`; `Company` → `companies`.
pub fn default_table_name(struct_name: &str) -> String {
    let mut snake = String::new();
    for (i, ch) in struct_name.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(ch.to_lowercase());
        } else {
            snake.push(ch);
        }
    }
    let consonant_y =
        snake.ends_with('y') && !snake.ends_with("ay") && !snake.ends_with("ey") && !snake.ends_with("oy");
    if consonant_y {
        snake.pop();
        snake.push_str("ies");
    } else if snake.ends_with('s') || snake.ends_with('x') || snake.ends_with("ch") || snake.ends_with("sh") {
        snake.push_str("es");
    } else {
        snake.push('s');
    }
    snake
}
