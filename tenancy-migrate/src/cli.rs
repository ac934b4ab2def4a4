//! The command line: parse, run, print. Exit codes: 0 success, 1 findings (later commands),
//! 2 usage or runtime error. Logs go to stderr; machine output (JSON) to stdout.

use crate::convert;
use crate::db;
use crate::error::Error;
use crate::migrate::{self, Wait};
use crate::scan;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tenancy_schema::report::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "tenancy-migrate",
    version,
    about = "Scan, convert, apply, revert and inspect tenancy migrations on PostgreSQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log on stderr: -v each step, -vv also the SQL it runs (RUST_LOG overrides)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
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

/// How `scan` and `verify` write their report.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Human,
    /// The report (docs/report-format.md).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// The least severe finding that makes `scan` exit 1.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailOn {
    Error,
    Warn,
    Info,
}

impl From<FailOn> for Severity {
    fn from(level: FailOn) -> Severity {
        match level {
            FailOn::Error => Severity::Error,
            FailOn::Warn => Severity::Warn,
            FailOn::Info => Severity::Info,
        }
    }
}

/// What `plan` converts to.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Target {
    /// Tenancy's shape on PostgreSQL (the conversion of a legacy database)
    Postgres,
    /// Placed on the Citus cluster the database coordinates
    Citus,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare the live database with the declaration; every finding with its evidence
    Scan {
        #[command(flatten)]
        connection: Connection,
        /// Declaration file or directory [default: the one this binary was built from]
        #[arg(long, value_name = "PATH")]
        declaration: Option<PathBuf>,
        /// PostgreSQL schema to scan [default: the declaration's `schema`, else public]
        #[arg(long)]
        schema: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
        /// Write the report to FILE instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Exit with 1 when a finding is at least this severe
        #[arg(long, value_enum, default_value = "error")]
        fail_on: FailOn,
        /// File of cache keys to leave out, one per line (# starts a comment)
        #[arg(long, value_name = "FILE")]
        ignore: Option<PathBuf>,
        /// Skip the data checks (no table rows are read)
        #[arg(long)]
        no_data: bool,
    },
    /// Prove isolation: attack every tenant table as the app role (rolled back; nothing changes)
    Verify {
        #[command(flatten)]
        connection: Connection,
        /// Declaration file or directory [default: the one this binary was built from]
        #[arg(long, value_name = "PATH")]
        declaration: Option<PathBuf>,
        /// PostgreSQL schema of the tables [default: the declaration's `schema`, else public]
        #[arg(long)]
        schema: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
        /// Write the report (scan findings and the verify matrix) to FILE instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The URL the application itself connects with: verify also logs in with it, as a new
        /// session, and checks it carries no claim and sees no row before setting one
        #[arg(long, env = "APP_DATABASE_URL", hide_env_values = true, value_name = "URL")]
        app_database_url: Option<String>,
    },
    /// Write the lock-safe migrations that convert a live (legacy) database to the declaration
    Plan {
        #[command(flatten)]
        connection: Connection,
        /// Declaration file or directory [default: the one this binary was built from]
        #[arg(long, value_name = "PATH")]
        declaration: Option<PathBuf>,
        /// PostgreSQL schema to convert [default: the declaration's `schema`, else public]
        #[arg(long)]
        schema: Option<String>,
        /// Directory to write the migration directories into (must be new or empty)
        #[arg(long, value_name = "DIR", default_value = "conversion")]
        out: PathBuf,
        /// Print every statement with its lock level and estimated rows; write nothing
        #[arg(long)]
        dry_run: bool,
        /// Rows per backfill transaction
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
        batch_size: u32,
        /// lock_timeout of every statement (PostgreSQL interval); apply retries on timeouts
        #[arg(long, default_value = "100ms")]
        lock_timeout: String,
        /// Take away access the database grants today that tenancy's model does not (other
        /// policies, extra privileges, EXECUTE on definer functions); without it plan lists them
        /// and stops
        #[arg(long)]
        replace_access: bool,
        /// `citus`: the step that places an already converted database's tables on the Citus
        /// cluster it is the coordinator of (what `apply` does after migrations on a coordinator)
        #[arg(long, value_enum, default_value = "postgres")]
        target: Target,
    },
    /// Citus: move one (large) organization to shards of its own, all tenant tables at once
    Isolate {
        #[command(flatten)]
        connection: Connection,
        /// Declaration file or directory [default: the one this binary was built from]
        #[arg(long, value_name = "PATH")]
        declaration: Option<PathBuf>,
        /// The organization's key
        #[arg(long, value_name = "KEY")]
        org: String,
        /// Then even the shards out over the workers (citus_rebalance_start)
        #[arg(long)]
        rebalance: bool,
    },
    /// Write a declaration for an existing database, to adopt tenancy
    Import {
        #[command(flatten)]
        connection: Connection,
        /// PostgreSQL schema to read, or several comma-separated (the first is the declaration's own)
        #[arg(long, default_value = "public")]
        schema: String,
        /// Where to write the declaration
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Apply every pending migration (alias: migrate), or a plan written by `plan --out DIR`
    #[command(alias = "migrate")]
    Apply {
        #[command(flatten)]
        connection: Connection,
        /// Apply the plan in DIR (from `plan --out DIR`) instead of the built-in migrations
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// With --dir: rows per backfill transaction, instead of the plan's
        #[arg(long, requires = "dir", value_parser = clap::value_parser!(u32).range(1..))]
        batch_size: Option<u32>,
        /// Print the SQL that would run, run nothing
        #[arg(long)]
        dry_run: bool,
        /// Fail at once if another run holds the migration lock, instead of waiting
        #[arg(long)]
        no_wait: bool,
    },
    /// Revert the last applied migration (or all with --all), or the plan in --dir
    Revert {
        #[command(flatten)]
        connection: Connection,
        /// Revert every applied step of the plan in DIR (the legacy shape comes back, rows stay)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
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
    /// Install, retire or list the keys of the signed claim (`claim = signed`)
    ClaimKey {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Revoke what row-level security does not govern (other sessions' SQL and signals, large
    /// objects, TEMP, claims in login defaults) where the platform allows; see what remains
    Harden {
        #[command(flatten)]
        connection: Connection,
        /// Declaration file or directory [default: the one this binary was built from]
        #[arg(long, value_name = "PATH")]
        declaration: Option<PathBuf>,
        /// The role the application should log in as; created (NOINHERIT, switching to the app
        /// role at login) and the app role made NOLOGIN, when the app role can log in
        #[arg(long, value_name = "ROLE")]
        login_role: Option<String>,
        /// Say what would change; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List migrations and whether each is applied
    Status {
        #[command(flatten)]
        connection: Connection,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Install a key, read as `<id>:<hex secret>` from an environment variable or a file (never
    /// from the command line); it verifies tokens at once, next to the keys installed before
    Install {
        #[command(flatten)]
        connection: Connection,
        /// Environment variable holding the key
        #[arg(long, conflicts_with = "from_file", required_unless_present = "from_file")]
        from_env: Option<String>,
        /// File holding the key
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
    /// Retire a key: tokens signed with it stop verifying (now, or --at a timestamp)
    Retire {
        #[command(flatten)]
        connection: Connection,
        /// The key's id
        id: String,
        /// When, e.g. "2026-11-24 12:00+00" (default: now)
        #[arg(long)]
        at: Option<String>,
    },
    /// List the installed keys: ids and dates, never secrets
    List {
        #[command(flatten)]
        connection: Connection,
    },
}

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
