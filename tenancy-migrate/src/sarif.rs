//! `--format sarif`: scan findings and verify cells as SARIF 2.1.0, for code-scanning dashboards.
//! Rules are the check codes (scan) and attack codes (verify); a result's location is logical —
//! the table (and column) in the scanned schema, or the object around the tables — and its
//! evidence (the SQL and what it returned) travels in `properties`. Checked against the official
//! schema (`docs/sarif-schema-2.1.0.json`) in the tests.

use serde_json::{Value, json};
use tenancy_schema::report::{Cell, Outcome, Report, Severity};

const INFORMATION_URI: &str = "https://github.com/tenancy/tenancy/blob/main/docs/report-format.md";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warn => "warning",
        Severity::Info => "note",
    }
}

fn location(schema: &str, table: Option<&str>, column: Option<&str>, detail: Option<&str>) -> Value {
    let (name, kind, qualified) = match (table, column) {
        (Some(t), Some(c)) => (c.to_owned(), "column", format!("{schema}.{t}.{c}")),
        (Some(t), None) => (t.to_owned(), "table", format!("{schema}.{t}")),
        (None, _) => {
            let name = detail.unwrap_or("database").to_owned();
            (name.clone(), "object", format!("{schema}:{name}"))
        }
    };
    json!({ "logicalLocations": [{ "name": name, "kind": kind, "fullyQualifiedName": qualified }] })
}

fn run(rules: Vec<Value>, results: Vec<Value>) -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "tenancy",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// The scan's findings: one result each, every check code a rule.
pub fn scan(report: &Report, schema: &str) -> Value {
    let rules = crate::scan::checks::codes()
        .map(|c| {
            json!({
                "id": c.code,
                "name": c.code,
                "shortDescription": { "text": format!("{} ({})", c.code, c.category) },
                "defaultConfiguration": { "level": level(c.severity) },
                "properties": { "category": c.category },
            })
        })
        .collect();
    let results = report
        .findings
        .iter()
        .map(|f| {
            let detail = f.cache_key.rsplit(':').next();
            json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [location(schema, f.table.as_deref(), f.column.as_deref(), detail)],
                "partialFingerprints": { "cacheKey": f.cache_key },
                "properties": { "remediation": f.remediation, "evidence": f.evidence },
            })
        })
        .collect();
    run(rules, results)
}

fn cell_result(cell: &Cell, subject: Value) -> Value {
    let (kind, level) = match cell.outcome {
        Outcome::Blocked | Outcome::Allowed => ("pass", "none"),
        Outcome::Leaked | Outcome::Error => ("fail", "error"),
        Outcome::Skipped => ("notApplicable", "none"),
        Outcome::Info => ("informational", "note"),
    };
    json!({
        "ruleId": cell.attack,
        "kind": kind,
        "level": level,
        "message": { "text": format!("{}: expected {:?}, got {:?}", cell.attack, cell.expected, cell.outcome) },
        "locations": [subject],
        "properties": { "expected": cell.expected, "outcome": cell.outcome, "evidence": cell.evidence },
    })
}

/// verify's cells: every cell a result (pass, fail or not applicable), every attack a rule.
pub fn verify(report: &Report, schema: &str) -> Value {
    let Some(v) = &report.verify else { return scan(report, schema) };
    let mut codes: Vec<&str> = v.attacks.iter().map(String::as_str).collect();
    for object in &v.objects {
        if !codes.contains(&object.cell.attack.as_str()) {
            codes.push(&object.cell.attack);
        }
    }
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "name": code,
                "shortDescription": { "text": format!("verify attack {code} (docs/threat-model.md)") },
                "defaultConfiguration": { "level": "error" },
            })
        })
        .collect();
    let mut rules: Vec<Value> = rules;
    rules.push(json!({
        "id": "table_not_attacked",
        "name": "table_not_attacked",
        "shortDescription": { "text": "verify could not make a table's sample rows, so it attacked nothing there" },
        "defaultConfiguration": { "level": "error" },
    }));
    let mut results: Vec<Value> = Vec::new();
    for table in &v.tables {
        if let Some(reason) = &table.skipped {
            results.push(json!({
                "ruleId": "table_not_attacked",
                "kind": "fail",
                "level": "error",
                "message": { "text": format!("{} was not attacked: {reason}", table.table) },
                "locations": [location(schema, Some(&table.table), None, None)],
            }));
        }
        for cell in &table.cells {
            results.push(cell_result(cell, location(schema, Some(&table.table), None, None)));
        }
    }
    for object in &v.objects {
        results.push(cell_result(&object.cell, location(schema, None, None, Some(&object.object))));
    }
    run(rules, results)
}
