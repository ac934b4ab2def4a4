//! Running one probe: a statement in its own savepoint, as the app role with a claim (or as the
//! connecting role), rolled back afterwards; what PostgreSQL answered, and the statements shown
//! as evidence exactly as they ran.

use crate::catalog::{JsonRow, as_json};
use diesel::connection::SimpleConnection;
use diesel::{PgConnection, RunQueryDsl};
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::report::Evidence;
use tenancy_schema::{Claim, Schema};

use super::Org;

/// What one statement did: rows (JSON text for queries, a count for writes) or the error.
pub enum Probe {
    Rows(Vec<String>),
    Affected(usize),
    Failed(String),
}

impl Probe {
    pub fn shown(&self) -> String {
        match self {
            Probe::Rows(rows) if rows.is_empty() => "(no rows)".to_owned(),
            Probe::Rows(rows) => rows.join("\n"),
            Probe::Affected(1) => "1 row".to_owned(),
            Probe::Affected(n) => format!("{n} rows"),
            Probe::Failed(error) => format!("ERROR: {error}"),
        }
    }
}

/// Who runs a probe.
#[derive(Clone, Copy)]
pub enum As<'a> {
    /// The app role with this claim value (`None`: never set; `Some("")`: empty).
    App(Option<&'a str>),
    /// The connecting role (bypasses row-level security).
    Owner,
}

pub struct Runner<'a> {
    pub schema: &'a Schema,
    pub orgs: [String; 2],
}

impl Runner<'_> {
    /// The SQL that sets the claim transaction-locally, as the application does.
    pub fn claim_sql(&self, value: &str) -> String {
        match &self.schema.settings.claim {
            Claim::Setting(name) => format!("SELECT set_config({}, {}, true)", literal(name), literal(value)),
            Claim::Postgrest => {
                let claims = if value.is_empty() {
                    String::new()
                } else {
                    format!("{{\"app_metadata\":{{\"org_id\":\"{value}\"}}}}")
                };
                format!("SELECT set_config('request.jwt.claims', {}, true)", literal(&claims))
            }
        }
    }

    /// Runs `sql` in a savepoint as `who`, then rolls the savepoint back.
    pub fn probe(&self, conn: &mut PgConnection, who: As<'_>, sql: &str, query: bool) -> (Evidence, Probe) {
        self.probe_after(conn, who, None, sql, query)
    }

    /// Like [`Runner::probe`], after `prelude` (a query returning a key `t`), whose key replaces
    /// `$key` in `sql`.
    pub fn probe_after(
        &self,
        conn: &mut PgConnection,
        who: As<'_>,
        prelude: Option<&str>,
        sql: &str,
        query: bool,
    ) -> (Evidence, Probe) {
        let mut setup = vec!["SAVEPOINT tenancy_verify".to_owned()];
        let mut shown = Vec::new();
        if let As::App(claim) = who {
            setup.push(format!("SET LOCAL ROLE {}", ident(&self.schema.settings.app_role)));
            shown.push(format!("SET LOCAL ROLE {};", ident(&self.schema.settings.app_role)));
            if let Some(value) = claim {
                let claim = self.claim_sql(value);
                setup.push(claim.clone());
                shown.push(format!("{claim};"));
            }
        }
        let mut sql = sql.to_owned();
        if let Some(prelude) = prelude {
            shown.push(format!("{prelude};"));
        }
        let result = (|| -> Result<Probe, diesel::result::Error> {
            for statement in &setup {
                conn.batch_execute(statement)?;
            }
            if let Some(prelude) = prelude {
                let key = diesel::sql_query(prelude).get_result::<Key>(conn)?;
                sql = sql.replace("$key", &literal(&key.t));
            }
            if query && sql.starts_with("INSERT") {
                // INSERT ... RETURNING key AS t: the keys of the rows it made.
                let rows = diesel::sql_query(&sql).load::<Key>(conn)?;
                Ok(Probe::Rows(rows.into_iter().map(|r| r.t).collect()))
            } else if query {
                let rows = diesel::sql_query(as_json(&sql)).load::<JsonRow>(conn)?;
                Ok(Probe::Rows(rows.into_iter().map(|r| r.row).collect()))
            } else {
                Ok(Probe::Affected(diesel::sql_query(&sql).execute(conn)?))
            }
        })();
        let probe = result.unwrap_or_else(|err| Probe::Failed(crate::error::first_line(&err.to_string())));
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_verify; RELEASE SAVEPOINT tenancy_verify");
        shown.push(format!("{sql};"));
        let evidence = Evidence { sql: shown.join("\n"), result: probe.shown() };
        (evidence, probe)
    }

    pub fn org_literal(&self, org: Org) -> String {
        format!("{}::uuid", literal(&self.orgs[org.index()]))
    }
}

#[derive(diesel::QueryableByName)]
pub struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub t: String,
}

/// Inserts a sample row in a savepoint (kept on success); returns its key or the error.
pub fn insert_sample(conn: &mut PgConnection, sql: &str) -> Result<String, String> {
    let result = (|| -> Result<String, diesel::result::Error> {
        conn.batch_execute("SAVEPOINT tenancy_sample")?;
        let key = diesel::sql_query(sql).get_result::<Key>(conn)?;
        conn.batch_execute("RELEASE SAVEPOINT tenancy_sample")?;
        Ok(key.t)
    })();
    result.map_err(|err| {
        let _ = conn.batch_execute("ROLLBACK TO SAVEPOINT tenancy_sample; RELEASE SAVEPOINT tenancy_sample");
        crate::error::first_line(&err.to_string())
    })
}

/// A number in the first row of a query probe (`{"own": 1, ...}`).
pub fn field(probe: &Probe, name: &str) -> Option<i64> {
    let Probe::Rows(rows) = probe else { return None };
    let row: serde_json::Value = serde_json::from_str(rows.first()?).ok()?;
    row.get(name)?.as_i64()
}
