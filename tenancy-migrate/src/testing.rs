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

/// `SET LOCAL <claim setting> = '<token for org>'`: what the org-scoped API runs, for tests
/// that set the claim by hand. The token is signed with the test key, valid an hour.
pub fn claim_sql(org: &str) -> String {
    format!("SET LOCAL {} = {}", tenancy_schema::ir::SIGNED_CLAIM_SETTING, literal(&claim_token(org)))
}

/// A token for `org` signed with the test key, valid an hour (empty for an empty org).
pub fn claim_token(org: &str) -> String {
    let key = tenancy_codegen::claim::ClaimKey::parse(CLAIM_KEY).expect("the test key");
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 3600;
    if org.is_empty() { String::new() } else { key.token(org, expires) }
}

/// Password of the application's login role in tests (never a superuser).
pub const APP_PASSWORD: &str = "app-test-password";
pub const APP_ROLE: &str = "app_user";
/// The role the application logs in as: a member of the app role, switched to it at login.
pub const APP_LOGIN: &str = "app_login";

/// The Citus cluster of the tests (coordinator + 2 workers under target/tenancy/test-citus),
/// with the app role and the application's login role made on the coordinator (Citus passes
/// roles on to the workers).
pub fn citus() -> &'static crate::citus::Citus {
    static CITUS: OnceLock<crate::citus::Citus> = OnceLock::new();
    CITUS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tenancy/test-citus");
        let citus =
            crate::citus::Citus::ensure_running(&dir).unwrap_or_else(|e| panic!("starting the Citus cluster: {e}"));
        // The roles on every node: a session's `SET LOCAL ROLE` reaches the workers (verify's
        // fresh logins switch through the login role), and roles made in a database without
        // the extension are not propagated.
        for worker in &citus.workers {
            roles(&mut PgConnection::establish(&worker.url("postgres")).expect("worker connection"));
        }
        let mut conn = PgConnection::establish(&citus.url("postgres")).expect("coordinator connection");
        roles(&mut conn);
        // The app role's login on the workers, once, before tests place their tables at the
        // same time (two concurrent ALTER ROLEs of one role fail: "tuple concurrently updated").
        citus.ensure_database("t_citus_setup").expect("the setup database");
        let mut setup = PgConnection::establish(&citus.url("t_citus_setup")).expect("setup connection");
        crate::citus::app_role_on_workers(&mut setup, APP_ROLE, &mut |_| {}).expect("the app role on the workers");
        citus
    })
}

/// A fresh database on every node of the Citus cluster, with the extension and the workers.
pub fn citus_database(test: &str) -> (String, String) {
    let name = format!("t_{test}");
    let citus = citus();
    // Adding the workers to a new database makes Citus copy the coordinator's roles onto them,
    // the app role's NOLOGIN included: its worker login is given back at once, one database at a
    // time, for the tests running meanwhile as the app role (they failed with "role app_user is
    // not permitted to log in" when this happened mid-query).
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    citus.drop_database(&name).expect("drop the test database");
    citus.ensure_database(&name).expect("the test database on every node");
    let mut conn = PgConnection::establish(&citus.url(&name)).expect("coordinator connection");
    crate::citus::app_role_on_workers(&mut conn, APP_ROLE, &mut |_| {}).expect("the app role on the workers");
    (citus.url(&name), db::with_login(&citus.url(&name), APP_LOGIN, Some(APP_PASSWORD), &name))
}

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
        let mut conn = PgConnection::establish(&url).expect("admin connection");
        roles(&mut conn);
        url
    })
}

/// The app role and the application's login role (cluster-wide: made once, before tests race
/// to make them).
fn roles(conn: &mut PgConnection) {
    {
        let create = tenancy_codegen::ddl::Ddl::EnsureAppRole { role: APP_ROLE.to_owned() };
        diesel::sql_query(create.to_string()).execute(conn).expect("create app role");
        // As deployed (docs/threat-model.md): the app role has no login; the application logs in
        // as a separate role whose login default switches to it, so SQL running as the app
        // role cannot change the defaults of the sessions the application opens.
        let login = format!(
            "ALTER ROLE {app} NOLOGIN;
             DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {login_name}) THEN
               CREATE ROLE {login} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS; END IF; END $$;
             ALTER ROLE {login} PASSWORD {password};
             GRANT {app} TO {login};
             ALTER ROLE {login} SET role = {app_name}",
            app = ident(APP_ROLE),
            login = ident(APP_LOGIN),
            login_name = literal(APP_LOGIN),
            app_name = literal(APP_ROLE),
            password = literal(APP_PASSWORD),
        );
        diesel::connection::SimpleConnection::batch_execute(conn, &login).expect("the application's login role");
    }
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

    /// The URL the application uses: its login role, which becomes the app role at login.
    pub fn app_url(&self) -> String {
        self.url_as(APP_LOGIN, APP_PASSWORD)
    }

    /// A connection as the app role (NOSUPERUSER, NOBYPASSRLS, not the owner of any table),
    /// through the application's login role.
    pub fn app(&self) -> PgConnection {
        PgConnection::establish(&self.app_url()).expect("app role connection")
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
