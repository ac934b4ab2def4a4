//! `fresh_login` over a real connection: with the application's own URL (`verify
//! --app-database-url`), verify logs in exactly as the application does — a new session, the
//! server applying the login's role and database defaults itself — and reads, before any claim
//! is set, who it runs as, whether a claim is already there, and how many rows of the isolated
//! tables it sees. Verify's own sample rows live in its uncommitted transaction, so this session
//! sees only the database's real rows: any of them visible without a claim is a leak, as is a
//! claim present at login.

use crate::db;
use diesel::RunQueryDsl;
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::Schema;
use tenancy_schema::report::{Cell, Evidence, Outcome, VerifiedObject};

pub fn real_login(app_url: &str, schema: &Schema) -> VerifiedObject {
    let settings = &schema.settings;
    let visible: Vec<String> = schema
        .tables
        .iter()
        .filter(|t| t.scope.is_isolated())
        .map(|t| format!("(SELECT count(*) FROM {})", ident(&t.name)))
        .collect();
    let sql = format!(
        "SELECT session_user::text AS logs_in_as, current_user::text AS runs_as, coalesce(current_setting({}, true), '') <> '' AS claim_set, {} AS visible",
        literal(settings.claim.setting()),
        if visible.is_empty() { "0".to_owned() } else { visible.join(" + ") }
    );
    let shown = db::redact(app_url);
    let answer = db::connect(app_url).map_err(|e| e.to_string()).and_then(|mut conn| {
        diesel::sql_query(crate::catalog::as_json(&sql))
            .get_result::<crate::catalog::JsonRow>(&mut conn)
            .map(|r| r.row)
            .map_err(|e| crate::error::first_line(&e.to_string()))
    });
    let (outcome, result) = match answer {
        Ok(row) => {
            let value: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
            let leaked = value["claim_set"] == true || value["visible"].as_i64().unwrap_or(0) > 0;
            let verdict = if leaked {
                "a new session of the application, before setting a claim, carries one or sees rows"
            } else {
                "a new session of the application carries no claim and sees no row"
            };
            (if leaked { Outcome::Leaked } else { Outcome::Blocked }, format!("{row}\n{verdict}"))
        }
        Err(reason) if reason.contains("permission denied") => (
            Outcome::Blocked,
            format!("ERROR: {reason}\nthe login reads nothing until the application switches to {}", settings.app_role),
        ),
        Err(reason) => (Outcome::Error, format!("ERROR: {reason}")),
    };
    let evidence = Evidence { sql: format!("-- a new connection to {shown}\n{sql};"), result };
    let cell = Cell { attack: "fresh_login".to_owned(), expected: Outcome::Blocked, outcome, evidence };
    VerifiedObject { object: format!("connection {shown}"), cell }
}
