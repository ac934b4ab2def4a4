//! Generates the typed models from the declaration into OUT_DIR, and a table of the embedded
//! migrations' SQL for `--dry-run`. Reruns only when the declaration or migrations change.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let declaration = manifest.join("../tenancy-schema/schema");
    let migrations = manifest.join("../migrations");
    println!("cargo::rerun-if-changed={}", declaration.display());
    println!("cargo::rerun-if-changed={}", migrations.display());

    let (schema, files) = match tenancy_schema::load_dir(&declaration) {
        Ok(loaded) => loaded,
        Err(err) => {
            // Cargo prints the build script's stderr; the message names file:line:col.
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    write(&out.join("models.rs"), &tenancy_codegen::rust::models(&schema));
    // The models of a declaration with every column type, for `tests/it/types.rs`.
    let every_type = manifest.join("tests/fixtures/every_type.rs");
    println!("cargo::rerun-if-changed={}", every_type.display());
    let source = std::fs::read_to_string(&every_type).expect("tests/fixtures/every_type.rs");
    match tenancy_schema::parse_str("tests/fixtures/every_type.rs", &source) {
        Ok(schema) => write(&out.join("every_type_models.rs"), &tenancy_codegen::rust::models(&schema)),
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    }
    write(&out.join("migration_sql.rs"), &migration_sql_table(&migrations));
    write(&out.join("declaration.rs"), &declaration_files(&files));
}

/// The declaration's files, embedded so `scan` compares with the declaration the binary was
/// built from (the models and migrations it carries) unless told otherwise.
fn declaration_files(files: &[PathBuf]) -> String {
    let mut out = String::from(
        "/// (path from the workspace root, text) of each declaration file.\npub const FILES: &[(&str, &str)] = &[\n",
    );
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let shown = format!("tenancy-schema/schema/{name}");
        out.push_str(&format!("    ({shown:?}, include_str!({:?})),\n", file.display().to_string()));
    }
    out.push_str("];\n");
    out
}

fn migration_sql_table(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("up.sql").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// (directory name, up.sql, down.sql) of every embedded migration.\npub const MIGRATION_SQL: &[(&str, &str, &str)] = &[\n",
    );
    for name in names {
        let path = dir.join(&name);
        out.push_str(&format!(
            "    ({name:?}, include_str!({up:?}), include_str!({down:?})),\n",
            up = path.join("up.sql").display().to_string(),
            down = path.join("down.sql").display().to_string(),
        ));
    }
    out.push_str("];\n");
    out
}

fn write(path: &Path, contents: &str) {
    // Only touch the file when it changes, so dependents are not rebuilt for nothing.
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap_or_else(|err| {
            eprintln!("cannot write {}: {err}", path.display());
            std::process::exit(1);
        });
    }
}
