//! `login_defaults`: A (SQL running as the app role) changes the login defaults of a role the
//! application logs in as (`ALTER ROLE ... SET`). PostgreSQL lets a role change its own: when
//! the application logs in as the app role itself, one injected statement plants a setting in
//! every future session of every organization — a claim, a `search_path`, a timeout that stops
//! them all. Logging in as a separate role that only switches to the app role closes it.

use super::fresh_login::login_roles;
use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let app = quoted(&x.runner.schema.settings.app_role);
    let mut objects = Vec::new();
    for login in login_roles(x, &app)? {
        let sql = format!("ALTER ROLE {} SET statement_timeout = '1ms'", ident(&login));
        let (mut evidence, observed) = x.runner.run(x.conn, &Probe::statement(x.claim_a(), sql));
        let outcome = if observed.answer.failed().is_none() {
            evidence.result.push_str(&format!(
                "\nthe app role can change the defaults of {login}, which the application logs in as: log in as a separate role that only switches to {} (docs/threat-model.md)",
                x.runner.schema.settings.app_role
            ));
            Outcome::Leaked
        } else {
            Outcome::Blocked
        };
        let cell = Cell { attack: "login_defaults".to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: format!("login {login}"), cell });
    }
    Ok(objects)
}
