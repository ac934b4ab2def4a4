//! Running one probe: statements in their own savepoint, as the app role with a claim (or as the
//! connecting role), rolled back afterwards. What PostgreSQL answered is kept, and — for writes —
//! what the statement changed: a fingerprint of the watched rows (count, and every row version's
//! `tableoid`/`ctid`/`xmin`) read as the connecting role before and after, inside the savepoint.
//! Judging writes by what changed, not by what the statement returned, is what makes probes
//! honest: `RETURNING`, a `WHERE` or a `SET` that reads columns all make PostgreSQL apply the
//! SELECT policies, which an application's plain `INSERT`/`UPDATE`/`DELETE` does not.

use crate::catalog::{JsonRow, as_json};
use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{PgConnection, RunQueryDsl};
use tenancy_codegen::claim::ClaimKey;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::Evidence;
use tenancy_schema::{Claim, Schema};

use super::Org;

/// What the probed statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A query's rows, as JSON text.
    Rows(Vec<String>),
    /// A write's row count.
    Affected(usize),
    /// The statement failed.
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// PostgreSQL's DETAIL and HINT lines, when it sent them.
    pub detail: Option<String>,
    pub kind: FailureKind,
    /// The constraint named by the error, if any.
    pub constraint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    UniqueViolation,
    ForeignKeyViolation,
    /// Row-level security refused a new row (`new row violates row-level security policy`).
    RowSecurity,
    PermissionDenied,
    /// A statement before the probe (making a fresh row) failed: nothing was attacked.
    Setup,
    Other,
}

impl Answer {
    pub fn shown(&self) -> String {
        match self {
            Answer::Rows(rows) if rows.is_empty() => "(no rows)".to_owned(),
            Answer::Rows(rows) => rows.join("\n"),
            Answer::Affected(1) => "1 row".to_owned(),
            Answer::Affected(n) => format!("{n} rows"),
            Answer::Failed(failure) if failure.kind == FailureKind::Setup => {
                format!("ERROR before the probe: {}", failure.message)
            }
            Answer::Failed(failure) => match &failure.detail {
                Some(detail) => format!("ERROR: {}\n{detail}", failure.message),
                None => format!("ERROR: {}", failure.message),
            },
        }
    }

    pub fn failed(&self) -> Option<&Failure> {
        match self {
            Answer::Failed(failure) => Some(failure),
            _ => None,
        }
    }
}

/// Who runs a probe.
#[derive(Clone, Copy)]
pub enum As<'a> {
    /// The app role with this claim value (`None`: never set; `Some("")`: empty).
    App(Option<&'a str>),
    /// The connecting role (bypasses row-level security).
    Owner,
}

/// Rows whose fingerprint is read before and after the statement.
#[derive(Debug, Clone)]
pub struct Watch {
    /// What they are, for the evidence ("B's rows of contacts").
    pub label: String,
    /// `SELECT ... FROM t WHERE ...` (the condition selecting them), run as the connecting role.
    pub from: String,
}

impl Watch {
    fn sql(&self) -> String {
        format!(
            "SELECT count(*) AS rows, coalesce(md5(string_agg(tableoid::text || ctid::text || xmin::text, ',' ORDER BY tableoid, ctid)), '') AS versions {}",
            self.from
        )
    }
}

/// A fingerprint: how many rows, and a hash of their row versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: i64,
    pub versions: String,
}

/// One probe to run.
pub struct Probe<'a> {
    pub who: As<'a>,
    /// Run first, as the connecting role (a fresh row of B, `session_replication_role`).
    pub setup: Vec<String>,
    /// Run as `who` before the statement (a fresh row of A to act on).
    pub prelude: Vec<String>,
    pub sql: String,
    /// A query (its rows are the answer) or a write (its row count).
    pub query: bool,
    pub watch: Option<Watch>,
}

impl<'a> Probe<'a> {
    pub fn query(who: As<'a>, sql: impl Into<String>) -> Probe<'a> {
        Probe { who, setup: Vec::new(), prelude: Vec::new(), sql: sql.into(), query: true, watch: None }
    }

    pub fn write(who: As<'a>, sql: impl Into<String>, watch: Watch) -> Probe<'a> {
        Probe { who, setup: Vec::new(), prelude: Vec::new(), sql: sql.into(), query: false, watch: Some(watch) }
    }

    /// A statement judged by whether it worked (DDL).
    pub fn statement(who: As<'a>, sql: impl Into<String>) -> Probe<'a> {
        Probe { who, setup: Vec::new(), prelude: Vec::new(), sql: sql.into(), query: false, watch: None }
    }

    pub fn setup(mut self, sql: impl Into<String>) -> Probe<'a> {
        self.setup.push(sql.into());
        self
    }

    pub fn prelude(mut self, sql: impl Into<String>) -> Probe<'a> {
        self.prelude.push(sql.into());
        self
    }
}

/// What a probe observed.
#[derive(Debug, Clone)]
pub struct Observed {
    pub answer: Answer,
    /// The watched rows before and after (when watched and readable).
    pub watched: Option<(Fingerprint, Fingerprint)>,
}

impl Observed {
    /// Whether the watched rows changed (a row added, removed, or rewritten).
    pub fn changed(&self) -> bool {
        self.watched.as_ref().is_some_and(|(before, after)| before != after)
    }

    /// How many watched rows were added (negative: removed).
    pub fn added(&self) -> i64 {
        self.watched.as_ref().map_or(0, |(before, after)| after.rows - before.rows)
    }

    pub fn setup_failed(&self) -> bool {
        self.answer.failed().is_some_and(|f| f.kind == FailureKind::Setup)
    }
}

/// Appended to a probe's result when its error text names another organization's data (a
/// value of B's sample rows the statement did not supply): the cell is then a leak.
pub const EXPOSED: &str = "the error text names B's data";

pub struct Runner<'a> {
    pub schema: &'a Schema,
    /// Values only B's sample rows hold (B's id, its keys, its tagged texts): an error that shows
    /// one the probe did not send carries B's data back to A.
    pub markers: std::cell::RefCell<Vec<String>>,
    pub orgs: [String; 2],
    /// With `claim = signed`: the key of this run (installed inside its transaction), which
    /// mints the tokens the application would send.
    pub key: Option<ClaimKey>,
    /// Whether the connecting role is a superuser (may set `session_replication_role`).
    pub superuser: bool,
}

impl Runner<'_> {
    /// The SQL that sets the claim transaction-locally, as the application does (`SET LOCAL`,
    /// which Citus passes on to the workers).
    pub fn claim_sql(&self, value: &str) -> String {
        match &self.schema.settings.claim {
            Claim::Signed(name) => {
                let token = match &self.key {
                    Some(key) if !value.is_empty() => key.token(value, unix_now() + 3600),
                    _ => String::new(),
                };
                format!("SET LOCAL {name} = {}", literal(&token))
            }
            Claim::Setting(name) => format!("SET LOCAL {name} = {}", literal(value)),
            Claim::Postgrest => {
                let claims = if value.is_empty() {
                    String::new()
                } else {
                    serde_json::json!({ "app_metadata": { "org_id": value } }).to_string()
                };
                format!("SET LOCAL request.jwt.claims = {}", literal(&claims))
            }
        }
    }

    pub fn org_literal(&self, org: Org) -> String {
        format!("{}::{}", literal(&self.orgs[org.index()]), self.schema.settings.org_key.sql_name())
    }

    /// Runs the probe in a savepoint, then rolls the savepoint back: nothing it did stays.
    pub fn run(&self, conn: &mut PgConnection, probe: &Probe<'_>) -> (Evidence, Observed) {
        let mut shown = Vec::new();
        if !probe.setup.is_empty() {
            shown.push("-- as the connecting role:".to_owned());
            shown.extend(probe.setup.iter().map(|s| format!("{s};")));
        }
        let mut as_app = Vec::new();
        if let As::App(claim) = probe.who {
            as_app.push(format!("SET LOCAL ROLE {}", ident(&self.schema.settings.app_role)));
            if let Some(value) = claim {
                as_app.push(self.claim_sql(value));
            }
        }
        shown.extend(as_app.iter().chain(&probe.prelude).map(|s| format!("{s};")));
        shown.push(format!("{};", probe.sql));

        // The claim statements are left out: their tokens are credentials.
        let prelude: Vec<&str> = probe
            .prelude
            .iter()
            .map(|p| if p.contains("set_config(") { "<the claim, rewritten>" } else { p })
            .collect();
        tracing::debug!(setup = ?probe.setup, ?prelude, sql = %probe.sql, "probe");
        let _ = conn.batch_execute("SAVEPOINT tenancy_verify");
        let observed = self.observe(conn, probe, &as_app);
        tracing::debug!(answer = %observed.answer.shown(), changed = observed.changed(), "probe answered");
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_verify; RELEASE SAVEPOINT tenancy_verify");

        let mut result = observed.answer.shown();
        if let Some(failure) = observed.answer.failed() {
            let text = format!("{}\n{}", failure.message, failure.detail.as_deref().unwrap_or_default());
            let sent: String = probe.setup.iter().chain(&probe.prelude).chain([&probe.sql]).cloned().collect();
            let markers = self.markers.borrow();
            if let Some(marker) = markers.iter().find(|m| text.contains(m.as_str()) && !sent.contains(m.as_str())) {
                result.push_str(&format!("\n{EXPOSED}: {marker} (which the statement did not send)"));
            }
        }
        if let (Some(watch), Some((before, after))) = (&probe.watch, &observed.watched) {
            let verdict = if before == after { "unchanged" } else { "CHANGED" };
            result.push_str(&format!(
                "\n{}: {} before, {} after ({verdict}; checked as the connecting role: {})",
                watch.label,
                rows(before.rows),
                rows(after.rows),
                watch.sql()
            ));
        }
        (Evidence { sql: shown.join("\n"), result }, observed)
    }

    fn observe(&self, conn: &mut PgConnection, probe: &Probe<'_>, as_app: &[String]) -> Observed {
        let setup_failed = |err: DieselError| Observed {
            answer: Answer::Failed(Failure {
                message: crate::error::first_line(&err.to_string()),
                detail: None,
                kind: FailureKind::Setup,
                constraint: None,
            }),
            watched: None,
        };
        for statement in &probe.setup {
            if let Err(err) = conn.batch_execute(statement) {
                return setup_failed(err);
            }
        }
        let before = match probe.watch.as_ref().map(|w| fingerprint(conn, w)).transpose() {
            Ok(before) => before,
            Err(err) => return setup_failed(err),
        };
        for statement in as_app.iter().chain(&probe.prelude) {
            if let Err(err) = conn.batch_execute(statement) {
                return setup_failed(err);
            }
        }
        let _ = conn.batch_execute("SAVEPOINT tenancy_probe");
        let answer = if probe.query {
            diesel::sql_query(as_json(&probe.sql))
                .load::<JsonRow>(conn)
                .map(|rows| Answer::Rows(rows.into_iter().map(|r| r.row).collect()))
        } else {
            diesel::sql_query(&probe.sql).execute(conn).map(Answer::Affected)
        };
        let answer = answer.unwrap_or_else(|err| {
            let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_probe");
            Answer::Failed(failure(&err))
        });
        let _ = conn.batch_execute("RELEASE SAVEPOINT tenancy_probe; RESET ROLE");
        let after = probe.watch.as_ref().and_then(|w| fingerprint(conn, w).ok());
        Observed { answer, watched: before.zip(after) }
    }
}

fn fingerprint(conn: &mut PgConnection, watch: &Watch) -> Result<Fingerprint, DieselError> {
    let row = diesel::sql_query(as_json(&watch.sql())).get_result::<JsonRow>(conn)?;
    let value: serde_json::Value = serde_json::from_str(&row.row).unwrap_or_default();
    Ok(Fingerprint {
        rows: value["rows"].as_i64().unwrap_or(-1),
        versions: value["versions"].as_str().unwrap_or_default().to_owned(),
    })
}

fn failure(err: &DieselError) -> Failure {
    let message = crate::error::first_line(&err.to_string());
    let mut detail = None;
    let (kind, constraint) = match err {
        DieselError::DatabaseError(kind, info) => {
            let lines: Vec<String> = [("DETAIL", info.details()), ("HINT", info.hint())]
                .into_iter()
                .filter_map(|(label, text)| text.map(|t| format!("{label}: {t}")))
                .collect();
            detail = (!lines.is_empty()).then(|| lines.join("\n"));
            let constraint = info.constraint_name().map(str::to_owned);
            let kind = match kind {
                DatabaseErrorKind::UniqueViolation => FailureKind::UniqueViolation,
                DatabaseErrorKind::ForeignKeyViolation => FailureKind::ForeignKeyViolation,
                _ if message.contains("row-level security") => FailureKind::RowSecurity,
                _ if message.contains("permission denied") => FailureKind::PermissionDenied,
                _ => FailureKind::Other,
            };
            (kind, constraint)
        }
        _ => (FailureKind::Other, None),
    };
    Failure { message, detail, kind, constraint }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn rows(n: i64) -> String {
    if n == 1 { "1 row".to_owned() } else { format!("{n} rows") }
}

/// A number in the first row of a query's answer (`{"own": 1, ...}`).
pub fn field(answer: &Answer, name: &str) -> Option<i64> {
    let Answer::Rows(rows) = answer else { return None };
    let row: serde_json::Value = serde_json::from_str(rows.first()?).ok()?;
    row.get(name)?.as_i64()
}

/// Runs `sql` as the connecting role in a savepoint that is kept when it works (sample rows).
pub fn execute_kept(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    let result = (|| -> Result<(), DieselError> {
        conn.batch_execute("SAVEPOINT tenancy_sample")?;
        conn.batch_execute(sql)?;
        conn.batch_execute("RELEASE SAVEPOINT tenancy_sample")
    })();
    result.map_err(|err| {
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_sample; RELEASE SAVEPOINT tenancy_sample");
        crate::error::first_line(&err.to_string())
    })
}

/// The rows of a query as JSON text, as the connecting role (no savepoint: reads only).
pub fn read(conn: &mut PgConnection, sql: &str) -> Result<Vec<String>, String> {
    diesel::sql_query(as_json(sql))
        .load::<JsonRow>(conn)
        .map(|rows| rows.into_iter().map(|r| r.row).collect())
        .map_err(|err| crate::error::first_line(&err.to_string()))
}
