//! The human rendering of a report: findings grouped by table, worst first, each with its fix and
//! the evidence behind it; then a summary line like the seeds' — but every number counted.

use std::io::{self, Write};
use tenancy_schema::report::{Report, Severity};

/// Writes the report. `color` adds ANSI severity colours (only on a terminal).
pub fn render(out: &mut dyn Write, report: &Report, color: bool) -> io::Result<()> {
    let paint = |severity: Severity, text: &str| -> String {
        if !color {
            return text.to_owned();
        }
        let code = match severity {
            Severity::Error => "1;31",
            Severity::Warn => "1;33",
            Severity::Info => "1;36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let mut current: Option<Option<&str>> = None;
    for finding in &report.findings {
        let group = finding.table.as_deref();
        if current != Some(group) {
            current = Some(group);
            writeln!(out, "\n{}", group.map_or_else(|| "database-wide".to_owned(), |t| format!("table {t}")))?;
        }
        let label = match finding.severity {
            Severity::Error => "error",
            Severity::Warn => "warn ",
            Severity::Info => "info ",
        };
        writeln!(out, "  {} {}: {}", paint(finding.severity, label), finding.code, finding.message)?;
        writeln!(out, "        fix:      {}", finding.remediation)?;
        writeln!(out, "        evidence: {}", one_line(&finding.evidence.result, 160))?;
        writeln!(out, "        query:    {}", one_line(&finding.evidence.sql, 160))?;
        writeln!(out, "        ignore:   {}", finding.cache_key)?;
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    summary(out, report, &paint)
}

fn summary(out: &mut dyn Write, report: &Report, paint: &dyn Fn(Severity, &str) -> String) -> io::Result<()> {
    let s = &report.summary;
    writeln!(
        out,
        "Database {} (PostgreSQL {}): total tables: {}, declared: {}",
        report.database.name, report.database.server_version, s.tables_scanned, s.declared_tables
    )?;
    writeln!(
        out,
        "Findings: {}, {}, {}",
        paint(Severity::Error, &format!("{} errors", s.errors)),
        paint(Severity::Warn, &format!("{} warnings", s.warnings)),
        paint(Severity::Info, &format!("{} infos", s.infos)),
    )?;
    writeln!(
        out,
        "RLS coverage: {}/{} tenant tables; compliance: {}% of declared tables with no error or warning",
        s.rls_coverage.enabled, s.rls_coverage.total, s.compliance_percent
    )?;
    if report.findings.is_empty() {
        writeln!(out, "No findings: the database matches the declaration.")?;
    } else {
        writeln!(out, "Each finding shows the query that decided it; --format json has them in full.")?;
    }
    Ok(())
}

/// Whitespace collapsed, cut at `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}
