//! tenancy-schema: the declaration format, its parser and validator, and the IR.
//!
//! `parse_sources` turns declaration text into a validated [`Schema`] or into [`Diagnostics`]
//! naming file:line:col. This crate does no I/O except reading declaration files in [`load_dir`],
//! and builds for `wasm32-unknown-unknown` so the report viewer can share its types. The parser
//! (syn) is the default feature `parser`; the report viewer builds without it.

mod column_type;
mod diagnostic;
pub mod ir;
#[cfg(feature = "parser")]
mod parse;
pub mod report;
#[cfg_attr(not(feature = "parser"), allow(dead_code))]
mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, LoadError};
pub use ir::{Backfill, Claim, Column, ColumnType, Link, MissingOrg, Reference, Schema, Scope, Settings, Span, Table};
#[cfg(feature = "parser")]
pub use parse::default_table_name;
pub use validate::MAX_IDENTIFIER_BYTES;

#[cfg(feature = "parser")]
/// Parses and validates a declaration made of one or more files, given as (file name, text).
/// Files are read in the order given; settings (`#![tenancy(...)]`) may appear in one file only.
pub fn parse_sources(files: &[(String, String)]) -> Result<Schema, Diagnostics> {
    let mut errors = Vec::new();
    let mut settings: Option<(Settings, Span)> = None;
    let mut tables = Vec::new();
    let mut enums = Vec::new();
    for (name, text) in files {
        let parsed = parse::parse_file(name, text, &mut errors);
        if let Some((found, span)) = parsed.settings {
            if let Some((_, first)) = &settings {
                errors.push(
                    Diagnostic::new(span, "settings are declared twice")
                        .hint(format!("keep one #![tenancy(...)]; the first is at {first}")),
                );
            } else {
                settings = Some((found, span));
            }
        }
        tables.extend(parsed.tables);
        enums.extend(parsed.enums);
    }
    let (settings, settings_span) = settings.unwrap_or_else(|| {
        let span = Span { file: files.first().map(|(n, _)| n.clone()).unwrap_or_default(), line: 1, column: 1 };
        (Settings::default(), span)
    });
    let mut schema = Schema { settings, tables, enums };
    if errors.is_empty() {
        validate::validate(&mut schema, &settings_span, &mut errors);
    }
    if errors.is_empty() { Ok(schema) } else { Err(Diagnostics(errors)) }
}

#[cfg(feature = "parser")]
/// Parses one declaration file's text.
pub fn parse_str(file_name: &str, text: &str) -> Result<Schema, Diagnostics> {
    parse_sources(&[(file_name.to_owned(), text.to_owned())])
}

#[cfg(feature = "parser")]
/// Reads every `*.rs` file of a directory (sorted by name), or one file, and parses them.
/// Returns the schema and the files read, so build scripts can watch exactly those.
pub fn load_dir(path: &std::path::Path) -> Result<(Schema, Vec<std::path::PathBuf>), LoadError> {
    let io = |source| LoadError::Io { path: path.display().to_string(), source };
    let mut paths = if path.is_dir() {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry_path = entry.map_err(io)?.path();
            if entry_path.extension().is_some_and(|e| e == "rs") {
                paths.push(entry_path);
            }
        }
        paths
    } else {
        vec![path.to_path_buf()]
    };
    paths.sort();
    if paths.is_empty() {
        return Err(LoadError::Empty { path: path.display().to_string() });
    }
    let mut files = Vec::new();
    for file in &paths {
        let text = std::fs::read_to_string(file)
            .map_err(|source| LoadError::Io { path: file.display().to_string(), source })?;
        files.push((file.display().to_string(), text));
    }
    Ok((parse_sources(&files)?, paths))
}

/// The path of this workspace's own declaration.
pub fn workspace_declaration_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema")
}

#[cfg(test)]
mod tests;

impl Schema {
    /// Every schema the declared tables live in: the declaration's own first, then each other
    /// one (`#[tenancy(tenant, schema = "billing")]`) in the order its first table appears.
    /// Table names are unique across them, so with all of them on the search path every
    /// unqualified name means one declared table.
    pub fn schemas(&self) -> Vec<&str> {
        let mut out = vec![self.settings.schema.as_str()];
        for namespace in self.tables.iter().filter_map(|t| t.schema.as_deref()) {
            if !out.contains(&namespace) {
                out.push(namespace);
            }
        }
        out
    }
}

impl Table {
    /// The schema this table lives in.
    pub fn schema_in<'s>(&'s self, settings: &'s Settings) -> &'s str {
        self.schema.as_deref().unwrap_or(&settings.schema)
    }
}

/// `SocialPlatformConnection` → `social_platform_connection`: Rust names to SQL ones (enum
/// labels, generated function names).
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(ch.to_lowercase());
    }
    out
}
