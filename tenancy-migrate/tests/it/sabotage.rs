//! The sabotage suite: the migrated workspace database, broken one way at a time, must turn
//! verify red on exactly the sabotaged table (or object) and attack — nowhere else — and verify
//! must leave no trace. Each case is a hole someone has shipped: write policies weaker than
//! their reads, per-command open policies, privileges row-level security does not govern, roles
//! to hide behind, objects that read tables with their owner's rights, children without policies.

use crate::support::TestDb;
use diesel::connection::SimpleConnection;
use std::collections::BTreeSet;
use tenancy_migrate::verify;
use tenancy_schema::report::Verification;

/// Every red cell, as `subject attack` (a table's name, or an object like `schema public`).
fn red(v: &Verification) -> BTreeSet<String> {
    let tables = v
        .tables
        .iter()
        .flat_map(|t| t.cells.iter().filter(|c| c.failed()).map(move |c| format!("{} {}", t.table, c.attack)));
    let objects = v.objects.iter().filter(|o| o.cell.failed()).map(|o| format!("{} {}", o.object, o.cell.attack));
    tables.chain(objects).collect()
}

fn verify_after(test: &str, sabotage: &str, app_role: Option<&str>) -> Verification {
    let db = TestDb::migrated(test);
    db.admin().batch_execute(sabotage).unwrap_or_else(|e| panic!("{sabotage}: {e}"));
    let mut schema = tenancy_migrate::declaration::load(None).unwrap();
    if let Some(role) = app_role {
        schema.settings.app_role = role.to_owned();
    }
    let v = verify::verify(&mut db.admin(), &schema).unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(v.checksum_before, v.checksum_after, "{test}: verify left a trace");
    assert!(!verify::passed(&v), "{test} must fail verify");
    v
}

macro_rules! sabotage {
    ($name:ident, $sql:expr, [$($red:expr),+ $(,)?]) => {
        sabotage!($name, $sql, None, [$($red),+]);
    };
    ($name:ident, $sql:expr, $role:expr, [$($red:expr),+ $(,)?]) => {
        #[test]
        fn $name() {
            let v = verify_after(concat!("sabotage_", stringify!($name)), $sql, $role);
            let expected: BTreeSet<String> = [$($red),+].into_iter().map(str::to_owned).collect();
            assert_eq!(red(&v), expected, "red exactly where sabotaged");
        }
    };
}

// A write policy weaker than its read side: a plain INSERT (no RETURNING) puts a row into B.
sabotage!(
    with_check_opened,
    "ALTER POLICY contacts_org_isolation ON contacts WITH CHECK (true)",
    ["contacts insert_other_org"]
);

// Per-command open policies: each is caught on its command, in the form that skips SELECT policies.
sabotage!(
    an_open_insert_policy,
    "CREATE POLICY leads_insert_any ON leads FOR INSERT TO app_user WITH CHECK (true)",
    ["leads insert_other_org"]
);
sabotage!(
    an_open_update_policy,
    "CREATE POLICY uploads_update_any ON uploads FOR UPDATE TO app_user USING (true) WITH CHECK (true)",
    ["uploads update_other_org_unfiltered"]
);
sabotage!(
    an_open_delete_policy,
    "CREATE POLICY kb_delete_any ON knowledge_base FOR DELETE TO app_user USING (true)",
    ["knowledge_base delete_other_org_unfiltered"]
);
sabotage!(
    an_open_select_policy,
    "CREATE POLICY appointments_read_any ON appointments FOR SELECT TO app_user USING (true)",
    [
        "appointments read_own",
        "appointments read_other_org",
        "appointments read_missing_claim",
        "appointments read_empty_claim",
        // A fresh session of the application, before it sets a claim, reads them too.
        "login app_login fresh_login",
    ]
);

// The unique-key existence oracle: a key without the org column tells A that B holds a value.
sabotage!(
    a_global_unique_key,
    "CREATE UNIQUE INDEX contacts_email_global ON contacts (email)",
    ["contacts unique_other_org"]
);

// Privileges row-level security does not govern.
sabotage!(truncate_granted, "GRANT TRUNCATE ON contacts TO app_user", ["contacts truncate"]);
sabotage!(trigger_granted, "GRANT TRIGGER ON calls TO app_user", ["calls trigger_privilege"]);
sabotage!(references_granted, "GRANT REFERENCES ON agents TO app_user", ["agents references_privilege"]);
sabotage!(create_on_public, "GRANT CREATE ON SCHEMA public TO app_user", ["schema public schema_create"]);

// A role to hide behind: membership in a BYPASSRLS role with the app's privileges (SET ROLE works
// whatever INHERIT says). The app role of this case is a role of its own (roles are
// cluster-wide; other tests run alongside).
sabotage!(
    member_of_a_bypassing_role,
    "DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_member') THEN
         CREATE ROLE tenancy_test_member NOLOGIN INHERIT; END IF;
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_hideout') THEN
         CREATE ROLE tenancy_test_hideout NOLOGIN BYPASSRLS; END IF;
     END $$;
     ALTER ROLE tenancy_test_member NOLOGIN INHERIT;
     ALTER ROLE tenancy_test_hideout NOLOGIN BYPASSRLS;
     GRANT app_user TO tenancy_test_member;
     GRANT app_user TO tenancy_test_hideout;
     GRANT tenancy_test_hideout TO tenancy_test_member;",
    Some("tenancy_test_member"),
    ["role tenancy_test_hideout member_role", "role tenancy_test_hideout member_role_write"]
);

// A role reached through a NOINHERIT one (its privileges never flow to the app role; SET ROLE
// still works), which cannot read anything but has a DELETE policy of its own. PostgreSQL 15
// applies a policy to the roles that hold its role's privileges (has_privs_of_role), so the app
// role's own unfiltered delete stays blocked; `SET ROLE` into the hideout is what deletes B's
// rows. The attributes are set on every run: the roles outlive a test cluster's databases.
sabotage!(
    member_of_a_role_with_a_delete_policy,
    "DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_member2') THEN
         CREATE ROLE tenancy_test_member2 NOLOGIN INHERIT; END IF;
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_between') THEN
         CREATE ROLE tenancy_test_between NOLOGIN NOINHERIT; END IF;
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenancy_test_cleanup') THEN
         CREATE ROLE tenancy_test_cleanup NOLOGIN NOINHERIT; END IF;
     END $$;
     ALTER ROLE tenancy_test_member2 NOLOGIN INHERIT;
     ALTER ROLE tenancy_test_between NOLOGIN NOINHERIT;
     ALTER ROLE tenancy_test_cleanup NOLOGIN NOINHERIT;
     GRANT app_user TO tenancy_test_member2;
     GRANT tenancy_test_between TO tenancy_test_member2;
     GRANT tenancy_test_cleanup TO tenancy_test_between;
     GRANT DELETE ON call_logs TO tenancy_test_cleanup;
     CREATE POLICY call_logs_cleanup ON call_logs FOR DELETE TO tenancy_test_cleanup USING (true);",
    Some("tenancy_test_member2"),
    ["role tenancy_test_cleanup member_role_write"]
);

// Objects that read tenant tables with their owner's rights, and a child without policies.
sabotage!(
    a_view_without_security_invoker,
    "CREATE VIEW contact_directory AS SELECT id, full_name FROM contacts;
     GRANT SELECT ON contact_directory TO app_user;",
    ["view contact_directory view_read"]
);
sabotage!(
    a_materialized_view,
    "CREATE MATERIALIZED VIEW call_counts AS SELECT org_id, count(*) AS calls FROM calls GROUP BY org_id;
     GRANT SELECT ON call_counts TO app_user;",
    ["materialized view call_counts view_read"]
);
sabotage!(
    a_security_definer_function,
    "CREATE FUNCTION contact_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
       SET search_path = public AS 'SELECT count(*) FROM contacts';",
    ["function contact_count() function_call"]
);
sabotage!(
    an_inheritance_child_without_policies,
    "CREATE TABLE contacts_archive () INHERITS (contacts);
     GRANT SELECT ON contacts_archive TO app_user;",
    ["contacts read_children"]
);

/// The probe is what an application runs: a plain INSERT into another organization is caught
/// when WITH CHECK is open, while the RETURNING form (which PostgreSQL checks against the SELECT
/// policies too) is refused — judging by RETURNING alone would have said "blocked".
#[test]
fn a_plain_insert_is_caught_where_returning_is_refused() {
    let v = verify_after("sabotage_plain_insert", "ALTER POLICY calls_org_isolation ON calls WITH CHECK (true)", None);
    let calls = v.tables.iter().find(|t| t.table == "calls").unwrap();
    let cell = |attack: &str| calls.cells.iter().find(|c| c.attack == attack).unwrap();
    let plain = cell("insert_other_org");
    assert_eq!(plain.outcome, tenancy_schema::report::Outcome::Leaked, "{plain:?}");
    assert!(!plain.evidence.sql.contains("RETURNING"));
    assert!(plain.evidence.result.contains("B's rows of calls: 1 row before, 2 rows after (CHANGED"), "{plain:?}");
    let returning = cell("insert_other_org_returning");
    assert_eq!(returning.outcome, tenancy_schema::report::Outcome::Blocked, "{returning:?}");
    assert!(returning.evidence.result.contains("violates row-level security policy"), "{returning:?}");
}

// The signed claim: keys the app role can read, and a verifier that does not verify.
sabotage!(
    claim_keys_readable,
    "GRANT USAGE ON SCHEMA tenancy_private TO app_user; GRANT SELECT ON tenancy_private.claim_keys TO app_user;",
    ["claim app.org_token claim_key_read"]
);
sabotage!(
    a_verifier_that_trusts_the_token,
    "CREATE OR REPLACE FUNCTION auth_org_id() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
       SET search_path = pg_catalog, pg_temp
       AS $$ SELECT CASE WHEN split_part(current_setting('app.org_token', true), '.', 1)
                            ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN split_part(current_setting('app.org_token', true), '.', 1)::uuid END $$",
    [
        "claim app.org_token claim_forged_token",
        "claim app.org_token claim_tampered_token",
        "claim app.org_token claim_expired_token",
        "claim app.org_token claim_bare_id",
        "claim app.org_token claim_forged_insert",
    ]
);

// A definer view in another schema the app role can use: found there too.
sabotage!(
    a_view_in_another_schema,
    "CREATE SCHEMA reporting;
     CREATE VIEW reporting.all_calls AS SELECT * FROM public.calls;
     GRANT USAGE ON SCHEMA reporting TO app_user;
     GRANT SELECT ON reporting.all_calls TO app_user;",
    ["view reporting.all_calls view_read"]
);

// Shared users seen without a link: every tenant's people. (A link without the organization
// condition is still sealed by the link table's own policy — scan reports it, verify proves it.)
sabotage!(
    a_shared_table_open_to_every_organization,
    "ALTER POLICY users_org_isolation ON users USING (email IS NOT NULL)",
    [
        "users read_own",
        "users read_other_org",
        "users read_missing_claim",
        "users read_empty_claim",
        "login app_login fresh_login"
    ]
);
sabotage!(
    a_shared_table_without_rls,
    "ALTER TABLE users DISABLE ROW LEVEL SECURITY",
    [
        "users read_own",
        "users read_other_org",
        "users read_missing_claim",
        "users read_empty_claim",
        "login app_login fresh_login"
    ]
);
// Writes on tables the app only reads: one organization changes what the others see.
sabotage!(
    a_writable_global_table,
    "GRANT INSERT, UPDATE ON plans TO app_user",
    ["plans write_shared", "plans lock_table"]
);
sabotage!(
    a_writable_shared_table,
    "GRANT DELETE ON users TO app_user; CREATE POLICY users_delete_any ON users FOR DELETE TO app_user USING (true)",
    ["users write_shared", "users delete_other_org_unfiltered", "users lock_table"]
);
// A unique key on the organizations table the declaration does not have: an oracle for B's names.
sabotage!(
    an_undeclared_unique_key_on_the_organizations_table,
    "CREATE UNIQUE INDEX organizations_name_key ON organizations (name)",
    ["organizations unique_other_org"]
);
// A SECURITY DEFINER trigger (outside row-level security) whose error names the other
// organization's contact when A types a phone number B already has.
sabotage!(
    a_definer_trigger_whose_error_names_b,
    "CREATE FUNCTION contacts_phone_taken() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
       SET search_path = pg_catalog, public AS $$
     DECLARE other text;
     BEGIN
       SELECT full_name INTO other FROM contacts WHERE phone_number = NEW.phone_number AND org_id <> NEW.org_id LIMIT 1;
       IF other IS NOT NULL THEN
         RAISE EXCEPTION 'phone % already belongs to %', NEW.phone_number, other;
       END IF;
       RETURN NEW;
     END $$;
     CREATE TRIGGER contacts_phone_taken BEFORE INSERT OR UPDATE ON contacts
       FOR EACH ROW EXECUTE FUNCTION contacts_phone_taken()",
    // The unique oracle's copy of B's row trips the trigger too: that cell is undecided (error).
    ["contacts error_text", "contacts unique_other_org"]
);

// An internal table the app role was given access to after all: every organization reads the
// platform's staff.
sabotage!(
    a_readable_internal_table,
    "GRANT SELECT ON admin_users TO app_user",
    ["admin_users read_other_org", "admin_users read_missing_claim", "admin_users read_empty_claim"]
);
