//! The errors a user sees. Each message is one line that says what is wrong and what to do.

/// Everything that can stop a command. `main` prints it and exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid database URL {url}: {reason}; expected postgres://user:password@host:port/database")]
    BadUrl { url: String, reason: String },
    #[error(
        "cannot reach PostgreSQL at {url}: {reason}; check --database-url / DATABASE_URL, or start a local one with `cargo xtask dev-db start`"
    )]
    Unreachable { url: String, reason: String },
    #[error("authentication failed for {url}: {reason}; check the user and password in --database-url")]
    Authentication { url: String, reason: String },
    #[error("database in {url} does not exist: {reason}; create it (createdb) or fix the database name in the URL")]
    NoDatabase { url: String, reason: String },
    #[error(
        "permission denied while {doing}: {reason}; the migrating role needs CREATE on schema public and CREATEROLE (or an existing app role), e.g. GRANT CREATE ON SCHEMA public TO <role>"
    )]
    Permission { doing: String, reason: String },
    #[error(
        "another tenancy-migrate (backend pid {pid}) holds the migration lock; rerun without --no-wait to wait for it"
    )]
    LockHeld { pid: i32 },
    #[error(
        "migration {name} failed: {reason}; nothing of it was applied (it ran in a transaction), fix the cause and rerun"
    )]
    MigrationFailed { name: String, reason: String },
    #[error(
        "the database has migration {version} applied that this binary does not know; it was built from an older or different migrations/ directory"
    )]
    UnknownApplied { version: String },
    #[error(
        "cannot read the catalog ({query}): {reason}; the scan needs SELECT on pg_catalog (granted to PUBLIC by default), e.g. GRANT SELECT ON ALL TABLES IN SCHEMA pg_catalog TO <role>"
    )]
    CatalogPermission { query: String, reason: String },
    #[error(
        "the scanning role cannot read {tables}: data checks need SELECT on every declared tenant table; GRANT pg_read_all_data TO <role> (and BYPASSRLS), or rerun with --no-data"
    )]
    DataPermission { tables: String },
    #[error("invalid declaration: {0}")]
    Declaration(String),
    #[error(
        "invalid --ignore file {path}:{line}: `{text}` is not a finding's cache key; write one key per line as scan prints it after `ignore:` (e.g. rls-disabled:contacts), # starts a comment"
    )]
    IgnoreFile { path: String, line: usize, text: String },
    #[error("cannot {doing} {path}: {reason}")]
    File { doing: &'static str, path: String, reason: String },
    #[error("database error while {doing}: {reason}")]
    Database { doing: String, reason: String },
    #[error("{0}")]
    Cluster(String),
    #[error("{0}")]
    Plan(#[from] tenancy_codegen::PlanError),
    #[error("claim key: {0}")]
    ClaimKey(String),
    #[error("cannot verify: {0}")]
    Verify(String),
    #[error("cannot harden: {0}")]
    Harden(String),
    /// verify's transaction is always rolled back; never shown.
    #[error("rolled back")]
    RolledBack,
    /// Every backfill ran; these tables have rows their strategy could not place.
    #[error(
        "backfill could not place {}; nothing after the backfills ran (no NOT NULL, no keys): give those rows an organization (or fix the lookup), then rerun apply --dir",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Unplaced(Vec<UnplacedRows>),
    #[error(
        "{doing}: still waiting for its lock after {attempts} attempts (lock_timeout); the table is busy with long transactions: rerun apply later (it resumes here), or plan with a longer --lock-timeout"
    )]
    LockTimeout { doing: String, attempts: u32 },
    #[error(
        "{doing} failed: {reason}; the steps before it are applied and logged in tenancy.conversion_log: fix the cause, then rerun (it resumes here) or revert --dir"
    )]
    StepFailed { doing: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a query error, recognising missing privileges.
    pub fn query(doing: impl Into<String>, err: impl std::fmt::Display) -> Error {
        let reason = first_line(&err.to_string());
        let doing = doing.into();
        if reason.contains("permission denied") || reason.contains("must be owner") {
            Error::Permission { doing, reason }
        } else {
            Error::Database { doing, reason }
        }
    }
}

pub(crate) fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()
}

impl From<tenancy_schema::LoadError> for Error {
    /// Declaration errors on one line: `file:line:col: error: message (hint: ...)`, joined by `; `.
    fn from(err: tenancy_schema::LoadError) -> Error {
        let mut flat = String::new();
        for line in err.to_string().lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.strip_prefix("hint: ") {
                Some(hint) => flat.push_str(&format!(" (hint: {hint})")),
                None if flat.is_empty() => flat.push_str(line),
                None => flat.push_str(&format!("; {line}")),
            }
        }
        Error::Declaration(flat)
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Error {
        Error::query("running the scan transaction", err)
    }
}

/// Rows of one table a backfill could not place: how many, and the first keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnplacedRows {
    /// `table.column strategy`.
    pub what: String,
    pub count: i64,
    pub keys: String,
}

impl std::fmt::Display for UnplacedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows of {} ({})", self.count, self.what, self.keys)
    }
}
