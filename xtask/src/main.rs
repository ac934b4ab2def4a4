//! `cargo xtask <command>`: the one entry point for developers and CI.

mod bench;
mod browser;
mod codegen;
mod demo;
mod devdb;
mod layering;
mod report;

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <command>

  migrate [--dry-run] [--no-wait]
                          apply pending migrations to DATABASE_URL, or to a throwaway local
                          PostgreSQL under target/ when it is unset (prints its URL)
  scan [tenancy-migrate scan options]
                          compare that database with the declaration (exit 1 on findings at
                          --fail-on; e.g. --format json -o report.json)
  verify [tenancy-migrate verify options]
                          attack that database as the app role, rolled back (exit 1 on a leak)
  report [--serve] [--open] [REPORT.json ...]
                          build the report viewer into target/tenancy/site/ (with the reports
                          given, else those in target/tenancy/reports/); --serve: on 127.0.0.1
  demo [--no-serve]       the whole story on a throwaway PostgreSQL: legacy database, scan,
                          plan + apply, verify, scan, and the before/after report site
  browser                 only the headless-Chromium checks of the report site (part of ci)
  dev-db start|stop|url   manage that throwaway PostgreSQL
  citus up|down|url       a local Citus cluster (coordinator + 2 workers on 127.0.0.1, under
                          target/tenancy/citus); `up` prints the coordinator's URL
  codegen [--check]       append migrations for declaration changes (--check: fail if stale)
  bench [codegen|scan|claim|convert]  run the benchmarks (figures for BENCHMARKS.md)
  fuzz [CASES]            the fuzz targets with CASES per property (default 20000)
  clean-clone             a clean clone of HEAD, without the wasm32 target, runs `demo --no-serve`
  ci                      everything CI runs: fmt check, clippy -D warnings (native and wasm32),
                          all tests, the report site in headless Chromium
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["scan", rest @ ..] => delegate("scan", rest),
        ["verify", rest @ ..] => delegate("verify", rest),
        _ => run(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[&str]) -> Result<()> {
    match args {
        ["migrate", rest @ ..] => migrate(rest),
        ["dev-db", "start"] => {
            let cluster = devdb::start()?;
            println!("{}", cluster.url("postgres"));
            Ok(())
        }
        ["dev-db", "stop"] => devdb::stop(),
        ["dev-db", "url"] => {
            println!("{}", devdb::url()?);
            Ok(())
        }
        ["citus", "up"] => {
            let dir = tenancy_migrate::citus::dev_dir(&project_root());
            let citus = tenancy_migrate::citus::Citus::ensure_running(&dir)?;
            citus.ensure_database(devdb::DEV_DATABASE)?;
            eprintln!(
                "Citus: coordinator on port {}, workers on {} and {}; `cargo xtask migrate` with DATABASE_URL set to:",
                citus.coordinator.port, citus.workers[0].port, citus.workers[1].port
            );
            println!("{}", citus.url(devdb::DEV_DATABASE));
            Ok(())
        }
        ["citus", "down"] => {
            let dir = tenancy_migrate::citus::dev_dir(&project_root());
            match tenancy_migrate::citus::Citus::existing(&dir) {
                Some(citus) => {
                    citus.stop()?;
                    eprintln!("stopped the Citus cluster in {}", dir.display());
                }
                None => eprintln!("no Citus cluster in {}", dir.display()),
            }
            Ok(())
        }
        ["citus", "url"] => {
            let dir = tenancy_migrate::citus::dev_dir(&project_root());
            let citus = tenancy_migrate::citus::Citus::existing(&dir)
                .context("no Citus cluster yet; run `cargo xtask citus up`")?;
            println!("{}", citus.url(devdb::DEV_DATABASE));
            Ok(())
        }
        ["codegen"] => {
            let written = codegen::generate(&project_root(), codegen::Mode::Write)?;
            if written.is_empty() {
                eprintln!("migrations/ is up to date with the declaration");
            }
            for name in written {
                eprintln!("wrote migrations/{name}");
            }
            Ok(())
        }
        ["codegen", "--check"] => {
            codegen::generate(&project_root(), codegen::Mode::Check)?;
            eprintln!("migrations/ is up to date with the declaration");
            Ok(())
        }
        ["bench", rest @ ..] => bench::run(rest),
        ["report", rest @ ..] => report::run(rest),
        ["demo", rest @ ..] => demo::run(rest),
        ["browser"] => browser::check(),
        ["ci"] => ci(),
        ["clean-clone"] => clean_clone(),
        ["fuzz"] => fuzz(20_000),
        ["fuzz", cases] => fuzz(cases.parse().context("cases: a positive number")?),
        [] | ["help" | "--help" | "-h"] => {
            print!("{HELP}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{HELP}", args.join(" ")),
    }
}

/// Resolves the database (DATABASE_URL, else the throwaway cluster) and runs
/// `tenancy-migrate apply` with the remaining arguments (`--dry-run`, `--no-wait`).
fn migrate(args: &[&str]) -> Result<()> {
    delegate("apply", args)?;
    Ok(())
}

/// Runs a tenancy-migrate command (`scan`, `verify`) on the same database as `migrate`:
/// DATABASE_URL, else the throwaway cluster's. The exit code is the command's.
fn delegate(command: &str, args: &[&str]) -> Result<ExitCode> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let cluster = devdb::start()?;
            devdb::ensure_database(&cluster, devdb::DEV_DATABASE)?;
            let url = cluster.url(devdb::DEV_DATABASE);
            eprintln!("DATABASE_URL is not set: using the throwaway PostgreSQL in {}", cluster.dir.display());
            eprintln!("  {url}");
            url
        }
    };
    let argv = ["tenancy-migrate", command, "--database-url", &url].into_iter().chain(args.iter().copied());
    let cli = tenancy_migrate::cli::Cli::try_parse_from(argv)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_start_matches("error: ").trim_end()))?;
    Ok(tenancy_migrate::cli::run(cli.command)?)
}

/// The fuzz targets (declaration parser and validator, report reader, the viewer's file and
/// share-link readers, the SQL splitter) with many more cases than `cargo test` runs.
fn fuzz(cases: u64) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let targets: [&[&str]; 3] = [
        &["-p", "tenancy-schema", "--test", "fuzz"],
        &["-p", "report-web", "--test", "fuzz"],
        &["-p", "tenancy-migrate", "--test", "it", "fuzz::"],
    ];
    for target in targets {
        let started = std::time::Instant::now();
        let status = Command::new(&cargo)
            .args(["test", "--release", "--locked"])
            .args(target)
            .env("PROPTEST_CASES", cases.to_string())
            .current_dir(project_root())
            .status()?;
        if !status.success() {
            bail!("fuzzing {} found a failure (proptest printed the minimal input above)", target.join(" "));
        }
        eprintln!(
            "== fuzz {}: {cases} cases per property in {:.1} s",
            target.join(" "),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// What a newcomer does on a fresh machine: a clean clone of HEAD, the toolchain without the
/// wasm32 target, and the README's first command, `cargo xtask demo --no-serve`, to the end.
fn clean_clone() -> Result<()> {
    let root = project_root();
    let clone = root.join("target/tenancy/clean-clone");
    if clone.exists() {
        std::fs::remove_dir_all(&clone)?;
    }
    let status = Command::new("git").args(["clone", "--quiet"]).arg(&root).arg(&clone).status()?;
    if !status.success() {
        bail!("git clone of {} failed", root.display());
    }
    let removed =
        Command::new("rustup").args(["target", "remove", "wasm32-unknown-unknown"]).current_dir(&clone).status();
    eprintln!(
        "== clean clone: wasm32 target removed ({})",
        if removed.is_ok_and(|s| s.success()) { "it was installed" } else { "not installed" }
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["xtask", "demo", "--no-serve"])
        .current_dir(&clone)
        .env_remove("DATABASE_URL")
        .env_remove("CARGO_TARGET_DIR")
        .status()?;
    // The demo installs the target; make sure it is back whatever happened.
    let _ = Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]).current_dir(&root).status();
    if !status.success() {
        bail!("`cargo xtask demo --no-serve` failed in a clean clone ({})", clone.display());
    }
    // The clone's throwaway PostgreSQL is not needed any more.
    let _ = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["xtask", "dev-db", "stop"])
        .current_dir(&clone)
        .status();
    eprintln!("== clean clone: `cargo xtask demo --no-serve` completed from scratch");
    Ok(())
}

fn ci() -> Result<()> {
    report::ensure_wasm_target(&project_root())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let steps: [(&str, &[&str]); 4] = [
        ("format", &["fmt", "--all", "--check"]),
        ("lint", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
        (
            "lint (report-web for wasm32)",
            &["clippy", "-p", "report-web", "--target", "wasm32-unknown-unknown", "--locked", "--", "-D", "warnings"],
        ),
        ("tests", &["test", "--workspace", "--locked"]),
    ];
    for (what, args) in steps {
        eprintln!("== {what}: cargo {}", args.join(" "));
        let status = Command::new(&cargo).args(args).current_dir(project_root()).status()?;
        if !status.success() {
            bail!("{what} failed (cargo {})", args.join(" "));
        }
    }
    eprintln!("== browser: the report site (wasm32 + wasm-bindgen) in headless Chromium");
    browser::check()
}

pub(crate) fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}
