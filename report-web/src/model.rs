//! The viewer's logic, free of the browser: reading a report, filtering and sorting findings,
//! the per-table view, diffing two reports, share links. Tested natively (`cargo test`).

use base64::Engine as _;
use std::collections::{BTreeMap, BTreeSet};
use tenancy_schema::report::{Finding, Report, ReportError, Severity, VerifiedTable};

/// The largest report the viewer reads: a 20,000-finding report with full evidence is about
/// 27 MB; 256 MB opens in a few seconds and stays within a tab's memory. Larger files are refused
/// before they are read, with a message.
pub const MAX_REPORT_BYTES: usize = 256 * 1024 * 1024;

/// Findings rendered at a time: the page shows the first ones of the filtered, sorted list and a
/// button for more, so a report of any size opens to a usable first screen.
pub const PAGE: usize = 200;

/// The first `limit` of `list` (sorted and filtered already), and how many are left.
pub fn page<T>(list: &[T], limit: usize) -> (&[T], usize) {
    let shown = &list[..limit.min(list.len())];
    (shown, list.len() - shown.len())
}

/// The longest share link the viewer makes: longer ones are cut by browsers, chat tools and
/// mail clients.
pub const MAX_LINK_CHARS: usize = 32_000;

/// Why a file is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Empty { name: String },
    TooBig { name: String, bytes: usize },
    NotJson { name: String, reason: String },
    NotAReport { name: String, reason: String },
    TooNew { name: String, found: u32, supported: u32 },
    Fetch { url: String, reason: String },
    Link { reason: String },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Empty { name } => write!(f, "{name} is empty: it is not a tenancy report."),
            LoadError::TooBig { name, bytes } => write!(
                f,
                "{name} is {:.1} MB; the viewer reads reports up to {} MB. Filter it first (e.g. scan --ignore), or split it.",
                *bytes as f64 / 1_048_576.0,
                MAX_REPORT_BYTES / 1_048_576
            ),
            LoadError::NotJson { name, reason } => {
                write!(
                    f,
                    "{name} is not valid JSON ({reason}); write it with `tenancy-migrate scan --format json -o FILE`."
                )
            }
            LoadError::NotAReport { name, reason } => write!(
                f,
                "{name} is JSON but not a tenancy report ({reason}); write one with `tenancy-migrate scan --format json -o FILE`."
            ),
            LoadError::TooNew { name, found, supported } => write!(
                f,
                "{name} has report schema_version {found}, newer than this viewer understands ({supported}); use a newer viewer."
            ),
            LoadError::Fetch { url, reason } => write!(f, "cannot load {url}: {reason}."),
            LoadError::Link { reason } => write!(f, "this share link is damaged ({reason}); ask for a new one."),
        }
    }
}

/// Reads a report from a file's bytes.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Report, LoadError> {
    let name = name.to_owned();
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(LoadError::TooBig { name, bytes: bytes.len() });
    }
    let text =
        std::str::from_utf8(bytes).map_err(|e| LoadError::NotJson { name: name.clone(), reason: e.to_string() })?;
    if text.trim().is_empty() {
        return Err(LoadError::Empty { name });
    }
    if let Err(err) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(LoadError::NotJson { name, reason: err.to_string() });
    }
    Report::from_json(text).map_err(|err| match err {
        ReportError::TooNew { found, supported } => LoadError::TooNew { name, found, supported },
        ReportError::Invalid(reason) => LoadError::NotAReport { name, reason },
    })
}

/// What the findings table shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only findings at least this severe.
    pub severity: Option<Severity>,
    pub category: Option<String>,
    pub table: Option<String>,
    /// Case-insensitive, over code, table, column, message and cache key.
    pub text: String,
}

impl Filter {
    /// From URL query pairs (`severity`, `category`, `table`, `q`), ignoring unknown values.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Filter {
        let mut filter = Filter::default();
        for (key, value) in pairs {
            match key {
                "severity" => filter.severity = severity(value),
                "category" if !value.is_empty() => filter.category = Some(value.to_owned()),
                "table" if !value.is_empty() => filter.table = Some(value.to_owned()),
                "q" => filter.text = value.to_owned(),
                _ => {}
            }
        }
        filter
    }

    pub fn matches(&self, finding: &Finding) -> bool {
        let text = self.text.trim().to_lowercase();
        self.severity.is_none_or(|s| finding.severity >= s)
            && self.category.as_ref().is_none_or(|c| *c == finding.category)
            && self.table.as_ref().is_none_or(|t| finding.table.as_ref() == Some(t))
            && (text.is_empty()
                || [
                    Some(&finding.code),
                    finding.table.as_ref(),
                    finding.column.as_ref(),
                    Some(&finding.message),
                    Some(&finding.cache_key),
                ]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(&text)))
    }
}

pub fn severity(name: &str) -> Option<Severity> {
    match name {
        "error" => Some(Severity::Error),
        "warn" => Some(Severity::Warn),
        "info" => Some(Severity::Info),
        _ => None,
    }
}

pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warn => "warn",
        Severity::Info => "info",
    }
}

/// The findings `filter` lets through: worst first, then by table (database-wide last), code.
pub fn filtered<'r>(report: &'r Report, filter: &Filter) -> Vec<&'r Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().filter(|f| filter.matches(f)).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.table.is_none().cmp(&b.table.is_none()))
            .then_with(|| a.table.cmp(&b.table))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.cache_key.cmp(&b.cache_key))
    });
    findings
}

/// Distinct categories and tables, for the filter menus.
pub fn categories(report: &Report) -> Vec<String> {
    report.findings.iter().map(|f| f.category.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

pub fn tables(report: &Report) -> Vec<String> {
    let mut tables: BTreeSet<String> = report.findings.iter().filter_map(|f| f.table.clone()).collect();
    if let Some(verify) = &report.verify {
        tables.extend(verify.tables.iter().map(|t| t.table.clone()));
    }
    tables.into_iter().collect()
}

/// One table: its findings (worst first) and its verify row.
pub struct TableView<'r> {
    pub findings: Vec<&'r Finding>,
    pub verify: Option<&'r VerifiedTable>,
}

pub fn table_view<'r>(report: &'r Report, table: &str) -> TableView<'r> {
    let filter = Filter { table: Some(table.to_owned()), ..Filter::default() };
    TableView {
        findings: filtered(report, &filter),
        verify: report.verify.as_ref().and_then(|v| v.tables.iter().find(|t| t.table == table)),
    }
}

/// Findings of two reports matched by `cache_key`.
#[derive(Debug, Default)]
pub struct Diff<'r> {
    /// In `before`, gone from `after`.
    pub resolved: Vec<&'r Finding>,
    /// In `after` only.
    pub new: Vec<&'r Finding>,
    /// In both (as they are in `after`).
    pub unchanged: Vec<&'r Finding>,
}

pub fn diff<'r>(before: &'r Report, after: &'r Report) -> Diff<'r> {
    let keys = |report: &'r Report| -> BTreeMap<&'r str, &'r Finding> {
        report.findings.iter().map(|f| (f.cache_key.as_str(), f)).collect()
    };
    let (old, new) = (keys(before), keys(after));
    let all = Filter::default();
    let sort = |mut list: Vec<&'r Finding>| {
        let order: Vec<&Finding> = filtered(after, &all).into_iter().chain(filtered(before, &all)).collect();
        list.sort_by_key(|f| order.iter().position(|o| o.cache_key == f.cache_key).unwrap_or(usize::MAX));
        list
    };
    Diff {
        resolved: sort(old.iter().filter(|(k, _)| !new.contains_key(*k)).map(|(_, f)| *f).collect()),
        new: sort(new.iter().filter(|(k, _)| !old.contains_key(*k)).map(|(_, f)| *f).collect()),
        unchanged: sort(new.iter().filter(|(k, _)| old.contains_key(*k)).map(|(_, f)| *f).collect()),
    }
}

/// The URL fragment of a share link (`r=` + base64url of the deflated JSON), or why there is
/// none: a report too big for a link.
pub fn share_fragment(json: &str) -> Result<String, String> {
    let compressed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 9);
    let fragment = format!("r={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed));
    if fragment.len() > MAX_LINK_CHARS {
        return Err(format!(
            "this report is too big for a link ({} KB compressed, links hold about {} KB); share the JSON file instead",
            fragment.len() / 1024,
            MAX_LINK_CHARS / 1024
        ));
    }
    Ok(fragment)
}

/// Reads a report back from a share link's fragment (with or without the leading `#`).
pub fn from_fragment(fragment: &str) -> Result<Report, LoadError> {
    let encoded = fragment
        .trim_start_matches('#')
        .strip_prefix("r=")
        .ok_or_else(|| LoadError::Link { reason: "it does not start with #r=".to_owned() })?;
    let link = |reason: String| LoadError::Link { reason };
    let compressed =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).map_err(|e| link(e.to_string()))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_REPORT_BYTES)
        .map_err(|e| link(format!("{e:?}")))?;
    parse("the shared report", &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenancy_schema::report::{Coverage, DatabaseInfo, Evidence, REPORT_SCHEMA_VERSION, Summary};

    fn finding(code: &str, severity: Severity, table: Option<&str>, category: &str) -> Finding {
        let key = match table {
            Some(t) => format!("{code}:{t}"),
            None => format!("{code}:db"),
        };
        Finding {
            code: code.into(),
            severity,
            category: category.into(),
            table: table.map(Into::into),
            column: None,
            message: format!("{code} on {}", table.unwrap_or("the database")),
            remediation: "fix it".into(),
            evidence: Evidence { sql: "SELECT 1".into(), result: "1".into() },
            cache_key: key,
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            tool: "tenancy-migrate 0.0.0".into(),
            database: DatabaseInfo { name: "app".into(), server_version: "15".into() },
            generated_at: "2026-11-22T12:00:00Z".into(),
            summary: Summary {
                tables_scanned: 3,
                declared_tables: 3,
                errors: 0,
                warnings: 0,
                infos: 0,
                rls_coverage: Coverage { enabled: 1, total: 2 },
                compliance_percent: 50.0,
            },
            findings,
            verify: None,
        }
    }

    fn sample() -> Report {
        report(vec![
            finding("org-index-missing", Severity::Warn, Some("calls"), "index"),
            finding("rls-disabled", Severity::Error, Some("contacts"), "rls"),
            finding("auth-org-id-missing", Severity::Error, None, "claims"),
            finding("column-not-declared", Severity::Info, Some("calls"), "drift"),
            finding("rls-not-forced", Severity::Warn, Some("agents"), "rls"),
        ])
    }

    fn codes(findings: &[&Finding]) -> Vec<String> {
        findings.iter().map(|f| f.cache_key.clone()).collect()
    }

    #[test]
    fn findings_sort_worst_first_then_table_then_code() {
        let report = sample();
        assert_eq!(
            codes(&filtered(&report, &Filter::default())),
            [
                "rls-disabled:contacts",
                "auth-org-id-missing:db",
                "rls-not-forced:agents",
                "org-index-missing:calls",
                "column-not-declared:calls"
            ]
        );
    }

    #[test]
    fn filters_narrow_by_severity_category_table_and_text() {
        let report = sample();
        let by = |filter: Filter| codes(&filtered(&report, &filter));
        assert_eq!(by(Filter { severity: Some(Severity::Error), ..Filter::default() }).len(), 2);
        assert_eq!(by(Filter { severity: Some(Severity::Warn), ..Filter::default() }).len(), 4);
        assert_eq!(
            by(Filter { category: Some("rls".into()), ..Filter::default() }),
            ["rls-disabled:contacts", "rls-not-forced:agents"]
        );
        assert_eq!(
            by(Filter { table: Some("calls".into()), ..Filter::default() }),
            ["org-index-missing:calls", "column-not-declared:calls"]
        );
        assert_eq!(by(Filter { text: "  FORCED ".into(), ..Filter::default() }), ["rls-not-forced:agents"]);
        assert_eq!(
            by(Filter::from_query([("severity", "error"), ("q", "contacts"), ("bogus", "x")])),
            ["rls-disabled:contacts"]
        );
        assert_eq!(Filter::from_query([("severity", "critical")]), Filter::default(), "unknown values are ignored");
        assert_eq!(categories(&report), ["claims", "drift", "index", "rls"]);
        assert_eq!(tables(&report), ["agents", "calls", "contacts"]);
    }

    #[test]
    fn a_table_view_has_its_findings() {
        let report = sample();
        let view = table_view(&report, "calls");
        assert_eq!(codes(&view.findings), ["org-index-missing:calls", "column-not-declared:calls"]);
        assert!(view.verify.is_none());
    }

    #[test]
    fn diff_matches_findings_by_cache_key() {
        let before = sample();
        let mut after = sample();
        after.findings.retain(|f| f.table.as_deref() != Some("contacts") && f.code != "auth-org-id-missing");
        after.findings.push(finding("view-without-security-invoker", Severity::Error, Some("stats"), "view"));
        let d = diff(&before, &after);
        assert_eq!(codes(&d.resolved), ["rls-disabled:contacts", "auth-org-id-missing:db"]);
        assert_eq!(codes(&d.new), ["view-without-security-invoker:stats"]);
        assert_eq!(d.unchanged.len(), 3);
        let same = diff(&before, &before);
        assert_eq!((same.resolved.len(), same.new.len(), same.unchanged.len()), (0, 0, 5));
    }

    #[test]
    fn bad_files_get_a_message_that_says_what_to_do() {
        let message = |bytes: &[u8]| parse("x.json", bytes).unwrap_err().to_string();
        assert_eq!(message(b""), "x.json is empty: it is not a tenancy report.");
        assert_eq!(message(b"  \n"), "x.json is empty: it is not a tenancy report.");
        assert!(message(b"{\"schema_version\": 1, ").starts_with("x.json is not valid JSON ("), "{}", message(b"{"));
        assert!(
            message(br#"{"hello": "world"}"#)
                .starts_with("x.json is JSON but not a tenancy report (missing field `schema_version`")
        );
        assert!(message(&[0xff, 0xfe]).starts_with("x.json is not valid JSON"));
        let mut newer = serde_json::to_value(sample()).unwrap();
        newer["schema_version"] = 7.into();
        assert_eq!(
            message(newer.to_string().as_bytes()),
            "x.json has report schema_version 7, newer than this viewer understands (1); use a newer viewer."
        );
        let big = vec![b' '; MAX_REPORT_BYTES + 1];
        assert!(
            message(&big).starts_with("x.json is 256.0 MB; the viewer reads reports up to 256 MB."),
            "{}",
            message(&big)
        );
        let good = serde_json::to_string(&sample()).unwrap();
        assert_eq!(parse("x.json", good.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn pages_show_the_first_findings_and_count_the_rest() {
        let list: Vec<usize> = (0..450).collect();
        assert_eq!(page(&list, PAGE), (&list[..200], 250));
        assert_eq!(page(&list, 3 * PAGE), (&list[..], 0));
        assert_eq!(page(&list[..0], PAGE), (&list[..0], 0));
    }

    #[test]
    fn share_links_round_trip_and_refuse_big_reports() {
        let json = serde_json::to_string(&sample()).unwrap();
        let fragment = share_fragment(&json).unwrap();
        assert!(fragment.starts_with("r=") && fragment.len() < json.len());
        assert_eq!(from_fragment(&format!("#{fragment}")).unwrap(), sample());
        assert!(from_fragment("#r=@@@").unwrap_err().to_string().starts_with("this share link is damaged"));
        // Findings with varied text do not compress away: a big report refuses a link.
        let mut big = sample();
        big.findings = (0..5_000)
            .map(|i| {
                finding(&format!("code-{i:x}"), Severity::Warn, Some(&format!("table_{}", i * 7919 % 10_007)), "x")
            })
            .collect();
        let err = share_fragment(&serde_json::to_string(&big).unwrap()).unwrap_err();
        assert!(err.starts_with("this report is too big for a link ("), "{err}");
    }
}
