//! `fresh_login`: what a new session of the application has before it sets a claim. Every role
//! that can log in and become the app role is taken through its login exactly as PostgreSQL
//! would: the defaults of `pg_db_role_setting` for this database, for the role, and for both
//! (in that order, later ones winning — `ALTER DATABASE ... SET`, `ALTER ROLE ... SET`,
//! `ALTER ROLE ... IN DATABASE ... SET`), a default `role` included. A login default that sets
//! the claim, or any row of any organization visible to that fresh session, is a leak: every
//! request that sets no claim (a health check, a job) reads it.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::{As, Probe, field};
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let settings = &x.runner.schema.settings;
    let app = quoted(&settings.app_role);
    let logins = login_roles(x, &app)?;
    let visible: Vec<String> =
        x.isolated().iter().map(|t| format!("(SELECT count(*) FROM {})", ident(&t.name))).collect();
    let sql = format!(
        "SELECT {} AS visible, coalesce(current_setting({}, true), '') <> '' AS claim_set, current_user AS runs_as",
        if visible.is_empty() { "0".to_owned() } else { visible.join(" + ") },
        literal(settings.claim.setting())
    );
    let mut objects = Vec::new();
    for login in logins {
        let defaults = x.read(
            "reading the login defaults (pg_db_role_setting)",
            &format!(
                "SELECT unnest(s.setconfig) AS setting,
                        CASE WHEN s.setrole = 0 THEN 1 WHEN s.setdatabase = 0 THEN 2 ELSE 3 END AS precedence
                 FROM pg_catalog.pg_db_role_setting s
                 WHERE (s.setrole = 0 OR s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {role}))
                   AND (s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
                   AND NOT (s.setrole = 0 AND s.setdatabase = 0)
                 ORDER BY 2",
                role = quoted(&login)
            ),
        )?;
        let mut probe = Probe::query(As::Owner, sql.clone()).prelude(format!("SET LOCAL ROLE {}", ident(&login)));
        let mut role_default = None;
        for row in defaults {
            let Some((name, value)) = row["setting"].as_str().and_then(|s| s.split_once('=')) else { continue };
            if name == "role" {
                role_default = Some(value.to_owned());
            } else {
                // Applied as the connecting role, as the server applies what a superuser stored.
                probe = probe.setup(format!("SELECT set_config({}, {}, true)", literal(name), literal(value)));
            }
        }
        if let Some(role) = &role_default {
            probe = probe.prelude(format!("SET LOCAL ROLE {}", ident(role)));
        }
        let (mut evidence, observed) = x.runner.run(x.conn, &probe);
        let claim_set = observed.answer.shown().contains("\"claim_set\": true");
        let outcome = match field(&observed.answer, "visible") {
            _ if observed.setup_failed() => Outcome::Error,
            Some(n) if n > 0 => Outcome::Leaked,
            _ if claim_set => Outcome::Leaked,
            Some(_) => Outcome::Blocked,
            // Nothing readable before the application switches roles.
            None if observed.answer.failed().is_some_and(|f| f.message.contains("permission denied")) => {
                Outcome::Blocked
            }
            None => Outcome::Error,
        };
        if claim_set {
            evidence
                .result
                .push_str("\na login default sets the claim: every new session starts with an organization's claim");
        }
        let cell = Cell { attack: "fresh_login".to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: format!("login {login}"), cell });
    }
    Ok(objects)
}

/// Roles that can log in and become the app role (the app role itself when it can log in);
/// superusers and BYPASSRLS roles are reported by `member_role` and scan, not here.
pub fn login_roles(x: &mut Around<'_, '_>, app: &str) -> Result<Vec<String>> {
    let rows = x.read(
        "listing the roles the application can log in as",
        &format!(
            "SELECT r.rolname AS name FROM pg_catalog.pg_roles r
             WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
               AND pg_catalog.pg_has_role(r.oid, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {app}), 'MEMBER')
             ORDER BY 1"
        ),
    )?;
    Ok(rows.iter().filter_map(|r| r["name"].as_str().map(str::to_owned)).collect())
}
