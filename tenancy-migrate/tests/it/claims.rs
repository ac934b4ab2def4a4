//! The generated `auth_org_id()` for each claim source, executed in PostgreSQL: the right claim
//! yields the organization; a missing, empty or user-editable claim yields NULL, never an error.

use crate::support::{TestDb, exec, texts};
use diesel::{Connection, PgConnection};
use tenancy_schema::{Claim, Settings};

const ORG: &str = "00000000-0000-4000-8000-0000000000aa";

fn install(test: &str, claim: Claim) -> TestDb {
    let db = TestDb::new(test);
    let mut admin = db.admin();
    let settings = Settings { claim, ..Settings::default() };
    for statement in tenancy_codegen::sql::auth_org_id(&settings, false) {
        exec(&mut admin, &statement.to_string()).unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    db
}

/// `auth_org_id()` as the app role, with `setting` set transaction-locally to `value` (if any).
fn claim_as_app(conn: &mut PgConnection, setting: &str, value: Option<&str>) -> String {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        if let Some(value) = value {
            diesel::RunQueryDsl::execute(
                diesel::sql_query("SELECT set_config($1, $2, true)")
                    .bind::<diesel::sql_types::Text, _>(setting)
                    .bind::<diesel::sql_types::Text, _>(value),
                conn,
            )?;
        }
        Ok(texts(conn, "SELECT coalesce(auth_org_id()::text, 'NULL') AS t").remove(0))
    })
    .unwrap()
}

#[test]
fn setting_claim() {
    let db = install("claim_setting", Claim::Setting("app.org_id".into()));
    let mut app = db.app();
    assert_eq!(claim_as_app(&mut app, "app.org_id", Some(ORG)), ORG);
    assert_eq!(claim_as_app(&mut app, "app.org_id", Some("")), "NULL");
    assert_eq!(claim_as_app(&mut app, "app.org_id", None), "NULL");
}

#[test]
fn postgrest_claim_reads_app_metadata_never_user_metadata() {
    let db = install("claim_postgrest", Claim::Postgrest);
    let mut app = db.app();
    let jwt = |json: &str| claim_as_app(&mut db.app(), "request.jwt.claims", Some(json));
    assert_eq!(jwt(&format!(r#"{{"sub": "u1", "app_metadata": {{"org_id": "{ORG}"}}}}"#)), ORG);
    assert_eq!(
        jwt(&format!(r#"{{"sub": "u1", "user_metadata": {{"org_id": "{ORG}"}}}}"#)),
        "NULL",
        "user-editable claim ignored"
    );
    assert_eq!(jwt(r#"{"sub": "u1", "app_metadata": {"org_id": ""}}"#), "NULL");
    assert_eq!(jwt("{}"), "NULL");
    assert_eq!(claim_as_app(&mut app, "request.jwt.claims", Some("")), "NULL");
    assert_eq!(claim_as_app(&mut app, "request.jwt.claims", None), "NULL");
}
