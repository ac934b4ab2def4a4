//! The command line: parse, run, print. Exit codes: 0 success, 1 findings (later commands),
//! 2 usage or runtime error. Logs go to stderr; machine output (JSON) to stdout.

use crate::db;
use crate::migrate::{self, Wait};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "tenancy-migrate", version, about = "Apply, revert and inspect tenancy migrations on PostgreSQL")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// PostgreSQL URL, e.g. postgres://user:password@host:5432/database
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply every pending migration (alias: migrate)
    #[command(alias = "migrate")]
    Apply {
        #[command(flatten)]
        connection: Connection,
        /// Print the SQL that would run, run nothing
        #[arg(long)]
        dry_run: bool,
        /// Fail at once if another run holds the migration lock, instead of waiting
        #[arg(long)]
        no_wait: bool,
    },
    /// Revert the last applied migration (or all with --all)
    Revert {
        #[command(flatten)]
        connection: Connection,
        /// Revert every applied migration
        #[arg(long)]
        all: bool,
        /// Print the SQL that would run, run nothing
        #[arg(long)]
        dry_run: bool,
        /// Fail at once if another run holds the migration lock, instead of waiting
        #[arg(long)]
        no_wait: bool,
    },
    /// List migrations and whether each is applied
    Status {
        #[command(flatten)]
        connection: Connection,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Runs one parsed command; `main` and `cargo xtask migrate` both come through here.
pub fn run(command: Command) -> crate::Result<()> {
    let mut log = |line: &str| eprintln!("{line}");
    let mut out = std::io::stdout().lock();
    match command {
        Command::Apply { connection, dry_run, no_wait } => {
            let mut conn = db::connect(&connection.database_url)?;
            let outcome = migrate::apply(&mut conn, wait(no_wait), dry_run, &mut log)?;
            report(&mut out, &outcome, dry_run, "applied", "pending");
        }
        Command::Revert { connection, all, dry_run, no_wait } => {
            let mut conn = db::connect(&connection.database_url)?;
            let outcome = migrate::revert(&mut conn, all, wait(no_wait), dry_run, &mut log)?;
            report(&mut out, &outcome, dry_run, "reverted", "would revert");
        }
        Command::Status { connection, format } => {
            let mut conn = db::connect(&connection.database_url)?;
            let status = migrate::status(&mut conn)?;
            match format {
                Format::Human => {
                    for m in &status {
                        let _ = writeln!(out, "[{}] {}", if m.applied { "applied" } else { "pending" }, m.name);
                    }
                }
                Format::Json => {
                    let rows: Vec<serde_json::Value> =
                        status.iter().map(|m| serde_json::json!({ "name": m.name, "applied": m.applied })).collect();
                    let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
                }
            }
        }
    }
    Ok(())
}

fn wait(no_wait: bool) -> Wait {
    if no_wait { Wait::NoWait } else { Wait::Wait }
}

fn report(out: &mut impl Write, outcome: &migrate::Outcome, dry_run: bool, done: &str, planned: &str) {
    if outcome.migrations.is_empty() {
        eprintln!("nothing to do: the database is up to date");
        return;
    }
    for (name, sql) in outcome.migrations.iter().zip(&outcome.sql) {
        if dry_run {
            // A write error (a closed pipe) is not worth a crash.
            let _ = writeln!(out, "-- {planned}: {name}\n{sql}");
        } else {
            eprintln!("{done} {name}");
        }
    }
}
