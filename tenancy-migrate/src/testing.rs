//! Test databases, shared by this crate's unit tests and its integration tests: one throwaway
//! cluster per test run (or `DATABASE_URL`), one fresh database per test, and the app role.
//! Not part of the tool: compiled for this crate's tests and behind the `testing` feature (which
//! its integration tests turn on through a dev-dependency on the crate itself).

use crate::cluster::Cluster;
use crate::db;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::sync::OnceLock;
use tenancy_codegen::sql::{ident, literal};

/// The signed-claim key every migrated test database has installed (`claim = signed`).
pub const CLAIM_KEY: &str = "test:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The test key, for the generated org-scoped API.
pub fn models_key() -> crate::models::ClaimKey {
    crate::models::ClaimKey::parse(CLAIM_KEY).expect("the test key")
}

/// `SELECT set_config(<claim setting>, <token for org>, true)`: what the org-scoped API runs,
/// for tests that set the claim by hand. The token is signed with the test key, valid an hour.
pub fn claim_sql(org: &str) -> String {
    let key = tenancy_codegen::claim::ClaimKey::parse(CLAIM_KEY).expect("the test key");
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 3600;
    let token = if org.is_empty() { String::new() } else { key.token(org, expires) };
    format!("SELECT set_config({}, {}, true)", literal(tenancy_schema::ir::SIGNED_CLAIM_SETTING), literal(&token))
}

/// Password the tests give the app role so they can log in as it (never a superuser).
pub const APP_PASSWORD: &str = "app-test-password";
pub const APP_ROLE: &str = "app_user";

/// A superuser URL for the server: DATABASE_URL when set, else a throwaway cluster.
pub fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) => url,
            Err(_) => {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tenancy/test-pg");
                let cluster = Cluster::ensure_running(&dir).unwrap_or_else(|e| panic!("starting test PostgreSQL: {e}"));
                cluster.url("postgres")
            }
        };
        // The app role is cluster-wide: create it once, before tests race to create it.
        let mut conn = PgConnection::establish(&url).expect("admin connection");
        let create = tenancy_codegen::ddl::Ddl::EnsureAppRole { role: APP_ROLE.to_owned() };
        diesel::sql_query(create.to_string()).execute(&mut conn).expect("create app role");
        diesel::sql_query(format!("ALTER ROLE {} LOGIN PASSWORD {}", ident(APP_ROLE), literal(APP_PASSWORD)))
            .execute(&mut conn)
            .expect("let the app role log in for tests");
        url
    })
}

/// A fresh, empty database for one test, dropped again when the test passes.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new(test: &str) -> TestDb {
        let name = format!("t_{test}");
        let mut conn = PgConnection::establish(admin_url()).expect("admin connection");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name))).execute(&mut conn).unwrap();
        diesel::sql_query(format!("CREATE DATABASE {}", ident(&name))).execute(&mut conn).unwrap();
        TestDb { name }
    }

    /// A fresh database with every migration applied.
    pub fn migrated(test: &str) -> TestDb {
        let test_db = TestDb::new(test);
        let mut conn = test_db.admin();
        crate::migrate::apply(&mut conn, crate::migrate::Wait::Wait, false, &mut |_| {}).expect("apply migrations");
        let key = tenancy_codegen::claim::ClaimKey::parse(CLAIM_KEY).expect("the test key");
        crate::claim_key::install(&mut conn, &key).expect("install the test claim key");
        test_db
    }

    pub fn admin_url(&self) -> String {
        let (user, password) = db::credentials(admin_url());
        db::with_login(admin_url(), &user, password.as_deref(), &self.name)
    }

    pub fn url_as(&self, user: &str, password: &str) -> String {
        db::with_login(admin_url(), user, Some(password), &self.name)
    }

    /// A superuser connection, for setting up fixtures only; never for isolation assertions.
    pub fn admin(&self) -> PgConnection {
        PgConnection::establish(&self.admin_url()).expect("admin connection to test database")
    }

    /// A connection as the app role (NOSUPERUSER, NOBYPASSRLS, not the owner of any table).
    pub fn app(&self) -> PgConnection {
        PgConnection::establish(&self.url_as(APP_ROLE, APP_PASSWORD)).expect("app role connection")
    }
}

#[derive(diesel::QueryableByName, Debug)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

#[derive(diesel::QueryableByName, Debug)]
pub struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub t: String,
}

pub fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

pub fn texts(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Text>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|t| t.t)
        .collect()
}

pub fn exec(conn: &mut PgConnection, sql: &str) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(sql).execute(conn)
}
