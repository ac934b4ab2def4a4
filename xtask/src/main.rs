//! `cargo xtask <command>`: the one entry point for developers and CI.

mod bench;
mod codegen;
mod devdb;

use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <command>

  migrate [--dry-run]     apply pending migrations to DATABASE_URL, or to a throwaway local
                          PostgreSQL under target/ when it is unset (prints its URL)
  dev-db start|stop|url   manage that throwaway PostgreSQL
  codegen [--check]       append migrations for declaration changes (--check: fail if stale)
  bench [codegen]         run the benchmarks (figures for BENCHMARKS.md)
  ci                      everything CI runs: fmt check, clippy -D warnings, all tests
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
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
        ["ci"] => ci(),
        [] | ["help" | "--help" | "-h"] => {
            print!("{HELP}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{HELP}", args.join(" ")),
    }
}

fn migrate(args: &[&str]) -> Result<()> {
    let dry_run = match args {
        [] => false,
        ["--dry-run"] => true,
        _ => bail!("usage: cargo xtask migrate [--dry-run]"),
    };
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
    let mut conn = tenancy_migrate::db::connect(&url)?;
    let mut log = |line: &str| eprintln!("{line}");
    let outcome = tenancy_migrate::migrate::apply(&mut conn, tenancy_migrate::migrate::Wait::Wait, dry_run, &mut log)?;
    if outcome.migrations.is_empty() {
        eprintln!("nothing to do: the database is up to date");
    } else if dry_run {
        for (name, sql) in outcome.migrations.iter().zip(&outcome.sql) {
            println!("-- pending: {name}\n{sql}");
        }
    } else {
        eprintln!("applied {} migration(s): {}", outcome.migrations.len(), outcome.migrations.join(", "));
    }
    Ok(())
}

fn ci() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let steps: [(&str, &[&str]); 3] = [
        ("format", &["fmt", "--all", "--check"]),
        ("lint", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
        ("tests", &["test", "--workspace", "--locked"]),
    ];
    for (what, args) in steps {
        eprintln!("== {what}: cargo {}", args.join(" "));
        let status = Command::new(&cargo).args(args).current_dir(project_root()).status()?;
        if !status.success() {
            bail!("{what} failed (cargo {})", args.join(" "));
        }
    }
    eprintln!("== wasm: tenancy-schema builds for wasm32-unknown-unknown");
    let status = Command::new(&cargo)
        .args(["build", "--locked", "-p", "tenancy-schema", "--target", "wasm32-unknown-unknown"])
        .current_dir(project_root())
        .status()?;
    if !status.success() {
        bail!("tenancy-schema does not build for wasm32-unknown-unknown (rustup target add wasm32-unknown-unknown)");
    }
    Ok(())
}

pub(crate) fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}
