//! The report model: what `scan` and `verify` export as JSON and report-web renders.
//! Versioned by `schema_version`; readers refuse versions newer than [`REPORT_SCHEMA_VERSION`].
//! Optional sections (`verify`) may be absent; readers of version 1 accept both.

use serde::{Deserialize, Serialize};

/// The report format version this build writes and the newest it reads.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// The tool and version that wrote the report, e.g. `tenancy-migrate 0.0.0`.
    pub tool: String,
    pub database: DatabaseInfo,
    /// RFC 3339 timestamp.
    pub generated_at: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// The attack matrix of `verify`, when the report comes from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verification>,
}

/// `verify`: every tenant table attacked as the app role, inside a transaction rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The app role the attacks ran as.
    pub role: String,
    /// Attack codes, in matrix column order.
    pub attacks: Vec<String>,
    pub tables: Vec<VerifiedTable>,
    /// How many cells ended in each outcome.
    pub counts: OutcomeCounts,
    /// Checksum of the catalog, the data and every sequence before and after: equal when verify
    /// left no trace.
    pub checksum_before: String,
    pub checksum_after: String,
    /// Attacks on the database around the tables: schemas, roles the app role can become, views
    /// and functions it can call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<VerifiedObject>,
    /// What "0 leaked" does not cover, each shown by an executed statement: the threat model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// One object of the database around the tables, attacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedObject {
    /// What it is, e.g. `schema public`, `view agent_call_stats`, `role reporting`.
    pub object: String,
    pub cell: Cell,
}

/// Something the app role can do that is not a leak of this database by itself, but bounds what
/// verify proves (an unsigned claim any SQL can set; temporary objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub code: String,
    pub message: String,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedTable {
    pub table: String,
    /// Why the table could not be attacked (its sample rows could not be made), if so.
    pub skipped: Option<String>,
    pub cells: Vec<Cell>,
}

/// One table × attack: what was expected, what happened, and the statement that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub attack: String,
    pub expected: Outcome,
    pub outcome: Outcome,
    pub evidence: Evidence,
}

impl Cell {
    /// A leak, or an action that should have worked and did not.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Leaked | Outcome::Error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An attack that was stopped (an error, or no rows seen or changed).
    Blocked,
    /// An attack that succeeded.
    Leaked,
    /// A same-organization action that succeeded.
    Allowed,
    /// A same-organization action that failed, or a probe that should return nothing and errored.
    Error,
    /// Not applicable to this table (e.g. no reference to attack through).
    Skipped,
    /// Not a leak of rows, but something A can infer about other organizations by design (a
    /// globally unique slug is taken, table sizes, lock contention): the evidence says what and
    /// how to reduce it. Never fails a run.
    Info,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub blocked: u32,
    pub leaked: u32,
    pub allowed: u32,
    pub error: u32,
    pub skipped: u32,
    #[serde(default)]
    pub info: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub name: String,
    pub server_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub tables_scanned: u32,
    pub declared_tables: u32,
    pub errors: u32,
    pub warnings: u32,
    pub infos: u32,
    pub rls_coverage: Coverage,
    pub compliance_percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub enabled: u32,
    pub total: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// One verdict, always with the query that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier of the check, e.g. `rls-not-forced`.
    pub code: String,
    pub severity: Severity,
    pub category: String,
    pub table: Option<String>,
    pub column: Option<String>,
    pub message: String,
    pub remediation: String,
    pub evidence: Evidence,
    /// Stable across runs for the same problem on the same object; used for suppressions and diffs.
    pub cache_key: String,
}

/// The SQL that was run and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub sql: String,
    pub result: String,
}

/// Why a JSON document is not a report this build can read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not a tenancy report: {0}")]
    Invalid(String),
    #[error("report schema_version {found} is newer than this build understands ({supported}); upgrade tenancy")]
    TooNew { found: u32, supported: u32 },
}

impl Report {
    /// Parses a report, refusing newer format versions with a clear message.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(|e| ReportError::Invalid(e.to_string()))?;
        if version.schema_version > REPORT_SCHEMA_VERSION {
            return Err(ReportError::TooNew { found: version.schema_version, supported: REPORT_SCHEMA_VERSION });
        }
        serde_json::from_str(text).map_err(|e| ReportError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            tool: "tenancy-migrate 0.0.0".into(),
            database: DatabaseInfo { name: "app".into(), server_version: "15.18".into() },
            generated_at: "2026-11-22T12:00:00Z".into(),
            summary: Summary {
                tables_scanned: 2,
                declared_tables: 1,
                errors: 1,
                warnings: 0,
                infos: 0,
                rls_coverage: Coverage { enabled: 0, total: 1 },
                compliance_percent: 0.0,
            },
            findings: vec![Finding {
                code: "rls-disabled".into(),
                severity: Severity::Error,
                category: "rls".into(),
                table: Some("contacts".into()),
                column: None,
                message: "row-level security is disabled on contacts".into(),
                remediation: "ALTER TABLE contacts ENABLE ROW LEVEL SECURITY".into(),
                evidence: Evidence {
                    sql: "SELECT relrowsecurity FROM pg_class WHERE oid = 'contacts'::regclass".into(),
                    result: "f".into(),
                },
                cache_key: "rls-disabled:contacts".into(),
            }],
            verify: None,
        }
    }

    #[test]
    fn reports_round_trip_through_json() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(json.contains(r#""severity":"error""#));
        assert_eq!(Report::from_json(&json).unwrap(), sample());
    }

    #[test]
    fn newer_and_foreign_documents_are_refused_clearly() {
        let newer = serde_json::to_string(&Report { schema_version: 99, ..sample() }).unwrap();
        assert_eq!(
            Report::from_json(&newer).unwrap_err().to_string(),
            "report schema_version 99 is newer than this build understands (1); upgrade tenancy"
        );
        assert!(
            Report::from_json(r#"{"hello": 1}"#)
                .unwrap_err()
                .to_string()
                .starts_with("not a tenancy report: missing field `schema_version`")
        );
        assert!(Report::from_json("").unwrap_err().to_string().starts_with("not a tenancy report"));
    }
}
