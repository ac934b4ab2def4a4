//! Every generated migration passes the squawk linter with zero violations: the workspace's
//! migrations/ and the conversion `plan` writes for the legacy fixture. Exclusions live only in
//! the committed .squawk.toml, each with its reason. Transactional files are linted with
//! --assume-in-transaction, statement-by-statement ones without it (see there).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn squawk(file: &Path, in_transaction: bool) {
    let mut command = Command::new("squawk");
    command.arg("--config").arg(root().join(".squawk.toml")).args(["--reporter", "gcc"]);
    if in_transaction {
        command.arg("--assume-in-transaction");
    }
    let output = command
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run squawk ({e}); install it with `pip install squawk-cli` (.ci/run does)"));
    assert!(
        output.status.success(),
        "squawk found violations in {}:\n{}{}\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// Lints every migration directory under `dir`; returns how many files were linted.
fn lint(dir: &Path) -> usize {
    let mut linted = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let metadata = std::fs::read_to_string(dir.join("metadata.toml")).unwrap_or_default();
        let in_transaction = !metadata.contains("run_in_transaction = false");
        for file in ["up.sql", "down.sql"] {
            squawk(&dir.join(file), in_transaction);
            linted += 1;
        }
    }
    linted
}

#[test]
fn the_workspace_migrations_pass_squawk() {
    assert!(lint(&root().join("migrations")) >= 2);
}

#[test]
fn a_conversion_plan_passes_squawk() {
    let db = crate::convert::legacy("squawk_conversion");
    let dir = crate::convert::write_plan(&db, "squawk_conversion", 1000);
    let linted = lint(&dir);
    assert!(linted >= 20, "linted {linted} files");
}
