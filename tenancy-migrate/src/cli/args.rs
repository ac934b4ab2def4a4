//! The command line's arguments (clap): every command and its flags.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
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
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
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
