//! verify on real databases: the migrated workspace database passes every attack, and each
//! sabotage turns it red on the right table and attack; bad input is one clear line.

use crate::support::{TestDb, exec};
use diesel::connection::SimpleConnection;
use std::process::Command;
use tenancy_migrate::verify::{self, Attack};
use tenancy_schema::Schema;
use tenancy_schema::report::{Outcome, Verification};

fn declaration() -> Schema {
    tenancy_migrate::declaration::load(None).unwrap()
}

fn run(db: &TestDb, schema: &Schema) -> Verification {
    verify::verify(&mut db.admin(), schema).unwrap_or_else(|e| panic!("verify: {e}"))
}

fn outcome(v: &Verification, table: &str, attack: &str) -> Outcome {
    let row = v.tables.iter().find(|t| t.table == table).unwrap_or_else(|| panic!("no row for {table}"));
    row.cells.iter().find(|c| c.attack == attack).unwrap_or_else(|| panic!("no cell {table} {attack}: {row:?}")).outcome
}

/// The cells that failed, as `table attack outcome`.
fn failures(v: &Verification) -> Vec<String> {
    v.tables
        .iter()
        .flat_map(|t| {
            t.cells.iter().filter(|c| c.failed()).map(move |c| format!("{} {} {:?}", t.table, c.attack, c.outcome))
        })
        .collect()
}

#[test]
fn the_migrated_database_blocks_every_attack_and_allows_same_org_work() {
    let db = TestDb::migrated("verify_clean");
    let schema = declaration();
    let v = run(&db, &schema);
    assert_eq!(failures(&v), Vec::<String>::new());
    assert!(verify::passed(&v));
    assert_eq!(v.tables.len(), schema.tables.len(), "every table: root, tenant, shared and global");
    assert!(v.tables.iter().all(|t| t.skipped.is_none()));
    assert_eq!(v.counts.leaked + v.counts.error, 0);
    // Every tenant table ran every attack that applies to it, expected outcome reached; taking
    // an exclusive lock comes with the write privilege (info, never a pass in disguise).
    for table in v.tables.iter().filter(|t| schema.table(&t.table).unwrap().is_tenant()) {
        assert_eq!(table.cells.len(), Attack::ALL.len());
        for cell in &table.cells {
            match cell.outcome {
                Outcome::Skipped => {
                    assert!(
                        ["reference_other_org", "read_children", "write_shared", "link_shared"]
                            .contains(&cell.attack.as_str()),
                        "{} {cell:?}",
                        table.table
                    )
                }
                Outcome::Info => assert_eq!(cell.attack, "lock_table", "{} {cell:?}", table.table),
                outcome => assert_eq!(outcome, cell.expected, "{} {cell:?}", table.table),
            }
        }
    }
    // Shared users: A sees its member, never B's; no writes; no lock. Global plans: read-only.
    assert_eq!(outcome(&v, "users", "read_own"), Outcome::Allowed);
    // Whoever writes the link sees the person: by design, and said so.
    assert_eq!(outcome(&v, "users", "link_shared"), Outcome::Info);
    for attack in [
        "read_other_org",
        "read_missing_claim",
        "update_other_org_unfiltered",
        "delete_other_org_unfiltered",
        "write_shared",
        "truncate",
        "lock_table",
    ] {
        assert_eq!(outcome(&v, "users", attack), Outcome::Blocked, "users {attack}");
    }
    for attack in ["write_shared", "truncate", "lock_table", "trigger_privilege", "references_privilege"] {
        assert_eq!(outcome(&v, "plans", attack), Outcome::Blocked, "plans {attack}");
    }
    assert_eq!(outcome(&v, "plans", "read_other_org"), Outcome::Skipped);
    // The organizations table's global slug: an existence oracle by design, reported as info.
    assert_eq!(outcome(&v, "organizations", "unique_other_org"), Outcome::Info);
    // What A can infer without reading a row: reported as info, each backed by its statement.
    for attack in ["table_statistics", "explain_counts", "identity_keys", "backend_activity", "backend_signal"] {
        let cell = &v.objects.iter().find(|o| o.cell.attack == attack).unwrap_or_else(|| panic!("no {attack}")).cell;
        assert_eq!(cell.outcome, Outcome::Info, "{cell:?}");
        assert!(!cell.evidence.sql.is_empty());
    }
    let explain = &v.objects.iter().find(|o| o.cell.attack == "explain_counts").unwrap().cell;
    assert!(explain.evidence.result.contains("Rows Removed by Filter: "), "{explain:?}");
    // The verdicts are backed by what PostgreSQL said, not by the absence of an answer.
    let contacts = v.tables.iter().find(|t| t.table == "contacts").unwrap();
    let cell = |attack: &str| contacts.cells.iter().find(|c| c.attack == attack).unwrap();
    assert!(
        cell("insert_other_org").evidence.result.contains("violates row-level security policy"),
        "{:?}",
        cell("insert_other_org")
    );
    assert!(cell("move_bypassing_rls").evidence.result.contains("org_id of a row in public.contacts cannot change"));
    assert!(
        cell("update_other_org")
            .evidence
            .result
            .starts_with("0 rows\nB's rows of contacts: 1 row before, 1 row after (unchanged")
    );
    assert!(
        cell("update_own")
            .evidence
            .result
            .starts_with("1 row\nA's rows of contacts: 1 row before, 1 row after (CHANGED")
    );
    // Plain writes are judged by what changed, not by what they returned.
    assert!(cell("update_other_org_unfiltered").evidence.sql.contains("UPDATE \"contacts\" SET"));
    assert!(!cell("update_other_org_unfiltered").evidence.sql.contains("WHERE"));
    assert!(!cell("insert_other_org").evidence.sql.contains("RETURNING"));
    // The database around the tables: public (no CREATE), no roles to become, no views.
    assert!(
        v.objects.iter().any(|o| o.object == "schema public" && o.cell.outcome == Outcome::Blocked),
        "{:?}",
        v.objects
    );
    assert!(v.objects.iter().all(|o| !o.cell.failed()), "{:?}", v.objects);
    // What 0 leaked does not cover is said, with the statement that showed it.
    // The claim is signed: SQL rewriting it gets nothing (no "forgeable" note, every forgery blocked).
    assert!(v.notes.iter().all(|n| n.code != "claim_forgeable"), "{:?}", v.notes);
    let forgeries: Vec<_> = v.objects.iter().filter(|o| o.cell.attack.starts_with("claim_")).collect();
    assert_eq!(forgeries.len(), 6, "{forgeries:?}");
    assert!(forgeries.iter().all(|o| o.cell.outcome == Outcome::Blocked), "{forgeries:?}");
    assert!(cell("read_own").evidence.result.contains("\"other\": 0"));
    let calls = v.tables.iter().find(|t| t.table == "calls").unwrap();
    let oracle = calls.cells.iter().find(|c| c.attack == "reference_other_org").unwrap();
    assert!(oracle.evidence.result.contains("violates foreign key constraint"), "{oracle:?}");
    // Nothing stayed behind.
    assert_eq!(v.checksum_before, v.checksum_after);
    assert_eq!(crate::support::count(&mut db.admin(), "SELECT count(*) AS n FROM organizations"), 0);
}

/// Breaks the migrated database with `sabotage`, then expects `table`'s `attack` to be `outcome`.
fn sabotage(test: &str, sabotage: &str, table: &str, attack: &str, expected: Outcome) -> Verification {
    let db = TestDb::migrated(test);
    db.admin().batch_execute(sabotage).unwrap_or_else(|e| panic!("{sabotage}: {e}"));
    let v = run(&db, &declaration());
    assert_eq!(outcome(&v, table, attack), expected, "{test}: {:#?}", failures(&v));
    assert!(!verify::passed(&v), "{test} must fail verify");
    assert_eq!(v.checksum_before, v.checksum_after, "{test}: verify left a trace");
    v
}

#[test]
fn a_dropped_policy_turns_same_org_work_red() {
    let v = sabotage(
        "verify_no_policy",
        "DROP POLICY contacts_org_isolation ON contacts",
        "contacts",
        "read_own",
        Outcome::Error,
    );
    assert_eq!(outcome(&v, "contacts", "insert_own"), Outcome::Error);
    assert!(failures(&v).iter().all(|f| f.starts_with("contacts ")), "{:?}", failures(&v));
}

#[test]
fn force_off_with_the_app_role_owning_the_table_leaks() {
    sabotage(
        "verify_owner",
        "ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY; ALTER TABLE contacts OWNER TO app_user",
        "contacts",
        "read_other_org",
        Outcome::Leaked,
    );
}

#[test]
fn an_always_true_policy_leaks() {
    let v = sabotage(
        "verify_always_true",
        "CREATE POLICY open_door ON contacts TO app_user USING (true) WITH CHECK (true)",
        "contacts",
        "read_other_org",
        Outcome::Leaked,
    );
    assert_eq!(outcome(&v, "contacts", "insert_other_org"), Outcome::Leaked);
    assert_eq!(outcome(&v, "contacts", "read_missing_claim"), Outcome::Leaked);
}

#[test]
fn a_dropped_trigger_lets_a_row_move_between_organizations() {
    sabotage(
        "verify_no_trigger",
        "DROP TRIGGER tenancy_org_id_immutable ON contacts",
        "contacts",
        "move_bypassing_rls",
        Outcome::Leaked,
    );
}

#[test]
fn a_plain_foreign_key_is_an_existence_oracle() {
    sabotage(
        "verify_plain_fk",
        "CREATE UNIQUE INDEX agents_id_only ON agents (id);
         ALTER TABLE calls DROP CONSTRAINT calls_agent_id_fkey;
         ALTER TABLE calls ADD CONSTRAINT calls_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id);",
        "calls",
        "reference_other_org",
        Outcome::Leaked,
    );
}

#[test]
fn auth_org_id_without_nullif_errors_on_an_empty_claim() {
    let v = sabotage(
        "verify_no_nullif",
        "CREATE OR REPLACE FUNCTION auth_org_id() RETURNS uuid LANGUAGE sql STABLE
           SET search_path = pg_catalog, pg_temp AS $$ SELECT current_setting('app.org_token', true)::uuid $$",
        "contacts",
        "read_empty_claim",
        Outcome::Error,
    );
    let contacts = v.tables.iter().find(|t| t.table == "contacts").unwrap();
    let cell = contacts.cells.iter().find(|c| c.attack == "read_empty_claim").unwrap();
    assert!(cell.evidence.result.contains("invalid input syntax for type uuid"), "{cell:?}");
}

#[test]
fn an_app_role_with_bypassrls_leaks_everywhere() {
    // The role is cluster-wide: a role of this test's own, with the app role's privileges.
    let db = TestDb::migrated("verify_bypassrls");
    let mut admin = db.admin();
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_bypass') THEN
               CREATE ROLE tenancy_test_bypass NOLOGIN BYPASSRLS INHERIT; END IF; END $$;
             GRANT app_user TO tenancy_test_bypass;",
        )
        .unwrap();
    let mut schema = declaration();
    schema.settings.app_role = "tenancy_test_bypass".to_owned();
    let v = run(&db, &schema);
    assert_eq!(outcome(&v, "contacts", "read_other_org"), Outcome::Leaked);
    assert_eq!(outcome(&v, "calls", "read_missing_claim"), Outcome::Leaked);
    assert!(!verify::passed(&v));
}

fn binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tenancy-migrate")).args(args).env_remove("DATABASE_URL").output().unwrap()
}

#[test]
fn the_binary_exits_1_on_a_leak_and_writes_the_matrix_into_the_report() {
    let db = TestDb::migrated("verify_cli");
    let url = db.admin_url();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify_cli.json");
    let output = binary(&["verify", "--database-url", &url, "--format", "json", "-o", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    // The documented JSON Schema accepts it, and is not a rubber stamp for the new section.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/report.schema.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut wrong = json.clone();
    wrong["verify"]["tables"][1]["cells"][0]["outcome"] = "fine".into();
    assert!(!validator.is_valid(&wrong));
    let report = tenancy_schema::report::Report::from_json(&text).unwrap();
    let v = report.verify.expect("a verify section");
    assert_eq!(v.counts.leaked, 0);
    assert!(report.summary.declared_tables > 0, "the scan's findings and summary come with it");

    exec(&mut db.admin(), "CREATE POLICY open_door ON leads TO app_user USING (true)").unwrap();
    let output = binary(&["verify", "--database-url", &url]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("leads read_other_org: expected Blocked, got Leaked"), "{stdout}");
    assert!(stdout.contains("(no trace)"), "{stdout}");
}

#[test]
fn bad_input_is_one_clear_line_or_a_skipped_table() {
    // No app role: a declaration naming one that does not exist.
    let db = TestDb::migrated("verify_bad");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify_bad_declaration");
    std::fs::create_dir_all(&dir).unwrap();
    let own =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tenancy-schema/schema/tenancy.rs")).unwrap();
    std::fs::write(dir.join("tenancy.rs"), own.replace("app_role = \"app_user\"", "app_role = \"nobody_here\""))
        .unwrap();
    let output = binary(&["verify", "--database-url", &db.admin_url(), "--declaration", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot verify: app role nobody_here does not exist"), "{stderr}");

    // Connected as the app role itself: it is subject to RLS and cannot make the sample rows.
    let output = binary(&["verify", "--database-url", &db.app_url()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the connecting role is subject to row-level security"), "{stderr}");

    // Unreachable.
    let output = binary(&["verify", "--database-url", "postgres://nobody@127.0.0.1:1/none"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach PostgreSQL"));

    // The app role lacks a grant: its own inserts fail, reported in the matrix with the reason.
    exec(&mut db.admin(), "REVOKE INSERT ON leads FROM app_user").unwrap();
    let v = run(&db, &declaration());
    assert_eq!(outcome(&v, "leads", "insert_own"), Outcome::Error);
    let cell =
        v.tables.iter().find(|t| t.table == "leads").unwrap().cells.iter().find(|c| c.attack == "insert_own").unwrap();
    assert!(cell.evidence.result.contains("permission denied for table leads"), "{cell:?}");
    exec(&mut db.admin(), "GRANT INSERT ON leads TO app_user").unwrap();

    // A table whose sample row cannot be made: skipped with the database's reason, not a crash.
    exec(&mut db.admin(), "ALTER TABLE products ADD CONSTRAINT ean_is_digits CHECK (ean ~ '^[0-9]+$')").unwrap();
    let v = run(&db, &declaration());
    let products = v.tables.iter().find(|t| t.table == "products").unwrap();
    let reason = products.skipped.as_deref().unwrap_or_default();
    assert!(reason.contains("violates check constraint \"ean_is_digits\""), "{reason}");
    // Its child needs a product: skipped too, saying why.
    let sellout = v.tables.iter().find(|t| t.table == "sellout_entries").unwrap();
    assert!(sellout.skipped.as_deref().unwrap_or_default().contains("needs a row of products"), "{sellout:?}");
    assert!(!verify::passed(&v), "an unproven table is not a pass");
    assert_eq!(failures(&v), Vec::<String>::new(), "the other tables still pass");
}

/// `pg_dump` of the whole database (schema, data, sequences), without its random `\restrict` lines.
fn dump(db: &TestDb) -> String {
    let bin = tenancy_migrate::cluster::server_binaries().unwrap();
    let output = Command::new(bin.join("pg_dump")).arg(db.admin_url()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn verify_leaves_pg_dump_unchanged_sequences_included() {
    let db = TestDb::migrated("verify_pg_dump");
    // Data in every table, so that sequences have moved before and any nextval would show.
    db.admin()
        .batch_execute(
            "INSERT INTO organizations (id, name, slug) VALUES ('00000000-0000-4000-8000-0000000000aa', 'Acme', 'acme');
             INSERT INTO plans (name, monthly_price_cents) VALUES ('basic', 900);",
        )
        .unwrap();
    let before = dump(&db);
    let v = run(&db, &declaration());
    assert!(verify::passed(&v), "{:?}", failures(&v));
    assert_eq!(v.counts.leaked + v.counts.error, 0);
    let after = dump(&db);
    assert!(before == after, "pg_dump changed:\n{}", diff(&before, &after));
}

fn diff(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    a.iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .take(10)
        .map(|(x, y)| format!("- {x}\n+ {y}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// With an unsigned claim (the workspace's first migration, and its declaration), verify says what "0 leaked"
/// does not cover: SQL as the app role sets the claim to B's id and reads B's rows.
#[test]
fn an_unsigned_claim_is_noted_as_forgeable() {
    let db = TestDb::migrated("verify_unsigned_claim");
    let mut admin = db.admin();
    // Back to 0001_initial: revert every later migration.
    let later = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations")).unwrap().count() - 1;
    for _ in 0..later {
        tenancy_migrate::migrate::revert(&mut admin, false, tenancy_migrate::migrate::Wait::Wait, false, &mut |_| {})
            .unwrap();
    }
    let schema = tenancy_codegen::parse_snapshot(include_str!("../../../migrations/0001_initial/schema.json")).unwrap();
    assert_eq!(schema.settings.claim, tenancy_schema::Claim::Setting("app.org_id".to_owned()));
    let v = run(&db, &schema);
    assert_eq!(failures(&v), Vec::<String>::new());
    let forge = v.notes.iter().find(|n| n.code == "claim_forgeable").expect("the unsigned claim is noted");
    assert!(forge.evidence.result.contains("\"seen\": 1"), "{forge:?}");
    assert!(v.objects.iter().all(|o| !o.cell.attack.starts_with("claim_")));
}

/// The application's fresh sessions: as deployed (a login role that switches to the app role)
/// nothing is visible and A cannot change the login's defaults. A login default that plants an
/// organization's claim is caught (fresh_login), as is an application that logs in as the app
/// role itself (login_defaults: A can then change every future session's defaults).
#[test]
fn fresh_logins_carry_no_claim_and_their_defaults_are_out_of_reach() {
    let db = TestDb::migrated("verify_fresh_login");
    let schema = declaration();
    let v = run(&db, &schema);
    let cell = |v: &Verification, object: &str, attack: &str| {
        v.objects
            .iter()
            .find(|o| o.object == object && o.cell.attack == attack)
            .unwrap_or_else(|| {
                panic!("no {attack} on {object}: {:?}", v.objects.iter().map(|o| &o.object).collect::<Vec<_>>())
            })
            .cell
            .clone()
    };
    let fresh = cell(&v, "login app_login", "fresh_login");
    assert_eq!(fresh.outcome, Outcome::Blocked, "{fresh:?}");
    assert!(fresh.evidence.result.contains("\"runs_as\": \"app_user\""), "the login default switches roles: {fresh:?}");
    assert_eq!(cell(&v, "login app_login", "login_defaults").outcome, Outcome::Blocked);
    // The same through a real new connection with the application's own URL.
    let mut real = v.clone();
    verify::add_real_login(&mut real, &db.app_url(), &schema);
    let login = &real.objects.last().unwrap().cell;
    assert_eq!(login.outcome, Outcome::Blocked, "{login:?}");
    assert!(login.evidence.result.contains("\"runs_as\": \"app_user\""), "{login:?}");
    assert!(login.evidence.result.contains("\"logs_in_as\": \"app_login\""), "{login:?}");
    assert!(!login.evidence.sql.contains(crate::support::APP_PASSWORD), "the password is redacted");
    assert!(verify::passed(&real));

    // A login default naming a real organization (a valid token): every new session reads it.
    let org = "00000000-0000-4000-8000-00000000f00d";
    let mut admin = db.admin();
    admin
        .batch_execute(&format!(
            "INSERT INTO organizations (id, name, slug) VALUES ('{org}', 'planted', 'planted');
             ALTER ROLE app_login IN DATABASE {} SET app.org_token = '{}'",
            db.name,
            crate::support::claim_token(org)
        ))
        .unwrap();
    let v = run(&db, &schema);
    let fresh = cell(&v, "login app_login", "fresh_login");
    assert_eq!(fresh.outcome, Outcome::Leaked, "{fresh:?}");
    assert!(fresh.evidence.result.contains("a login default sets the claim"), "{fresh:?}");
    assert!(!verify::passed(&v));
    // A real login gets the planted claim from the server, and sees that organization's row.
    let mut real = v.clone();
    verify::add_real_login(&mut real, &db.app_url(), &schema);
    let login = &real.objects.last().unwrap().cell;
    assert_eq!(login.outcome, Outcome::Leaked, "{login:?}");
    assert!(login.evidence.result.contains("\"claim_set\": true"), "{login:?}");
    assert!(login.evidence.result.contains("\"visible\": 1"), "{login:?}");
    admin.batch_execute(&format!("ALTER ROLE app_login IN DATABASE {} RESET app.org_token", db.name)).unwrap();

    // An application that logs in as its app role itself (a role of this test's own, declared
    // as the app role; not a member of app_user, so other tests' runs never meet it): A can
    // plant defaults in every future session.
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'verify_direct_app') THEN
               CREATE ROLE verify_direct_app LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$;
             REVOKE app_user FROM verify_direct_app",
        )
        .unwrap();
    let mut direct = schema.clone();
    direct.settings.app_role = "verify_direct_app".to_owned();
    let v = run(&db, &direct);
    let alter = cell(&v, "login verify_direct_app", "login_defaults");
    assert_eq!(alter.outcome, Outcome::Leaked, "{alter:?}");
    assert!(!verify::passed(&v));
}
