//! The crate layering ARCHITECTURE.md promises, checked: below tenancy-migrate nothing talks to
//! a database (no diesel in tenancy-schema, tenancy-codegen or report-web, through any normal
//! dependency), and no source file grows past 600 lines (tests and generated code excepted).

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::process::Command;

    /// Every package reachable from `root` through normal (non-dev, non-build) dependencies.
    fn normal_closure(metadata: &serde_json::Value, root: &str) -> BTreeSet<String> {
        let packages: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let nodes: HashMap<&str, &serde_json::Value> =
            metadata["resolve"]["nodes"].as_array().unwrap().iter().map(|n| (n["id"].as_str().unwrap(), n)).collect();
        let start = packages.iter().find(|(_, name)| **name == root).map(|(id, _)| *id).expect("a workspace package");
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if !seen.insert(packages[id].to_owned()) {
                continue;
            }
            for dep in nodes[id]["deps"].as_array().unwrap() {
                let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null());
                if normal {
                    stack.push(dep["pkg"].as_str().unwrap());
                }
            }
        }
        seen
    }

    /// The resolved graph for this machine's platform (so no other platform's crates are needed).
    fn metadata() -> serde_json::Value {
        let rustc = Command::new("rustc").arg("-vV").output().expect("rustc -vV");
        let host = String::from_utf8_lossy(&rustc.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
            .expect("rustc names its host");
        let mut command = Command::new(env!("CARGO"));
        command.args(["metadata", "--format-version", "1", "--filter-platform", &host]);
        command.current_dir(crate::project_root());
        let output = command.output().expect("cargo metadata");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    #[test]
    fn nothing_below_tenancy_migrate_depends_on_diesel() {
        let metadata = metadata();
        for package in ["tenancy-schema", "tenancy-codegen", "report-web"] {
            let closure = normal_closure(&metadata, package);
            let database: Vec<&String> =
                closure.iter().filter(|p| p.starts_with("diesel") || p.starts_with("pq")).collect();
            assert!(
                database.is_empty(),
                "{package} depends on {database:?}: database access belongs in tenancy-migrate"
            );
        }
        // And the check can fail: tenancy-migrate does depend on it.
        assert!(normal_closure(&metadata, "tenancy-migrate").contains("diesel"));
    }

    #[test]
    fn no_source_file_is_over_600_lines() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let root = crate::project_root();
        let mut files = Vec::new();
        for member in ["tenancy-schema", "tenancy-codegen", "tenancy-migrate", "report-web", "xtask"] {
            walk(&root.join(member).join("src"), &mut files);
        }
        let long: Vec<String> = files
            .iter()
            .filter(|p| !p.ends_with("tests.rs"))
            .filter_map(|p| {
                let lines = std::fs::read_to_string(p).unwrap().lines().count();
                (lines > 600).then(|| format!("{} ({lines} lines)", p.display()))
            })
            .collect();
        assert!(files.len() > 50, "walked {} files", files.len());
        assert!(long.is_empty(), "split these by concern: {long:?}");
    }
}
