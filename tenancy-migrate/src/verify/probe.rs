//! Running one probe: statements in their own savepoint, as the app role with a claim (or as the
//! connecting role), rolled back afterwards. What PostgreSQL answered is kept, and — for writes —
//! what the statement changed: a fingerprint of the watched rows (count, and every row version's
//! `tableoid`/`ctid`/`xmin`) read as the connecting role before and after, inside the savepoint.
//! Judging writes by what changed, not by what the statement returned, is what makes probes
//! honest: `RETURNING`, a `WHERE` or a `SET` that reads columns all make PostgreSQL apply the
//! SELECT policies, which an application's plain `INSERT`/`UPDATE`/`DELETE` does not.

use crate::catalog::JsonRow;
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
    /// The watched rows could not be read after the statement: what it did is unknown.
    Unjudged,
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
            Answer::Failed(failure) if failure.kind == FailureKind::Unjudged => {
                format!("ERROR reading the watched rows after the statement: {}", failure.message)
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
    /// Whose rows they are (`None`: every organization's). On Citus they are read as the role
    /// that ran the statement, under this organization's claim (A's and B's for `None`).
    pub org: Option<Org>,
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
    /// Run first, as the connecting role (`session_replication_role`, a scratch table).
    pub setup: Vec<String>,
    /// Fresh rows made before the probe: as the connecting role, or — on Citus, where a second
    /// role may not touch what the first wrote in a transaction — as the app role with the
    /// row's organization's claim.
    pub rows: Vec<(Org, String)>,
    /// Run as `who` before the statement (a fresh row of A to act on).
    pub prelude: Vec<String>,
    pub sql: String,
    /// A query (its rows are the answer) or a write (its row count).
    pub query: bool,
    pub watch: Option<Watch>,
}

impl<'a> Probe<'a> {
    fn new(who: As<'a>, sql: String, query: bool, watch: Option<Watch>) -> Probe<'a> {
        Probe { who, setup: Vec::new(), rows: Vec::new(), prelude: Vec::new(), sql, query, watch }
    }

    pub fn query(who: As<'a>, sql: impl Into<String>) -> Probe<'a> {
        Probe::new(who, sql.into(), true, None)
    }

    pub fn write(who: As<'a>, sql: impl Into<String>, watch: Watch) -> Probe<'a> {
        Probe::new(who, sql.into(), false, Some(watch))
    }

    /// A statement judged by whether it worked (DDL).
    pub fn statement(who: As<'a>, sql: impl Into<String>) -> Probe<'a> {
        Probe::new(who, sql.into(), false, None)
    }

    pub fn setup(mut self, sql: impl Into<String>) -> Probe<'a> {
        self.setup.push(sql.into());
        self
    }

    /// A fresh row of `org`, made before the probe (see [`Probe::rows`]).
    pub fn row(mut self, org: Org, sql: impl Into<String>) -> Probe<'a> {
        self.rows.push((org, sql.into()));
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

    /// Whether the probe could not be judged: a statement before it failed, or the watched
    /// rows could not be read afterwards.
    pub fn setup_failed(&self) -> bool {
        self.answer.failed().is_some_and(|f| matches!(f.kind, FailureKind::Setup | FailureKind::Unjudged))
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
    /// Whether the database is a Citus coordinator: each probe is then a transaction of its own
    /// (rolled back), fresh rows are made and watched rows read as the role that runs the
    /// statement — Citus refuses a second role on shards a first one wrote in a transaction.
    pub citus: bool,
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

    /// Runs the probe in a savepoint (on Citus: a transaction), then rolls it back: nothing it
    /// did stays.
    pub fn run(&self, conn: &mut PgConnection, probe: &Probe<'_>) -> (Evidence, Observed) {
        let mut shown = Vec::new();
        if !probe.setup.is_empty() {
            shown.push("-- as the connecting role:".to_owned());
            shown.extend(probe.setup.iter().map(|s| format!("{s};")));
        }
        for (org, sql) in &probe.rows {
            shown.push(match self.citus {
                true => format!("-- as {} with {}'s claim:", self.schema.settings.app_role, org.name()),
                false => "-- as the connecting role:".to_owned(),
            });
            shown.push(format!("{sql};"));
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
        let (begin, end) = match self.citus {
            true => ("BEGIN", "ROLLBACK"),
            false => ("SAVEPOINT tenancy_verify", "ROLLBACK TO SAVEPOINT tenancy_verify"),
        };
        let _ = conn.batch_execute(begin);
        let (observed, viewer) = self.observe(conn, probe, &as_app);
        tracing::debug!(answer = %observed.answer.shown(), changed = observed.changed(), "probe answered");
        let _ = conn.batch_execute(end);
        if !self.citus {
            let _ = conn.batch_execute("RELEASE SAVEPOINT tenancy_verify");
        }

        let mut result = observed.answer.shown();
        if let Some(failure) = observed.answer.failed() {
            let text = format!("{}\n{}", failure.message, failure.detail.as_deref().unwrap_or_default());
            let sent: String = probe
                .setup
                .iter()
                .chain(probe.rows.iter().map(|(_, sql)| sql))
                .chain(&probe.prelude)
                .chain([&probe.sql])
                .cloned()
                .collect();
            let markers = self.markers.borrow();
            if let Some(marker) = markers.iter().find(|m| text.contains(m.as_str()) && !sent.contains(m.as_str())) {
                result.push_str(&format!("\n{EXPOSED}: {marker} (which the statement did not send)"));
            }
        }
        if let (Some(watch), Some((before, after))) = (&probe.watch, &observed.watched) {
            let verdict = if before == after { "unchanged" } else { "CHANGED" };
            let by = match viewer {
                Some((role, orgs)) => {
                    let claims: Vec<String> = orgs.iter().map(|o| format!("{}'s claim", o.name())).collect();
                    format!("{role} with {}", claims.join(", then "))
                }
                None => "the connecting role".to_owned(),
            };
            result.push_str(&format!(
                "\n{}: {} before, {} after ({verdict}; checked as {by}: {})",
                watch.label,
                rows(before.rows),
                rows(after.rows),
                watch.sql()
            ));
        }
        (Evidence { sql: shown.join("\n"), result }, observed)
    }

    /// Who reads a probe's watched rows on Citus: the role that runs its statement (the app
    /// role, or the role its prelude switches to), under the claim of the organization whose
    /// rows they are. `None`: the connecting role reads them (not Citus, or an owner's probe).
    fn viewer(&self, probe: &Probe<'_>) -> Option<(String, Vec<Org>)> {
        let watch = probe.watch.as_ref()?;
        if !self.citus || matches!(probe.who, As::Owner) {
            return None;
        }
        let switched = probe.prelude.iter().rev().find_map(|p| p.strip_prefix("SET LOCAL ROLE ")).map(str::to_owned);
        let role = switched.unwrap_or_else(|| ident(&self.schema.settings.app_role));
        Some((role, watch.org.map_or(vec![Org::A, Org::B], |org| vec![org])))
    }

    /// The watched rows' fingerprint, read by the connecting role or the probe's viewer (under
    /// each of its claims in turn, the fingerprints joined).
    fn watched(
        &self,
        conn: &mut PgConnection,
        watch: &Watch,
        viewer: Option<&(String, Vec<Org>)>,
    ) -> Result<Fingerprint, DieselError> {
        let Some((role, orgs)) = viewer else { return fingerprint(conn, watch) };
        let mut joined = Fingerprint { rows: 0, versions: String::new() };
        conn.batch_execute(&format!("SET LOCAL ROLE {role}"))?;
        for org in orgs {
            conn.batch_execute(&self.claim_sql(&self.orgs[org.index()]))?;
            let read = fingerprint(conn, watch)?;
            joined.rows += read.rows;
            joined.versions.push_str(&read.versions);
        }
        conn.batch_execute("RESET ROLE")?;
        Ok(joined)
    }

    /// What the probe did, and who read its watched rows (`None`: the connecting role).
    fn observe(
        &self,
        conn: &mut PgConnection,
        probe: &Probe<'_>,
        as_app: &[String],
    ) -> (Observed, Option<(String, Vec<Org>)>) {
        let failed = |kind: FailureKind, err: DieselError| {
            (
                Observed {
                    answer: Answer::Failed(Failure {
                        message: crate::error::first_line(&err.to_string()),
                        detail: None,
                        kind,
                        constraint: None,
                    }),
                    watched: None,
                },
                None,
            )
        };
        for statement in &probe.setup {
            if let Err(err) = conn.batch_execute(statement) {
                return failed(FailureKind::Setup, err);
            }
        }
        for (org, sql) in &probe.rows {
            let made = match self.citus {
                true => each(
                    conn,
                    &[
                        &format!("SET LOCAL ROLE {}", ident(&self.schema.settings.app_role)),
                        &self.claim_sql(&self.orgs[org.index()]),
                        sql,
                        "RESET ROLE",
                    ],
                ),
                false => conn.batch_execute(sql),
            };
            if let Err(err) = made {
                return failed(FailureKind::Setup, err);
            }
        }
        let mut viewer = self.viewer(probe);
        if let (Some(watch), Some(_)) = (&probe.watch, &viewer) {
            // A role that may not read the rows leaves them to the connecting role (which can
            // read them afterwards only if the statement wrote nothing: else the cell is an error).
            let _ = conn.batch_execute("SAVEPOINT tenancy_viewer");
            match self.watched(conn, watch, viewer.as_ref()) {
                Ok(_) => {
                    let _ = conn.batch_execute("RELEASE SAVEPOINT tenancy_viewer");
                }
                Err(_) => {
                    let _ = each(conn, &["ROLLBACK TO SAVEPOINT tenancy_viewer", "RELEASE SAVEPOINT tenancy_viewer"]);
                    viewer = None;
                }
            }
        }
        let before = match probe.watch.as_ref().map(|w| self.watched(conn, w, viewer.as_ref())).transpose() {
            Ok(before) => before,
            Err(err) => return failed(FailureKind::Setup, err),
        };
        for statement in as_app.iter().chain(&probe.prelude) {
            if let Err(err) = conn.batch_execute(statement) {
                return failed(FailureKind::Setup, err);
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
        let _ = each(conn, &["RELEASE SAVEPOINT tenancy_probe", "RESET ROLE"]);
        let after = match probe.watch.as_ref().map(|w| self.watched(conn, w, viewer.as_ref())).transpose() {
            Ok(after) => after,
            // Unknown is not "unchanged": the cell cannot be judged.
            Err(err) => return failed(FailureKind::Unjudged, err),
        };
        (Observed { answer, watched: before.zip(after) }, viewer)
    }
}

/// `sql`'s rows as JSON text (column `row`). The `OFFSET 0` keeps the query below from being
/// pushed down to Citus's shards whole, which loses its column names (`{"f1": ...}`).
fn as_json(sql: &str) -> String {
    format!("SELECT to_jsonb(q)::text AS row FROM (SELECT * FROM ({sql}) i OFFSET 0) q")
}

/// Statements one at a time: Citus runs a write sent in one string with others twice.
fn each(conn: &mut PgConnection, statements: &[&str]) -> Result<(), DieselError> {
    statements.iter().try_for_each(|statement| conn.batch_execute(statement))
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
        let _ = each(conn, &["ROLLBACK TO SAVEPOINT tenancy_sample", "RELEASE SAVEPOINT tenancy_sample"]);
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
