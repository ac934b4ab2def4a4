//! `tenancy-migrate harden`: the safe REVOKEs and role changes that close what row-level security
//! does not govern, applied where the platform allows. Every organization's requests run as one
//! role, so by PostgreSQL's defaults each sees the others' in-flight SQL, can cancel their
//! queries, shares large objects and temporary objects with them — and, when the application
//! logs in as the app role itself, can change the defaults of every future session.
//!
//! Each step checks first whether it is needed (as the app role sees it), then runs in a
//! transaction of its own: a platform that refuses one (a managed service without superuser) gets it
//! reported as skipped with PostgreSQL's reason, and the others still apply. Steps that would
//! break a running application are advice, never applied unless asked (`--login-role`).

use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::{PgConnection, RunQueryDsl};
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::Schema;

/// One hardening step.
#[derive(Debug, Clone)]
pub struct Step {
    pub what: String,
    /// Why it matters, in one line.
    pub why: String,
    pub sql: Vec<String>,
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Applied,
    /// Nothing to do: the app role already lacks it.
    Already,
    /// The database refused it (the reason PostgreSQL gave); the other steps still applied.
    Skipped(String),
    /// Not applied: a change to make by hand (or with `--login-role`).
    Advice(String),
    /// `--dry-run`: what would run.
    WouldApply,
}

#[derive(diesel::QueryableByName)]
struct Needed {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    needed: bool,
}

/// Runs every step (or, with `dry_run`, says what would run). `login_role`: the role the
/// application should log in as, created (or fixed) when the app role itself can log in.
pub fn harden(
    conn: &mut PgConnection,
    schema: &Schema,
    login_role: Option<&str>,
    dry_run: bool,
) -> Result<Vec<(Step, Done)>> {
    let app = &schema.settings.app_role;
    let exists = needed(
        conn,
        &format!("SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) AS needed", literal(app)),
    )?;
    if !exists {
        return Err(Error::Harden(format!(
            "app role {app} does not exist; apply the migrations first (`tenancy-migrate apply`)"
        )));
    }
    let mut results = Vec::new();
    for (step, check) in steps(schema, login_role) {
        let done = match check {
            Check::Needed(sql) if !needed(conn, &sql)? => Done::Already,
            Check::Advice(sql, advice) => {
                if needed(conn, &sql)? {
                    Done::Advice(advice)
                } else {
                    Done::Already
                }
            }
            _ if dry_run => Done::WouldApply,
            _ => apply(conn, &step),
        };
        results.push((step, done));
    }
    Ok(results)
}

enum Check {
    /// A query answering `needed`: the step applies when true.
    Needed(String),
    /// The same, for a step only described (the advice says what to do).
    Advice(String, String),
}

fn steps(schema: &Schema, login_role: Option<&str>) -> Vec<(Step, Check)> {
    let settings = &schema.settings;
    let app = literal(&settings.app_role);
    let app_ident = ident(&settings.app_role);
    let has_function = |f: &str| format!("pg_catalog.has_function_privilege({app}, {}, 'EXECUTE')", literal(f));
    let mut steps = vec![
        (
            Step {
                what: "other sessions' SQL (pg_stat_activity)".to_owned(),
                why: "every organization's requests run as one role, and a role sees the SQL text of its own sessions".to_owned(),
                sql: vec![
                    "REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC".to_owned(),
                    "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC".to_owned(),
                    "GRANT SELECT ON pg_catalog.pg_stat_activity TO pg_read_all_stats".to_owned(),
                    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) TO pg_read_all_stats".to_owned(),
                ],
            },
            Check::Needed(format!(
                "SELECT pg_catalog.has_table_privilege({app}, 'pg_catalog.pg_stat_activity', 'SELECT') AND {} AS needed",
                has_function("pg_catalog.pg_stat_get_activity(integer)")
            )),
        ),
        (
            Step {
                what: "signalling other sessions (pg_cancel_backend, pg_terminate_backend)".to_owned(),
                why: "a role may cancel or terminate its own sessions: one organization, every other's queries".to_owned(),
                sql: vec![
                    "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC".to_owned(),
                    "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC".to_owned(),
                    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) TO pg_signal_backend".to_owned(),
                    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) TO pg_signal_backend".to_owned(),
                ],
            },
            Check::Needed(format!(
                "SELECT {} OR {} AS needed",
                has_function("pg_catalog.pg_cancel_backend(integer)"),
                has_function("pg_catalog.pg_terminate_backend(integer, bigint)")
            )),
        ),
        (
            Step {
                what: "creating large objects".to_owned(),
                why: "large objects live outside row-level security, owned by the one role every organization shares".to_owned(),
                sql: vec![
                    "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC".to_owned(),
                ],
            },
            Check::Needed(format!(
                "SELECT {} OR {} OR {} AS needed",
                has_function("pg_catalog.lo_create(oid)"),
                has_function("pg_catalog.lo_creat(integer)"),
                has_function("pg_catalog.lo_from_bytea(oid, bytea)")
            )),
        ),
        (
            Step {
                what: "temporary objects (TEMP on this database)".to_owned(),
                why: "PUBLIC may create temporary tables and functions: code of the app role's own in the session".to_owned(),
                sql: vec![
                    "DO $tenancy$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $tenancy$".to_owned(),
                ],
            },
            Check::Needed(format!(
                "SELECT pg_catalog.has_database_privilege({app}, current_database(), 'TEMPORARY') AS needed"
            )),
        ),
        (
            Step {
                what: "a claim set by login defaults".to_owned(),
                why: "every new session would start with an organization's claim".to_owned(),
                sql: vec![format!(
                    "DO $tenancy$ DECLARE s record; BEGIN
                       FOR s IN SELECT r.rolname, d.datname FROM pg_catalog.pg_db_role_setting x
                                LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.setrole
                                LEFT JOIN pg_catalog.pg_database d ON d.oid = x.setdatabase
                                WHERE (x.setdatabase = 0 OR d.datname = current_database())
                                  AND (x.setrole = 0 OR pg_catalog.pg_has_role(x.setrole, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {app}), 'MEMBER'))
                                  AND EXISTS (SELECT FROM unnest(x.setconfig) c WHERE c LIKE {prefix})
                       LOOP
                         IF s.rolname IS NULL THEN EXECUTE format('ALTER DATABASE %I RESET %s', s.datname, {setting});
                         ELSIF s.datname IS NULL THEN EXECUTE format('ALTER ROLE %I RESET %s', s.rolname, {setting});
                         ELSE EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET %s', s.rolname, s.datname, {setting});
                         END IF;
                       END LOOP;
                     END $tenancy$",
                    prefix = literal(&format!("{}=%", settings.claim.setting().replace('%', "\\%").replace('_', "\\_"))),
                    setting = literal(&setting_name(settings.claim.setting())),
                )],
            },
            Check::Needed(format!(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_db_role_setting x
                   LEFT JOIN pg_catalog.pg_database d ON d.oid = x.setdatabase
                   WHERE (x.setdatabase = 0 OR d.datname = current_database())
                     AND (x.setrole = 0 OR pg_catalog.pg_has_role(x.setrole, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {app}), 'MEMBER'))
                     AND EXISTS (SELECT FROM unnest(x.setconfig) c WHERE c LIKE {})) AS needed",
                literal(&format!("{}=%", settings.claim.setting().replace('%', "\\%").replace('_', "\\_")))
            )),
        ),
    ];
    let can_log_in = format!("SELECT rolcanlogin AS needed FROM pg_catalog.pg_roles WHERE rolname = {app}");
    let login_step = match login_role {
        Some(login) => (
            Step {
                what: format!("the application logs in as {login}, which switches to {}", settings.app_role),
                why: format!(
                    "a role may change its own login defaults: logged in as {} itself, one injected statement changes every future session",
                    settings.app_role
                ),
                sql: vec![
                    format!(
                        "DO $tenancy$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN
                           CREATE ROLE {} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS; END IF; END $tenancy$",
                        literal(login),
                        ident(login)
                    ),
                    format!("GRANT {app_ident} TO {}", ident(login)),
                    format!("ALTER ROLE {} SET role = {app}", ident(login)),
                    format!("ALTER ROLE {app_ident} NOLOGIN"),
                ],
            },
            Check::Needed(can_log_in),
        ),
        None => (
            Step {
                what: format!("{} has no login of its own", settings.app_role),
                why: "a role may change its own login defaults: logged in as the app role, one injected statement changes every future session".to_owned(),
                sql: Vec::new(),
            },
            Check::Advice(
                can_log_in,
                format!(
                    "{r} can log in. Give the application a login role that switches to it: rerun with --login-role app_login (creates it NOINHERIT, GRANT {r} TO it, ALTER ROLE it SET role = {r}, then {r} NOLOGIN), set its password (ALTER ROLE app_login PASSWORD ...), and point the application at it before the next restart",
                    r = settings.app_role
                ),
            ),
        ),
    };
    steps.push(login_step);
    steps
}

/// `app.org_token` as `RESET` takes it: each part an identifier.
fn setting_name(setting: &str) -> String {
    setting.split('.').map(ident).collect::<Vec<_>>().join(".")
}

fn needed(conn: &mut PgConnection, sql: &str) -> Result<bool> {
    diesel::sql_query(sql)
        .get_result::<Needed>(conn)
        .map(|n| n.needed)
        .map_err(|e| Error::query("checking what hardening is needed", e))
}

/// Runs a step's statements in a transaction of their own: all of them, or none.
fn apply(conn: &mut PgConnection, step: &Step) -> Done {
    let _ = conn.batch_execute("BEGIN");
    let outcome = step.sql.iter().try_for_each(|sql| conn.batch_execute(sql));
    match outcome {
        Ok(()) => match conn.batch_execute("COMMIT") {
            Ok(()) => Done::Applied,
            Err(err) => Done::Skipped(crate::error::first_line(&err.to_string())),
        },
        Err(err) => {
            let _ = conn.batch_execute("ROLLBACK");
            Done::Skipped(crate::error::first_line(&err.to_string()))
        }
    }
}
