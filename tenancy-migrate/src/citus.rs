//! A local Citus cluster for `cargo xtask citus` and the tests: a coordinator and two workers
//! on 127.0.0.1, three throwaway clusters (`cluster.rs`) under one directory, each preloading
//! Citus. A database is made on every node (Citus does not propagate `CREATE DATABASE`), with
//! the extension, the node-to-node password (`pg_dist_authinfo`) and the workers added.

use crate::cluster::{Cluster, SUPERUSER_PASSWORD};
use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::path::{Path, PathBuf};
use tenancy_codegen::citus::Placement;
use tenancy_schema::Schema;

/// Server settings of every node: Citus preloaded; plain connections between the nodes
/// (libpq would look for client certificates in root's home when started through runuser);
/// prepared transactions for Citus' two-phase commits.
const SETTINGS: &[&str] =
    &["shared_preload_libraries=citus", "citus.node_conninfo=sslmode=disable", "max_prepared_transactions=100"];

/// The coordinator and its two workers.
#[derive(Debug, Clone)]
pub struct Citus {
    pub coordinator: Cluster,
    pub workers: [Cluster; 2],
}

/// Whether the Citus extension is installed into the local PostgreSQL.
pub fn installed() -> bool {
    let bin = crate::cluster::server_binaries().ok();
    let lib = bin.as_deref().and_then(Path::parent).map(|p| p.join("lib/citus.so"));
    lib.is_some_and(|lib| lib.is_file()) || Path::new("/usr/lib/postgresql/15/lib/citus.so").is_file()
}

const NOT_INSTALLED: &str = "Citus is not installed into the local PostgreSQL 15: install Citus 13 for PostgreSQL 15 from Citus's packages (https://docs.citusdata.com), or in this repository's CI environment run ../shared/citus/install.sh";

impl Citus {
    /// Starts (creating if needed) the three nodes under `dir`.
    pub fn ensure_running(dir: &Path) -> Result<Citus> {
        if !installed() {
            return Err(Error::Cluster(NOT_INSTALLED.to_owned()));
        }
        let node = |name: &str| Cluster::ensure_running_with(&dir.join(name), SETTINGS);
        Ok(Citus { coordinator: node("coordinator")?, workers: [node("worker1")?, node("worker2")?] })
    }

    /// The cluster under `dir` if it was ever started.
    pub fn existing(dir: &Path) -> Option<Citus> {
        let node = |name: &str| Cluster::existing(&dir.join(name));
        Some(Citus { coordinator: node("coordinator")?, workers: [node("worker1")?, node("worker2")?] })
    }

    pub fn stop(&self) -> Result<()> {
        for node in self.nodes() {
            node.stop()?;
        }
        Ok(())
    }

    /// Every node, the coordinator first.
    pub fn nodes(&self) -> impl Iterator<Item = &Cluster> {
        std::iter::once(&self.coordinator).chain(&self.workers)
    }

    /// A superuser URL of `database` on the coordinator: what applications and tenancy use.
    pub fn url(&self, database: &str) -> String {
        self.coordinator.url(database)
    }

    /// `database` on every node with Citus in it and the workers added to the coordinator.
    /// Idempotent.
    pub fn ensure_database(&self, database: &str) -> Result<()> {
        for node in self.nodes() {
            crate::db::create_database_if_missing(&node.url("postgres"), database)?;
            let mut conn = connect(&node.url(database))?;
            // Nodes connect to each other as the connecting role, with its password.
            exec(
                &mut conn,
                &format!(
                    "CREATE EXTENSION IF NOT EXISTS citus;
                     INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo)
                     VALUES (0, 'postgres', 'password={SUPERUSER_PASSWORD}') ON CONFLICT DO NOTHING;"
                ),
            )?;
        }
        let mut coordinator = connect(&self.url(database))?;
        exec(&mut coordinator, &format!("SELECT citus_set_coordinator_host('127.0.0.1', {})", self.coordinator.port))?;
        for worker in &self.workers {
            exec(
                &mut coordinator,
                &format!(
                    "SELECT citus_add_node('127.0.0.1', {port}) WHERE NOT EXISTS (SELECT FROM pg_dist_node WHERE nodeport = {port})",
                    port = worker.port
                ),
            )?;
        }
        Ok(())
    }

    /// Drops `database` on every node (workers too: Citus does not propagate it).
    pub fn drop_database(&self, database: &str) -> Result<()> {
        for node in self.nodes() {
            let mut conn = connect(&node.url("postgres"))?;
            exec(
                &mut conn,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", tenancy_codegen::sql::ident(database)),
            )?;
        }
        Ok(())
    }
}

/// The directory of `cargo xtask citus` under a project root.
pub fn dev_dir(root: &Path) -> PathBuf {
    root.join("target/tenancy/citus")
}

fn connect(url: &str) -> Result<PgConnection> {
    PgConnection::establish(url).map_err(|e| Error::Cluster(format!("cannot connect to a Citus node ({url}): {e}")))
}

fn exec(conn: &mut PgConnection, sql: &str) -> Result<()> {
    conn.batch_execute(sql).map_err(|e| Error::Cluster(format!("setting up Citus: {e}")))
}

/// Whether the database is a Citus coordinator (the extension is in it).
pub fn is_citus(conn: &mut PgConnection) -> Result<bool> {
    let rows = crate::scan::json_rows(
        conn,
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus",
        "checking for Citus",
    )?;
    Ok(rows.first().is_some_and(|row| row.contains("true")))
}

/// Where the declared tables already are on the cluster (`pg_dist_partition`).
pub fn placements(conn: &mut PgConnection, schema: &Schema) -> Result<tenancy_codegen::citus::Cluster> {
    Ok(facts(conn, schema)?.cluster)
}

/// The placements, with the query that read them and its rows (a scan finding's evidence).
pub struct Facts {
    pub cluster: tenancy_codegen::citus::Cluster,
    pub evidence: tenancy_schema::report::Evidence,
}

pub fn facts(conn: &mut PgConnection, schema: &Schema) -> Result<Facts> {
    let sql = format!(
        "SELECT CASE WHEN n.nspname = ANY (string_to_array({namespaces}, ',')) THEN c.relname ELSE n.nspname || '.' || c.relname END AS table,
                p.partmethod::text AS method, p.colocationid AS colocation,
                CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS column
           FROM pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
        namespaces = tenancy_codegen::sql::literal(&schema.schemas().join(","))
    );
    let mut cluster = tenancy_codegen::citus::Cluster::default();
    let rows = crate::scan::json_rows(conn, &sql, "reading where tables are on the Citus cluster")?;
    let result = if rows.is_empty() { "(no rows)".to_owned() } else { rows.join("\n") };
    for row in rows {
        let row: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
        let table = row["table"].as_str().unwrap_or_default().to_owned();
        let placement = match row["method"].as_str() {
            Some("n") => Placement::Reference,
            Some("h") => Placement::Distributed {
                column: row["column"].as_str().unwrap_or_default().to_owned(),
                colocation: row["colocation"].as_i64().unwrap_or_default() as i32,
            },
            _ => continue,
        };
        cluster.placed.push((table, placement));
    }
    Ok(Facts { cluster, evidence: tenancy_schema::report::Evidence { sql, result } })
}

/// Places the declared tables on the cluster (one transaction) and lets the app role's
/// queries reach the workers; returns the statements run (none when everything already was).
pub fn distribute(conn: &mut PgConnection, schema: &Schema, log: &mut dyn FnMut(&str)) -> Result<Vec<String>> {
    let catalog = crate::catalog::load(conn, &schema.schemas().join(","), &schema.settings.app_role)?;
    let cluster = placements(conn, schema)?;
    let steps = tenancy_codegen::citus::plan(schema, &catalog, &cluster)?;
    for note in &steps.notes {
        log(&format!("note: {note}"));
    }
    let texts: Vec<String> = steps.statements.iter().map(ToString::to_string).collect();
    if !texts.is_empty() {
        log(&format!("Citus: placing {} tables on the cluster", schema.tables.len()));
        conn.transaction::<_, Error, _>(|conn| {
            // Every schema of the declaration: the statements name tables unqualified.
            if let Some(path) = tenancy_codegen::sql::search_path(&schema.schemas()) {
                exec(conn, &format!("SET LOCAL search_path = {path}"))?;
            }
            for text in &texts {
                conn.batch_execute(text).map_err(|e| Error::MigrationFailed {
                    name: "citus placement".to_owned(),
                    reason: format!("{e} (in: {text})"),
                })?;
            }
            Ok(())
        })?;
    }
    app_role_on_workers(conn, &schema.settings.app_role, log)?;
    reference_writes(conn)?;
    Ok(texts)
}

/// A write to a reference table makes Citus lock the shards of the reference tables it points
/// at (`lock_shard_resources`), which it allows only to roles that may write those too: the
/// app role could not update its organization (it points at the read-only `plans`) nor add a
/// member. This database's sessions skip that check on every node (`ALTER DATABASE ... SET
/// citus.skip_advisory_lock_permission_checks`, superuser-only): what remains is that a
/// session can hold such a lock on a read-only reference table's shards for as long as its
/// transaction lasts (docs/threat-model.md). New sessions get it; cached connections between
/// the nodes keep what they had until they are replaced.
fn reference_writes(conn: &mut PgConnection) -> Result<()> {
    use tenancy_codegen::sql::literal;
    let database = crate::scan::json_rows(conn, "SELECT current_database() AS name", "reading the database's name")?;
    let name: serde_json::Value =
        serde_json::from_str(database.first().map_or("{}", String::as_str)).unwrap_or_default();
    let name = name["name"].as_str().unwrap_or_default();
    let alter = format!(
        "ALTER DATABASE {} SET citus.skip_advisory_lock_permission_checks = on",
        tenancy_codegen::sql::ident(name)
    );
    exec(conn, &format!("{alter}; SELECT run_command_on_workers({});", literal(&alter)))
}

/// Citus runs the app role's shard queries on the workers as the app role itself: it needs to
/// log in there, with a password the nodes know (`pg_dist_authinfo`, readable by superusers
/// only, one table per database). The role is cluster-wide and serves every database of the
/// cluster, so its password is the same for all of them: derived from the coordinator's
/// system identifier (readable by superusers and `pg_monitor` only) and the role's name, never
/// stored in the clear. On the coordinator the role stays as it was (NOLOGIN: applications
/// log in as their own role). Idempotent. A password for the role set some other way is not
/// detected: `ALTER ROLE <app> NOLOGIN` on the coordinator, then apply, sets it again.
pub fn app_role_on_workers(conn: &mut PgConnection, role: &str, log: &mut dyn FnMut(&str)) -> Result<()> {
    use tenancy_codegen::sql::{ident, literal};
    let password = crate::scan::json_rows(
        conn,
        &format!(
            "SELECT encode(sha256(convert_to(system_identifier::text || ':' || {} || ':tenancy worker login', 'UTF8')), 'hex') AS password FROM pg_control_system()",
            literal(role)
        ),
        "deriving the app role's worker password",
    )?
    .first()
    .and_then(|row| serde_json::from_str::<serde_json::Value>(row).ok())
    .and_then(|row| row["password"].as_str().map(str::to_owned))
    .ok_or_else(|| Error::Cluster("cannot read the coordinator's system identifier (pg_control_system)".to_owned()))?;
    let authinfo = format!(
        "INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, {}, {}) ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = excluded.authinfo",
        literal(role),
        literal(&format!("password={password}"))
    );
    exec(conn, &format!("{authinfo}; SELECT run_command_on_workers({});", literal(&authinfo)))?;
    // The role itself only while a worker refuses it a login (an `ALTER ROLE ... NOLOGIN` on
    // the coordinator reaches the workers too): a role is cluster-wide, and two databases'
    // applies altering it at once deadlock.
    let refused = crate::scan::json_rows(
        conn,
        &format!(
            "SELECT EXISTS (SELECT FROM run_command_on_workers({}) r WHERE NOT r.success OR r.result <> 't') AS refused",
            literal(&format!("SELECT rolcanlogin FROM pg_roles WHERE rolname = {}", literal(role)))
        ),
        "checking the app role on the workers",
    )?;
    if !refused.first().is_some_and(|row| row.contains("true")) {
        return Ok(());
    }
    log(&format!("Citus: the app role {role} may now log in on the workers (password in pg_dist_authinfo)"));
    let could_login = crate::scan::json_rows(
        conn,
        &format!("SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = {}", literal(role)),
        "reading the app role",
    )?
    .first()
    .is_some_and(|row| row.contains("true"));
    let mut sql = format!("ALTER ROLE {} LOGIN PASSWORD {};", ident(role), literal(&password));
    if !could_login {
        // Back to NOLOGIN on the coordinator only.
        sql.push_str(&format!(" SET LOCAL citus.enable_ddl_propagation = off; ALTER ROLE {} NOLOGIN;", ident(role)));
    }
    // Another database's apply may be setting it at the same moment, which PostgreSQL refuses
    // ("tuple concurrently updated", or a distributed deadlock): then again, shortly after.
    let mut attempt = 0;
    loop {
        match conn.transaction(|conn| conn.batch_execute(&sql)) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 && (e.to_string().contains("concurrently") || e.to_string().contains("deadlock")) => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
            }
            Err(e) => return Err(Error::Cluster(format!("letting the app role log in on the workers: {e}"))),
        }
    }
}

/// An organization moved to shards of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolated {
    /// The first tenant table (parents first), and its new shard: the other tenant tables'
    /// shards of the organization, colocated, moved with it.
    pub table: String,
    pub shard: i64,
    /// `host:port` of the worker that holds it.
    pub node: String,
    /// Tenant tables whose rows of the organization now live in shards of their own.
    pub tables: usize,
}

/// Moves one (large) organization to shards of its own, every tenant table at once
/// (`isolate_tenant_to_new_shard(..., 'CASCADE')`); with `rebalance`, then evens the shards
/// out over the workers (`citus_rebalance_start` and wait). Shards are copied with writes to
/// them blocked while each copies (`block_writes`: no logical replication needed).
pub fn isolate(conn: &mut PgConnection, schema: &Schema, org: &str, rebalance: bool) -> Result<Isolated> {
    use tenancy_codegen::sql::{ident, literal};
    // The distributed tenant tables (a shared table's link is a reference table: on every node).
    let tenants: Vec<&tenancy_schema::Table> = schema
        .tables_in_dependency_order()
        .into_iter()
        .filter(|t| {
            matches!(tenancy_codegen::citus::wanted(schema, t), tenancy_codegen::citus::Placement::Distributed { .. })
        })
        .collect();
    let Some(anchor) = tenants.first() else {
        return Err(Error::Cluster("the declaration has no tenant table to isolate an organization in".to_owned()));
    };
    let value = format!("{}::{}", literal(org), schema.settings.org_key.sql_name());
    let exists = crate::scan::json_rows(
        conn,
        &format!(
            "SELECT EXISTS (SELECT FROM {} WHERE {} = {value}) AS found",
            ident(&schema.root().name),
            ident(&schema.root().key().name)
        ),
        "looking the organization up",
    )?;
    if !exists.first().is_some_and(|r| r.contains("true")) {
        return Err(Error::Cluster(format!("no organization {org} in {}; nothing moved", schema.root().name)));
    }
    let sql = format!(
        "SELECT isolate_tenant_to_new_shard({}, {value}, 'CASCADE', shard_transfer_mode => 'block_writes') AS shard",
        literal(&ident(&anchor.name))
    );
    let row = crate::scan::json_rows(conn, &sql, "isolating the organization")?;
    let shard = row
        .first()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|r| r["shard"].as_i64())
        .ok_or_else(|| Error::Cluster("isolate_tenant_to_new_shard returned no shard".to_owned()))?;
    if rebalance {
        exec(
            conn,
            "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes'); SELECT citus_rebalance_wait();",
        )?;
    }
    let node = crate::scan::json_rows(
        conn,
        &format!("SELECT nodename || ':' || nodeport AS node FROM pg_dist_shard_placement WHERE shardid = {shard}"),
        "finding the new shard's worker",
    )?
    .first()
    .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
    .and_then(|r| r["node"].as_str().map(str::to_owned))
    .unwrap_or_default();
    Ok(Isolated { table: anchor.name.clone(), shard, node, tables: tenants.len() })
}
