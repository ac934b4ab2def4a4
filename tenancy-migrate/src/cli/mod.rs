//! The command line: parse, run, print. Exit codes: 0 success, 1 findings (later commands),
//! 2 usage or runtime error. Logs go to stderr; machine output (JSON) to stdout.

use crate::convert;
use crate::db;
use crate::error::Error;
use crate::migrate::{self, Wait};
use crate::scan;
use clap::Parser;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

mod args;
pub use args::*;

/// Runs the command line and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // Usage errors on one line, like every other error.
            let text = err.render().to_string();
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .collect();
            eprintln!("{}; see --help", line.join(" "));
            return ExitCode::from(2);
        }
    };
    crate::logging::init(cli.verbose);
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// The schemas a command works in: `--schema`, else the declaration's own, then the other
/// schemas its tables name (comma-separated, as the catalog queries take them). The
/// declaration is told, so everything after (the catalog, the search path, the files) agrees.
fn in_schema(declaration: &mut tenancy_schema::Schema, flag: Option<String>) -> crate::Result<String> {
    if let Some(schema) = flag {
        if schema.contains(',') {
            return Err(crate::Error::Declaration(format!(
                "--schema {schema}: name one schema, the declaration's own; a table in another one says so itself (#[tenancy(tenant, schema = \"billing\")])"
            )));
        }
        declaration.settings.schema = schema;
    }
    Ok(declaration.schemas().join(","))
}

/// Runs one parsed command; `main` and `cargo xtask` both come through here. Returns the exit
/// code for a completed run: 0, or 1 when `scan` found something at or above `--fail-on`.
pub fn run(command: Command) -> crate::Result<ExitCode> {
    let mut log = |line: &str| eprintln!("{line}");
    let mut out = std::io::stdout().lock();
    match command {
        Command::Scan { connection, declaration, schema, format, output, fail_on, ignore, no_data } => {
            let mut declaration = crate::declaration::load(declaration.as_deref())?;
            let schema = in_schema(&mut declaration, schema)?;
            let ignore = match &ignore {
                Some(path) => read_ignore_file(path)?,
                None => BTreeSet::new(),
            };
            let mut conn = db::connect(&connection.database_url)?;
            let options = scan::Options { schema, data: !no_data, ignore };
            log(&format!("scanning schema {} against {} declared tables", options.schema, declaration.tables.len()));
            let report = scan::scan(&mut conn, &declaration, &options)?;
            let color = output.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut text = Vec::new();
            match format {
                ReportFormat::Json => {
                    serde_json::to_writer_pretty(&mut text, &report).expect("reports serialize");
                    text.push(b'\n');
                }
                ReportFormat::Sarif => {
                    let sarif = crate::sarif::scan(&report, &options.schema);
                    serde_json::to_writer_pretty(&mut text, &sarif).expect("SARIF serializes");
                    text.push(b'\n');
                }
                ReportFormat::Human => scan::human::render(&mut text, &report, color).expect("writing to memory"),
            }
            match &output {
                Some(path) => {
                    crate::files::write_atomically(path, &text)?;
                    log(&format!("wrote {}", path.display()));
                }
                None => {
                    let _ = out.write_all(&text);
                }
            }
            return Ok(if scan::fails(&report, fail_on.into()) { ExitCode::from(1) } else { ExitCode::SUCCESS });
        }
        Command::Verify { connection, declaration, schema, format, output, app_database_url } => {
            let mut declaration = crate::declaration::load(declaration.as_deref())?;
            let schema = in_schema(&mut declaration, schema)?;
            let mut conn = db::connect(&connection.database_url)?;
            log(&format!("verifying {} tenant tables as {}", declaration.tables.len(), declaration.settings.app_role));
            let options = scan::Options { schema: schema.clone(), ..scan::Options::default() };
            let mut report = scan::scan(&mut conn, &declaration, &options)?;
            let mut verification = crate::verify::verify(&mut conn, &declaration)?;
            if let Some(url) = &app_database_url {
                crate::verify::add_real_login(&mut verification, url, &declaration);
            }
            let passed = crate::verify::passed(&verification);
            report.verify = Some(verification);
            let mut text = Vec::new();
            match format {
                ReportFormat::Json => {
                    serde_json::to_writer_pretty(&mut text, &report).expect("reports serialize");
                    text.push(b'\n');
                }
                ReportFormat::Sarif => {
                    let sarif = crate::sarif::verify(&report, &schema);
                    serde_json::to_writer_pretty(&mut text, &sarif).expect("SARIF serializes");
                    text.push(b'\n');
                }
                ReportFormat::Human => crate::verify::render(&mut text, report.verify.as_ref().expect("just set"))
                    .expect("writing to memory"),
            }
            match &output {
                Some(path) => {
                    crate::files::write_atomically(path, &text)?;
                    log(&format!("wrote {}", path.display()));
                }
                None => {
                    let _ = out.write_all(&text);
                }
            }
            return Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        Command::Plan {
            connection,
            declaration,
            schema,
            out: dir,
            dry_run,
            batch_size,
            lock_timeout,
            replace_access,
            target,
        } => {
            let embedded = declaration.is_none();
            let mut declaration = crate::declaration::load(declaration.as_deref())?;
            let schema = in_schema(&mut declaration, schema)?;
            let mut conn = db::connect(&connection.database_url)?;
            // The workspace's migrations lead to the embedded declaration: a conversion to it
            // records them as applied, so later ones apply to it as to a fresh database.
            let baseline = if embedded { migrate::versions()? } else { Vec::new() };
            let options =
                convert::Options { batch_size, lock_timeout, baseline, schema: schema.clone(), replace_access };
            let plan = match target {
                Target::Postgres => convert::plan_database(&mut conn, &declaration, &schema, &options)?,
                Target::Citus => {
                    if !crate::citus::is_citus(&mut conn)? {
                        return Err(crate::Error::Plan(tenancy_codegen::PlanError::conversion(
                            "--target citus",
                            "this database has no Citus extension: it is not a Citus coordinator",
                            "create the extension and add the workers (see the README, Scale out with Citus), then plan again",
                        )));
                    }
                    let catalog = crate::catalog::load(&mut conn, &schema, &declaration.settings.app_role)?;
                    let cluster = crate::citus::placements(&mut conn, &declaration)?;
                    tenancy_codegen::citus::conversion(&declaration, &catalog, &cluster)?
                }
            };
            if dry_run {
                let _ = out.write_all(convert::render_dry_run(&plan, &options).as_bytes());
            } else {
                convert::write(&plan, &options, &dir)?;
                for note in &plan.notes {
                    log(&format!("note: {note}"));
                }
                log(&format!(
                    "wrote {} steps to {}; run them with `tenancy-migrate apply --dir {}`",
                    plan.steps.len(),
                    dir.display(),
                    dir.display()
                ));
            }
        }
        Command::Isolate { connection, declaration, org, rebalance } => {
            let declaration = crate::declaration::load(declaration.as_deref())?;
            let mut conn = db::connect(&connection.database_url)?;
            if !crate::citus::is_citus(&mut conn)? {
                return Err(crate::Error::Cluster(
                    "isolate needs a Citus coordinator: this database has no Citus extension".to_owned(),
                ));
            }
            let isolated = crate::citus::isolate(&mut conn, &declaration, &org, rebalance)?;
            log(&format!(
                "organization {org} now has shards of its own in its {} tenant tables (shard {} of {} on {})",
                isolated.tables, isolated.shard, isolated.table, isolated.node
            ));
        }
        Command::Import { connection, schema, output } => {
            let mut conn = db::connect(&connection.database_url)?;
            let text = crate::import::import(&mut conn, &schema)?;
            crate::files::write_atomically(&output, text.as_bytes())?;
            log(&format!(
                "wrote {}; review the lines marked `REVIEW`, then point --declaration at it",
                output.display()
            ));
        }
        Command::Apply { connection, dir, batch_size, dry_run, no_wait } => {
            let mut conn = db::connect(&connection.database_url)?;
            let outcome = match &dir {
                Some(dir) => {
                    let options =
                        convert::run::RunOptions { wait: wait(no_wait), dry_run, batch_size, ..Default::default() };
                    convert::run::apply_dir(&mut conn, dir, options, &mut log)?
                }
                None => migrate::apply(&mut conn, wait(no_wait), dry_run, &mut log)?,
            };
            report(&mut out, &outcome, dry_run, "applied", "pending");
        }
        Command::Revert { connection, dir, all, dry_run, no_wait } => {
            let mut conn = db::connect(&connection.database_url)?;
            let outcome = match &dir {
                Some(dir) => {
                    let options = convert::run::RunOptions { wait: wait(no_wait), dry_run, ..Default::default() };
                    convert::run::revert_dir(&mut conn, dir, options, &mut log)?
                }
                None => migrate::revert(&mut conn, all, wait(no_wait), dry_run, &mut log)?,
            };
            report(&mut out, &outcome, dry_run, "reverted", "would revert");
        }
        Command::ClaimKey { action } => {
            use crate::claim_key::{self, Source};
            match action {
                KeyAction::Install { connection, from_env, from_file } => {
                    let source = match (&from_env, &from_file) {
                        (Some(name), _) => Source::Env(name),
                        (None, Some(path)) => Source::File(path),
                        (None, None) => unreachable!("clap requires one"),
                    };
                    let key = claim_key::read(source)?;
                    let mut conn = db::connect(&connection.database_url)?;
                    claim_key::install(&mut conn, &key)?;
                    eprintln!("installed claim key {}", key.id);
                }
                KeyAction::Retire { connection, id, at } => {
                    let mut conn = db::connect(&connection.database_url)?;
                    claim_key::retire(&mut conn, &id, at.as_deref())?;
                    eprintln!("retired claim key {id}{}", at.map_or(String::new(), |at| format!(" at {at}")));
                }
                KeyAction::List { connection } => {
                    let mut conn = db::connect(&connection.database_url)?;
                    let mut out = std::io::stdout().lock();
                    for key in claim_key::list(&mut conn)? {
                        let retired = key.retired_at.map_or("active".to_owned(), |at| format!("retired {at}"));
                        let _ = writeln!(out, "{}\tcreated {}\t{retired}", key.id, key.created_at);
                    }
                }
            }
        }
        Command::Harden { connection, declaration, login_role, dry_run } => {
            use crate::harden::Done;
            let declaration = crate::declaration::load(declaration.as_deref())?;
            let mut conn = db::connect(&connection.database_url)?;
            for (step, done) in crate::harden::harden(&mut conn, &declaration, login_role.as_deref(), dry_run)? {
                let (mark, extra) = match &done {
                    Done::Applied => ("applied", String::new()),
                    Done::Already => ("ok", String::new()),
                    Done::Skipped(reason) => ("SKIPPED", format!("\n    the database refused it: {reason}")),
                    Done::Advice(advice) => ("ADVICE", format!("\n    {advice}")),
                    Done::WouldApply => ("would", step.sql.iter().map(|s| format!("\n    {s};")).collect::<String>()),
                };
                let _ = writeln!(out, "{mark:<8} {} ({}){extra}", step.what, step.why);
            }
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
    Ok(ExitCode::SUCCESS)
}

/// Reads suppressions: one cache key per line, blank lines and `#` comments allowed. A line that
/// is not `<known code>:...` is refused, so a typo cannot silently suppress nothing.
pub fn read_ignore_file(path: &Path) -> crate::Result<BTreeSet<String>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| Error::File {
        doing: "read --ignore file",
        path: shown.clone(),
        reason: err.to_string(),
    })?;
    let mut keys = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let known = line
            .split_once(':')
            .is_some_and(|(code, rest)| !rest.is_empty() && scan::checks::codes().any(|c| c.code == code));
        if !known || line.contains(char::is_whitespace) {
            return Err(Error::IgnoreFile { path: shown, line: i + 1, text: line.chars().take(60).collect() });
        }
        keys.insert(line.to_owned());
    }
    Ok(keys)
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
