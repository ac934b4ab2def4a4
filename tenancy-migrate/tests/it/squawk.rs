//! Every generated migration passes the squawk linter with zero violations. Exclusions live only
//! in the committed .squawk.toml, each with its reason.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_sql_passes_squawk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut linted = 0;
    let mut dirs: Vec<_> =
        std::fs::read_dir(root.join("migrations")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let metadata = std::fs::read_to_string(dir.join("metadata.toml")).unwrap_or_default();
        let in_transaction = !metadata.contains("run_in_transaction = false");
        for file in ["up.sql", "down.sql"] {
            let mut command = Command::new("squawk");
            command.arg("--config").arg(root.join(".squawk.toml")).args(["--reporter", "gcc"]);
            if in_transaction {
                command.arg("--assume-in-transaction");
            }
            let output = command.arg(dir.join(file)).output().unwrap_or_else(|e| {
                panic!("cannot run squawk ({e}); install it with `pip install squawk-cli` (.ci/run does)")
            });
            assert!(
                output.status.success(),
                "squawk found violations in {}:\n{}{}",
                dir.join(file).display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            linted += 1;
        }
    }
    assert!(linted >= 2, "linted {linted} files");
}
