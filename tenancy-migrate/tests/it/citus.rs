//! The same declaration on a real Citus cluster (coordinator + 2 workers on 127.0.0.1,
//! `testing::citus`): `apply` places every table, and isolation holds through the coordinator
//! as the app role — by hand, through the generated models, and by verify's whole matrix.

use crate::support::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// A migrated database on the cluster: the superuser URL on the coordinator and the app's URL.
pub fn migrated(test: &str) -> (String, String) {
    let (admin, app) = citus_database(test);
    let mut conn = PgConnection::establish(&admin).unwrap();
    let mut log = Vec::new();
    tenancy_migrate::migrate::apply(&mut conn, tenancy_migrate::migrate::Wait::Wait, false, &mut |l| {
        log.push(l.to_owned())
    })
    .unwrap_or_else(|e| panic!("apply on the coordinator: {e}"));
    let key = tenancy_codegen::claim::ClaimKey::parse(CLAIM_KEY).unwrap();
    tenancy_migrate::claim_key::install(&mut conn, &key).expect("install the test key");
    (admin, app)
}

fn rows(conn: &mut PgConnection, sql: &str) -> Vec<serde_json::Value> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    diesel::sql_query(format!("SELECT to_jsonb(x)::text AS row FROM ({sql}) x"))
        .load::<Row>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| serde_json::from_str(&r.row).unwrap())
        .collect()
}

#[test]
fn apply_places_every_table_and_a_second_apply_changes_nothing() {
    let (admin, _) = migrated("citus_place");
    let mut conn = PgConnection::establish(&admin).unwrap();
    let schema = tenancy_migrate::declaration::load(None).unwrap();
    let placed = rows(
        &mut conn,
        "SELECT logicalrelid::text AS t, partmethod::text AS m, colocationid AS g,
                column_to_column_name(logicalrelid, partkey) AS c FROM pg_dist_partition",
    );
    let by_table: BTreeMap<String, &serde_json::Value> =
        placed.iter().map(|r| (r["t"].as_str().unwrap().to_owned(), r)).collect();
    let tenants: Vec<&str> = schema.tables.iter().filter(|t| t.is_tenant()).map(|t| t.name.as_str()).collect();
    assert_eq!(tenants.len(), 24);
    let mut groups = std::collections::BTreeSet::new();
    // The link of the shared users is read by their policy on every node: a reference table.
    for table in tenants.iter().filter(|t| **t != "user_organizations") {
        let row = by_table.get(*table).unwrap_or_else(|| panic!("{table} is not on the cluster: {placed:#?}"));
        assert_eq!((row["m"].as_str(), row["c"].as_str()), (Some("h"), Some("org_id")), "{table}");
        groups.insert(row["g"].as_i64());
    }
    assert_eq!(by_table.get("user_organizations").and_then(|r| r["m"].as_str()), Some("n"));
    assert_eq!(groups.len(), 1, "one colocation group: {groups:?}");
    for table in ["organizations", "plans", "users", "admin_users", "tenancy_private.claim_keys"] {
        assert_eq!(by_table.get(table).and_then(|r| r["m"].as_str()), Some("n"), "{table} is a reference table");
    }
    // Shards on both workers.
    let nodes = rows(
        &mut conn,
        "SELECT DISTINCT nodeport FROM pg_dist_shard_placement WHERE shardid IN (SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'calls'::regclass)",
    );
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    // Idempotent: nothing left to place.
    let again = tenancy_migrate::citus::distribute(&mut conn, &schema, &mut |_| {}).unwrap();
    assert_eq!(again, Vec::<String>::new());
    // scan on the coordinator: no error.
    let report = tenancy_migrate::scan::scan(&mut conn, &schema, &Default::default()).unwrap();
    assert_eq!(scan_errors(&report), Vec::<String>::new());
}

#[test]
fn the_app_role_sees_its_own_rows_only_through_the_coordinator() {
    let (admin, app) = migrated("citus_isolation");
    let (a, b) = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b");
    let mut conn = PgConnection::establish(&admin).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES ('{a}', 'A', 'a'), ('{b}', 'B', 'b');
         INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-0000000000aa', 'a@x');
         INSERT INTO agents (org_id, id, user_id, name) VALUES
           ('{a}', 1, '00000000-0000-4000-8000-0000000000aa', 'ada'), ('{b}', 2, '00000000-0000-4000-8000-0000000000aa', 'bob');"
    ))
    .unwrap();
    let mut app = PgConnection::establish(&app).unwrap();
    let count = |conn: &mut PgConnection, claim: &str, sql: &str| -> Result<i64, String> {
        conn.transaction::<i64, diesel::result::Error, _>(|conn| {
            if !claim.is_empty() {
                conn.batch_execute(&claim_sql(claim))?;
            }
            let found = rows(conn, sql);
            Ok(found[0]["n"].as_i64().unwrap_or(-1))
        })
        .map_err(|e| e.to_string())
    };
    assert_eq!(count(&mut app, a, "SELECT count(*) AS n FROM agents"), Ok(1), "A sees its agent");
    assert_eq!(count(&mut app, a, &format!("SELECT count(*) AS n FROM agents WHERE org_id = '{b}'")), Ok(0));
    assert_eq!(count(&mut app, "", "SELECT count(*) AS n FROM agents"), Ok(0), "no claim, no rows");
    assert_eq!(count(&mut app, a, "SELECT count(*) AS n FROM organizations"), Ok(1));
    // A cross-organization insert is refused by the shard's policy on the worker.
    let insert = app.transaction::<(), diesel::result::Error, _>(|conn| {
        conn.batch_execute(&claim_sql(a))?;
        conn.batch_execute(&format!(
            "INSERT INTO agents (org_id, id, user_id, name) VALUES ('{b}', 3, '00000000-0000-4000-8000-0000000000aa', 'mallory')"
        ))
    });
    let message = insert.unwrap_err().to_string();
    assert!(message.contains("row-level security"), "{message}");
    // The immutability trigger runs on the shards.
    let moved = app.transaction::<(), diesel::result::Error, _>(|conn| {
        conn.batch_execute(&claim_sql(a))?;
        conn.batch_execute(&format!("UPDATE agents SET org_id = '{b}' WHERE id = 1"))
    });
    assert!(moved.is_err(), "moving a row between organizations is refused");
}

/// verify's whole matrix through the coordinator, as the app role: on Citus its sample rows are
/// committed for the run and deleted after it (a second role may not touch shards a first one
/// wrote in a transaction), every probe a transaction of its own. 0 leaked, 0 errors, nothing
/// left behind; then a sabotage on the shards (a policy opened on one table) is caught there.
#[test]
fn verify_attacks_the_cluster_through_the_coordinator() {
    let (admin, _) = migrated("citus_verify");
    let mut conn = PgConnection::establish(&admin).unwrap();
    let schema = tenancy_migrate::declaration::load(None).unwrap();
    let v = tenancy_migrate::verify::verify(&mut conn, &schema).unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(verify_failures(&v), Vec::<String>::new());
    assert_eq!(v.checksum_before, v.checksum_after, "verify left a trace on the cluster");
    assert!(tenancy_migrate::verify::passed(&v));
    assert!(v.notes.iter().any(|n| n.code == "citus_committed_samples"));
    // The core attacks ran (not skipped) on every tenant table.
    for table in v.tables.iter().filter(|t| schema.table(&t.table).is_some_and(|t| t.is_tenant())) {
        for attack in
            ["read_other_org", "insert_other_org", "update_other_org_unfiltered", "delete_other_org_unfiltered"]
        {
            let cell = table.cells.iter().find(|c| c.attack == attack).unwrap();
            assert_eq!(cell.outcome, tenancy_schema::report::Outcome::Blocked, "{} {attack}: {cell:?}", table.table);
        }
    }

    // Broken on the shards: an open SELECT policy (propagated by Citus) and an open WITH CHECK.
    conn.batch_execute(
        "CREATE POLICY appointments_read_any ON appointments FOR SELECT TO app_user USING (true);
         ALTER POLICY contacts_org_isolation ON contacts WITH CHECK (true);",
    )
    .unwrap();
    let v = tenancy_migrate::verify::verify(&mut conn, &schema).unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(!tenancy_migrate::verify::passed(&v));
    assert_eq!(v.checksum_before, v.checksum_after, "verify left a trace on the cluster");
    let red: Vec<String> = v
        .tables
        .iter()
        .flat_map(|t| t.cells.iter().filter(|c| c.failed()).map(move |c| format!("{} {}", t.table, c.attack)))
        .collect();
    for expected in ["appointments read_other_org", "contacts insert_other_org"] {
        assert!(red.iter().any(|r| r == expected), "{expected} must be red: {red:?}");
    }
    assert!(red.iter().all(|r| r.starts_with("appointments ") || r.starts_with("contacts ")), "{red:?}");
}

/// Per declared table: row count and a checksum of every row (the same on a single node and
/// on the cluster, where the rows come back from the shards).
fn checksums(conn: &mut PgConnection) -> BTreeMap<String, String> {
    let schema = tenancy_migrate::declaration::load(None).unwrap();
    schema
        .tables
        .iter()
        .map(|t| {
            let sql = format!(
                "SELECT count(*)::text || ':' || md5(coalesce(string_agg(h, ',' ORDER BY h), '')) AS sum FROM (SELECT md5(t::text) AS h FROM {} t) rows",
                tenancy_codegen::sql::ident(&t.name)
            );
            (t.name.clone(), rows(conn, &sql)[0]["sum"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Growing: the seeds' legacy application, converted on a single node (the coordinator before
/// Citus is in its database), then the extension and the workers added and `apply` run: every
/// table is placed, and every row of every table is still there, unchanged.
#[test]
fn a_populated_single_node_database_moves_onto_the_cluster_with_every_row() {
    use tenancy_migrate::convert::{self, run};
    let citus = citus();
    let name = "t_citus_grow";
    citus.drop_database(name).unwrap();
    tenancy_migrate::db::create_database_if_missing(&citus.coordinator.url("postgres"), name).unwrap();
    let mut conn = PgConnection::establish(&citus.url(name)).unwrap();
    conn.batch_execute(crate::convert::LEGACY_APP).unwrap();
    let declaration = tenancy_migrate::declaration::load(None).unwrap();
    let options = convert::Options {
        baseline: tenancy_migrate::migrate::versions().unwrap(),
        replace_access: true,
        ..convert::Options::default()
    };
    let plan = convert::plan_database(&mut conn, &declaration, "public", &options).unwrap();
    let dir = crate::support::plan_dir("citus_grow");
    convert::write(&plan, &options, &dir).unwrap();
    run::apply_dir(&mut conn, &dir, run::RunOptions::default(), &mut |_| {}).unwrap();
    let before = checksums(&mut conn);
    assert!(before["calls"].split(':').next().unwrap().parse::<u64>().unwrap() > 3000, "{before:?}");

    citus.ensure_database(name).unwrap();
    // plan --target citus: one step, each distribution with its lock and the rows it copies.
    let catalog = tenancy_migrate::catalog::load(&mut conn, "public", "app_user").unwrap();
    let cluster = tenancy_migrate::citus::placements(&mut conn, &declaration).unwrap();
    let placement = tenancy_codegen::citus::conversion(&declaration, &catalog, &cluster).unwrap();
    let dry_run = convert::render_dry_run(&placement, &options);
    assert!(dry_run.contains("create_distributed_table('\"calls\"', 'org_id'"), "{dry_run}");
    assert!(dry_run.contains("SHARE (writes wait while the rows are copied"), "{dry_run}");
    let dir = dir.with_file_name("citus_grow_placement");
    let _ = std::fs::remove_dir_all(&dir);
    convert::write(&placement, &options, &dir).unwrap();
    run::apply_dir(&mut conn, &dir, run::RunOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("placing the populated tables: {e}"));
    // Then apply has nothing left to place.
    let mut log = Vec::new();
    tenancy_migrate::migrate::apply(&mut conn, tenancy_migrate::migrate::Wait::Wait, false, &mut |l| {
        log.push(l.to_owned())
    })
    .unwrap();
    assert!(!log.iter().any(|l| l.contains("Citus: placing")), "{log:?}");
    // Every tenant table but the users' link (a reference table, read by their policy).
    let distributed = rows(&mut conn, "SELECT count(*) AS n FROM pg_dist_partition WHERE partmethod = 'h'");
    assert_eq!(distributed[0]["n"].as_i64(), Some(23));
    assert_eq!(checksums(&mut conn), before, "every row of every table, unchanged");
}

/// Through the generated models on the cluster: row-level security alone sends a query to
/// every shard; `*_of_org()` writes the organization out and Citus routes it to one.
#[test]
fn the_models_route_an_organizations_queries_to_one_shard() {
    use tenancy_migrate::models::{OrgContext, OrgId, VerifiedClaim};
    struct Verified(uuid::Uuid);
    impl VerifiedClaim for Verified {
        fn verified_org_id(&self) -> uuid::Uuid {
            self.0
        }
    }
    let (admin, app) = migrated("citus_router");
    let a = uuid::Uuid::from_u128(0xa);
    let mut conn = PgConnection::establish(&admin).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES ('{a}', 'A', 'a'), ('{b}', 'B', 'b');
         INSERT INTO users (id, email) VALUES ('{u}', 'a@x');
         INSERT INTO agents (org_id, id, user_id, name) VALUES ('{a}', 1, '{u}', 'ada'), ('{b}', 2, '{u}', 'bob');",
        b = uuid::Uuid::from_u128(0xb),
        u = uuid::Uuid::from_u128(0xaa)
    ))
    .unwrap();
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let tasks = |conn: &mut PgConnection, sql: &str| -> String {
        let plan = diesel::sql_query(format!("EXPLAIN (COSTS OFF) {sql}")).load::<Line>(conn).unwrap();
        plan.into_iter().map(|l| l.line).find(|l| l.contains("Task Count")).unwrap_or_default().trim().to_owned()
    };
    assert_eq!(tasks(&mut conn, "SELECT count(*) FROM agents"), "Task Count: 32");
    assert_eq!(tasks(&mut conn, &format!("SELECT count(*) FROM agents WHERE org_id = '{a}'")), "Task Count: 1");
    let context = OrgContext::from_claim(&Verified(a), &models_key());
    let mut app = PgConnection::establish(&app).unwrap();
    let (all, routed, sql) = context
        .transaction::<_, diesel::result::Error, _>(&mut app, |tx| {
            let all: i64 = tx.agents().count().get_result(tx.conn())?;
            let query = tx.agents_of_org().count();
            let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
            let routed: i64 = query.get_result(tx.conn())?;
            Ok((all, routed, sql))
        })
        .unwrap();
    assert_eq!((all, routed), (1, 1), "the same rows either way");
    assert!(sql.contains("\"org_id\" = $1"), "{sql}");
    let _ = OrgId::from_uuid(a);
}

/// A large organization moved to shards of its own (every tenant table, colocated), then the
/// shards evened out: its rows stay where its queries find them, the app role still sees only
/// its own, and an organization that does not exist is refused with nothing moved.
#[test]
fn a_large_organization_moves_to_shards_of_its_own() {
    let (admin, app) = migrated("citus_isolate");
    let (a, b) = (uuid::Uuid::from_u128(0xa), uuid::Uuid::from_u128(0xb));
    let mut conn = PgConnection::establish(&admin).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES ('{a}', 'A', 'a'), ('{b}', 'B', 'b');
         INSERT INTO users (id, email) VALUES ('{u}', 'a@x');
         INSERT INTO agents (org_id, user_id, name) SELECT '{a}', '{u}', 'a' || g FROM generate_series(1, 50) g;
         INSERT INTO agents (org_id, user_id, name) SELECT '{b}', '{u}', 'b' || g FROM generate_series(1, 5) g;",
        u = uuid::Uuid::from_u128(0xaa)
    ))
    .unwrap();
    let schema = tenancy_migrate::declaration::load(None).unwrap();
    let shards_before = rows(&mut conn, "SELECT count(*) AS n FROM pg_dist_shard")[0]["n"].as_i64().unwrap();
    let missing = tenancy_migrate::citus::isolate(&mut conn, &schema, &uuid::Uuid::from_u128(0xc).to_string(), false);
    assert!(missing.unwrap_err().to_string().contains("no organization"));
    let isolated = tenancy_migrate::citus::isolate(&mut conn, &schema, &a.to_string(), true).unwrap();
    // Its shard holds one hash value: A's alone.
    let shard = rows(
        &mut conn,
        &format!("SELECT shardminvalue = shardmaxvalue AS alone FROM pg_dist_shard WHERE shardid = {}", isolated.shard),
    );
    assert_eq!(shard[0]["alone"].as_bool(), Some(true), "{isolated:?}");
    let routed = rows(
        &mut conn,
        &format!("SELECT get_shard_id_for_distribution_column('{}', '{a}'::uuid) AS s", isolated.table),
    );
    assert_eq!(routed[0]["s"].as_i64(), Some(isolated.shard));
    assert!(rows(&mut conn, "SELECT count(*) AS n FROM pg_dist_shard")[0]["n"].as_i64().unwrap() > shards_before);
    // Every row still there, and isolation as before.
    assert_eq!(rows(&mut conn, "SELECT count(*) AS n FROM agents")[0]["n"].as_i64(), Some(55));
    let mut app = PgConnection::establish(&app).unwrap();
    let seen = app
        .transaction::<i64, diesel::result::Error, _>(|conn| {
            conn.batch_execute(&claim_sql(&a.to_string()))?;
            Ok(rows(conn, "SELECT count(*) AS n FROM agents")[0]["n"].as_i64().unwrap())
        })
        .unwrap();
    assert_eq!(seen, 50);
}
