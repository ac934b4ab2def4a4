//! Adoption: three published shapes of multi-tenant schemas tenancy's authors did not design
//! (`tests/fixtures/adoption/`): a bigint `company_id` with `(company_id, id)` keys (the Citus
//! ads tutorial), a uuid `tenant_id` with row-level security already on (the AWS SaaS Factory
//! sample), and Basejump's `basejump` schema with enums, arrays and references into `auth`.
//! For each, `import` writes a declaration that parses and validates, classifies the root and
//! every tenant table right, and scans with no drift; the reviewed declaration (minimal, here)
//! scans with no drift too.

use crate::support::TestDb;
use diesel::connection::SimpleConnection;
use tenancy_migrate::scan;
use tenancy_schema::report::Report;
use tenancy_schema::{Schema, Scope};

struct Shape {
    test: &'static str,
    sql: &'static str,
    schema: &'static str,
    root: &'static str,
    org_column: &'static str,
    tenants: &'static [&'static str],
    globals: &'static [&'static str],
}

/// The shape's database, its imported declaration (text and parsed) and the scan of it.
fn import(shape: &Shape) -> (TestDb, String, Schema) {
    let db = TestDb::new(shape.test);
    db.admin().batch_execute(shape.sql).unwrap_or_else(|e| panic!("{}: {e}", shape.test));
    let text = tenancy_migrate::import::import(&mut db.admin(), shape.schema).expect("import");
    let schema = tenancy_schema::parse_str("imported.rs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(schema.root().name, shape.root, "{text}");
    assert_eq!(schema.settings.org_column, shape.org_column, "{text}");
    let of = |scope: Scope| -> Vec<&str> {
        let mut names: Vec<&str> = schema.tables.iter().filter(|t| t.scope == scope).map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names
    };
    assert_eq!(of(Scope::Tenant), shape.tenants, "{text}");
    assert_eq!(of(Scope::Global), shape.globals, "{text}");
    assert!(text.contains("REVIEW"), "guesses are marked for review");
    (db, text, schema)
}

fn scan(db: &TestDb, schema: &Schema, in_schema: &str) -> Report {
    let options = scan::Options { schema: in_schema.to_owned(), data: true, ..scan::Options::default() };
    scan::scan(&mut db.admin(), schema, &options).unwrap_or_else(|e| panic!("scan: {e}"))
}

/// Findings that say the declaration and the database disagree about what exists.
fn drift(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.category == "drift" || f.code == "org-id-type")
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect()
}

const ADS: Shape = Shape {
    test: "adoption_ads",
    sql: include_str!("../fixtures/adoption/ads.sql"),
    schema: "public",
    root: "companies",
    org_column: "company_id",
    tenants: &["ad_stats", "ads", "campaigns", "clicks", "impressions"],
    globals: &[],
};

#[test]
fn a_bigint_tenant_key_with_composite_keys() {
    let (db, text, imported) = import(&ADS);
    assert_eq!(imported.settings.org_key, tenancy_schema::ColumnType::BigInt);
    // (company_id, campaign_id) → campaigns (company_id, id) is tenancy's own composite reference.
    let ads = imported.table("ads").unwrap();
    assert_eq!(ads.column("campaign_id").unwrap().references.as_ref().unwrap().table, "campaigns");
    // (company_id, ad_id, day): a key of two columns besides the tenant column, one a reference.
    let stats = imported.table("ad_stats").unwrap();
    assert_eq!(stats.key_names(), ["ad_id", "day"], "{text}");
    assert_eq!(stats.column("ad_id").unwrap().references.as_ref().unwrap().table, "ads");
    assert!(
        text.contains("user_ip: Inet")
            && text.contains("Option<Numeric<20, 10>>")
            && text.contains("Option<Vec<String>>"),
        "{text}"
    );
    assert_eq!(drift(&scan(&db, &imported, "public")), Vec::<String>::new(), "{text}");
    let reviewed = tenancy_schema::parse_str("ads.rs", ADS_REVIEWED).unwrap();
    assert_eq!(drift(&scan(&db, &reviewed, "public")), Vec::<String>::new());
}

/// The ads shape's declaration after review.
const ADS_REVIEWED: &str = r#"#![tenancy(org_column = "company_id")]
#[tenancy(root)]
struct Company { #[key] id: i64, name: String, image_url: Option<String>, created_at: Timestamp, updated_at: Timestamp }
#[tenancy(tenant)]
struct Campaign { #[key] id: i64, name: String, cost_model: String, state: String, monthly_budget: Option<i64>,
    blacklisted_site_urls: Option<Vec<String>>, created_at: Timestamp, updated_at: Timestamp }
#[tenancy(tenant)]
struct Ad { #[key] id: i64, #[references(campaigns)] campaign_id: i64, name: String, image_url: Option<String>,
    target_url: Option<String>, #[default("0")] impressions_count: Option<i64>, #[default("0")] clicks_count: Option<i64>,
    created_at: Timestamp, updated_at: Timestamp }
#[tenancy(tenant)]
struct Click { #[key] id: i64, #[references(ads)] ad_id: i64, clicked_at: Timestamp, site_url: String,
    cost_per_click_usd: Option<Numeric<20, 10>>, user_ip: Inet, user_data: Jsonb }
#[tenancy(tenant)]
struct Impression { #[key] id: i64, #[references(ads)] ad_id: i64, seen_at: Timestamp, site_url: String,
    cost_per_impression_usd: Option<Numeric<20, 10>>, user_ip: Inet, user_data: Jsonb }
#[tenancy(tenant)]
struct AdStat { #[key] #[references(ads)] ad_id: i64, #[key] day: Date, #[default("0")] impressions: i64 }
"#;

/// The ads shape converted end to end, as a user would, with bad rows planted the way real
/// databases get them: a click of a deleted company restored with triggers off (behind a
/// foreign key PostgreSQL still marks validated) and an ad whose campaign is another company's.
/// scan finds both with their keys; the user fixes the ad and declares what to do with rows of
/// missing companies; plan + apply run under a concurrent writer with no writer error; every
/// other row keeps its values; scan reports no error, verify attacks every tenant table with no
/// leak and no error cell, and the app role inserts into every table (keys from the
/// `bigserial` sequences the plan granted).
#[test]
fn a_bigint_tenant_with_serial_keys_converts_and_the_app_inserts() {
    use diesel::prelude::*;
    use tenancy_migrate::convert::{self, run};
    let db = TestDb::new("adoption_ads_convert");
    db.admin().batch_execute(ADS.sql).unwrap();
    db.admin()
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO clicks (company_id, id, ad_id, clicked_at, site_url, user_ip, user_data)
                 VALUES (3, 3000, 300, now(), 'gone.example', '10.0.0.3', '{}');
             INSERT INTO ads (company_id, id, campaign_id, name, created_at, updated_at) VALUES (1, 101, 20, 'crossed', now(), now());
             SET session_replication_role = DEFAULT;",
        )
        .unwrap();
    let declaration = tenancy_schema::parse_str("ads.rs", ADS_REVIEWED).unwrap();
    let report = scan(&db, &declaration, "public");
    let found: Vec<String> = crate::support::scan_errors(&report);
    assert!(found.iter().any(|f| f.contains("org-id-orphan-rows") && f.contains("clicks")), "{found:#?}");
    assert!(found.iter().any(|f| f.contains("parent-org-mismatch") && f.contains("ads")), "{found:#?}");
    let keyed =
        |code: &str| report.findings.iter().find(|f| f.code == code).map(|f| f.message.clone()).unwrap_or_default();
    assert!(keyed("org-id-orphan-rows").contains("3000"), "{}", keyed("org-id-orphan-rows"));
    assert!(keyed("parent-org-mismatch").contains("101"), "{}", keyed("parent-org-mismatch"));
    // Unreviewed, the plan stops on the click of a company that does not exist.
    let options = convert::Options::default();
    let err = convert::plan_database(&mut db.admin(), &declaration, "public", &options).map(|_| ()).unwrap_err();
    assert!(
        err.to_string().contains("table clicks: 1 row names an organization that does not exist (id 3000)"),
        "{err}"
    );
    // The fixes a user makes: the ad back in its own company's campaign, and clicks of deleted
    // companies deleted.
    db.admin().batch_execute("UPDATE ads SET campaign_id = 10 WHERE id = 101").unwrap();
    let reviewed = ADS_REVIEWED.replace(
        "#[tenancy(tenant)]\nstruct Click",
        "#[tenancy(tenant)]\n#[backfill(missing_org = \"delete\")]\nstruct Click",
    );
    let declaration = tenancy_schema::parse_str("ads.rs", &reviewed).unwrap();
    let snapshot = |db: &TestDb| -> Vec<String> {
        let mut rows = Vec::new();
        for table in ["companies", "campaigns", "ads", "clicks", "impressions", "ad_stats"] {
            #[derive(QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::Text)]
                row: String,
            }
            // The writer's rows (ids from 500000) are not the legacy's.
            let sql = format!(
                "SELECT '{table} ' || to_jsonb(t)::text AS row FROM {table} t WHERE to_jsonb(t) ->> 'id' IS NULL OR (to_jsonb(t) ->> 'id')::bigint < 500000 ORDER BY 1"
            );
            rows.extend(diesel::sql_query(sql).load::<Row>(&mut db.admin()).unwrap().into_iter().map(|r| r.row));
        }
        rows
    };
    let before: Vec<String> = snapshot(&db).into_iter().filter(|r| !r.contains("gone.example")).collect();
    let plan = convert::plan_database(&mut db.admin(), &declaration, "public", &options).expect("plan");
    let dir = crate::support::plan_dir("adoption_ads");
    convert::write(&plan, &options, &dir).unwrap();
    let security =
        std::fs::read_dir(&dir).unwrap().flatten().find(|e| e.file_name().to_string_lossy().ends_with("_security"));
    let security = std::fs::read_to_string(security.expect("a security step").path().join("up.sql")).unwrap();
    assert!(security.contains(r#"GRANT USAGE ON SEQUENCE "public"."campaigns_id_seq" TO "app_user";"#), "{security}");
    // The legacy application keeps writing impressions while the conversion runs.
    let (applied, log) = crate::support::apply_under_writer(
        &db,
        |n| {
            format!(
                "INSERT INTO impressions (company_id, id, ad_id, seen_at, site_url, user_ip, user_data) VALUES (1, {}, 100, now(), 'w.example', '10.0.0.1', '{{}}')",
                500_000 + n
            )
        },
        |log| run::apply_dir(&mut db.admin(), &dir, run::RunOptions::default(), log),
    );
    applied.unwrap_or_else(|e| panic!("apply: {e}\n{log:#?}"));
    assert!(log.iter().any(|l| l.contains("deleted 1 rows of clicks") && l.contains("3000")), "{log:#?}");
    assert_eq!(snapshot(&db), before, "every remaining legacy row keeps its values");
    let unusable: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM (SELECT oid FROM pg_class WHERE relkind = 'S' AND relname <> 'companies_id_seq' OFFSET 0) s WHERE NOT has_sequence_privilege('app_user', s.oid, 'USAGE'))",
    ))
    .get_result(&mut db.admin())
    .unwrap();
    assert_eq!(unusable, 0, "every key sequence usable by the app (which does not insert companies)");
    // As the application: a row in every tenant table, keys from the sequences.
    db.app()
        .batch_execute(
            "BEGIN;
             SELECT set_config('app.org_id', '1', true);
             INSERT INTO campaigns (name, cost_model, state, created_at, updated_at) VALUES ('new', 'cpc', 'running', now(), now());
             INSERT INTO ads (campaign_id, name, created_at, updated_at) SELECT max(id), 'new ad', now(), now() FROM campaigns;
             INSERT INTO clicks (ad_id, clicked_at, site_url, user_ip, user_data) SELECT max(id), now(), 'z.example', '10.0.0.9', '{}' FROM ads;
             INSERT INTO impressions (ad_id, seen_at, site_url, user_ip, user_data) SELECT max(id), now(), 'z.example', '10.0.0.9', '{}' FROM ads;
             INSERT INTO ad_stats (ad_id, day) SELECT max(id), current_date FROM ads;
             COMMIT;",
        )
        .unwrap_or_else(|e| panic!("the app inserts: {e}"));
    let report = scan(&db, &declaration, "public");
    assert_eq!(crate::support::scan_errors(&report), Vec::<String>::new());
    let v = tenancy_migrate::verify::verify(&mut db.admin(), &declaration).unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(tenancy_migrate::verify::passed(&v), "{:#?}", crate::support::verify_failures(&v));
    assert_eq!((v.counts.leaked, v.counts.error), (0, 0));
    for table in ADS.tenants {
        let verified = v.tables.iter().find(|t| t.table == *table).unwrap();
        assert!(
            verified.skipped.is_none()
                && verified.cells.iter().any(|c| c.outcome == tenancy_schema::report::Outcome::Blocked),
            "{table}"
        );
    }
}

const AWS: Shape = Shape {
    test: "adoption_aws_rls",
    sql: include_str!("../fixtures/adoption/aws_rls.sql"),
    schema: "public",
    root: "tenant",
    org_column: "tenant_id",
    tenants: &["order_line", "product", "tenant_user"],
    globals: &[],
};

#[test]
fn a_uuid_tenant_id_with_row_level_security_already_on() {
    let (db, text, imported) = import(&AWS);
    // The login email is unique across tenants, as found: kept global, not made per tenant.
    assert!(imported.table("tenant_user").unwrap().column("email").unwrap().global_unique, "{text}");
    // order_line has no tenant_id: a child of product, placed through it.
    assert_eq!(
        imported.table("order_line").unwrap().backfill,
        Some(tenancy_schema::Backfill::FromParent { column: "product_id".to_owned() })
    );
    assert!(text.contains("Varchar<255>"), "{text}");
    assert_eq!(
        imported.table("product").unwrap().unique_expressions,
        [tenancy_schema::ir::UniqueExpression { sql: "lower(name)".to_owned(), global: false }],
        "{text}"
    );
    let report = scan(&db, &imported, "public");
    assert_eq!(drift(&report), Vec::<String>::new(), "{text}");
    assert!(report.findings.iter().any(|f| f.code == "unique-global"), "the accepted oracle is on the record");
    let reviewed = tenancy_schema::parse_str(
        "aws.rs",
        r#"#![tenancy(org_column = "tenant_id")]
#[tenancy(root, table = "tenant")]
struct Tenant { #[key] tenant_id: Uuid, #[unique] name: Option<Varchar<255>>, status: Option<Varchar<64>>, tier: Option<Varchar<64>> }
#[tenancy(tenant, table = "tenant_user")]
struct TenantUser { #[key] user_id: Uuid, #[unique(global)] email: Varchar<255>, given_name: Varchar<255>, family_name: Varchar<255> }
#[tenancy(tenant, table = "product", unique(expr = "lower(name)"))]
struct Product { #[key] product_id: Uuid, name: String, price: Numeric<10, 2>, #[default("now()")] created_at: Timestamptz }
#[tenancy(global, table = "order_line")]
struct OrderLine { #[key] line_id: i64, product_id: Uuid, quantity: i32 }
"#,
    )
    .unwrap();
    assert_eq!(drift(&scan(&db, &reviewed, "public")), Vec::<String>::new());
}

/// The AWS shape converted: its own setting (`app.current_tenant`) stays the claim, its
/// tenant-keyed policies are noted as replaced by tenancy's (no opt-in needed: they granted
/// nothing beyond), order lines get a tenant_id from their product, the CHECK-constrained
/// varchar columns take sample values verify can insert, and a delete that RESTRICT refused is
/// noted as becoming CASCADE.
#[test]
fn a_uuid_tenant_id_with_row_level_security_converts() {
    use diesel::prelude::*;
    use tenancy_migrate::convert::{self, run};
    let db = TestDb::new("adoption_aws_convert");
    db.admin().batch_execute(AWS.sql).unwrap();
    // A product of a tenant that no longer exists, restored with triggers off.
    db.admin()
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO product (product_id, tenant_id, name, price)
                 VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-00000000000c', 'ghost', 1);
             SET session_replication_role = DEFAULT;",
        )
        .unwrap();
    let declaration = tenancy_schema::parse_str(
        "aws.rs",
        r#"#![tenancy(org_column = "tenant_id", claim = "app.current_tenant")]
#[tenancy(root, table = "tenant")]
struct Tenant { #[key] tenant_id: Uuid, #[unique] name: Option<Varchar<255>>, status: Option<Varchar<64>>, tier: Option<Varchar<64>> }
#[tenancy(tenant, table = "tenant_user")]
struct TenantUser { #[key] user_id: Uuid, #[unique(global)] email: Varchar<255>, given_name: Varchar<255>, family_name: Varchar<255> }
#[tenancy(tenant, table = "product", unique(expr = "lower(name)"))]
struct Product { #[key] product_id: Uuid, name: String, price: Numeric<10, 2>, #[default("now()")] created_at: Timestamptz }
#[tenancy(tenant, table = "order_line")]
#[backfill(from_parent = "product_id")]
struct OrderLine { #[key] line_id: i64, #[references(product)] product_id: Uuid, quantity: i32 }
"#,
    )
    .unwrap();
    let rows = |db: &TestDb| -> Vec<String> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            row: String,
        }
        let sql = "SELECT 'tenant ' || to_jsonb(t)::text AS row FROM tenant t UNION ALL
                   SELECT 'user ' || to_jsonb(t)::text FROM tenant_user t UNION ALL
                   SELECT 'product ' || to_jsonb(t)::text FROM product t UNION ALL
                   SELECT 'line ' || (to_jsonb(t) - 'tenant_id')::text FROM order_line t ORDER BY 1";
        diesel::sql_query(sql).load::<Row>(&mut db.admin()).unwrap().into_iter().map(|r| r.row).collect()
    };
    let report = scan(&db, &declaration, "public");
    let orphan = report.findings.iter().find(|f| f.code == "org-id-orphan-rows").map(|f| f.message.clone());
    assert!(
        orphan.as_deref().is_some_and(|m| m.contains("product") && m.contains("00000000-0000-4000-8000-0000000000c1")),
        "{orphan:?}"
    );
    // The fix a user makes here: the ghost product goes.
    db.admin().batch_execute("DELETE FROM product WHERE name = 'ghost'").unwrap();
    let before = rows(&db);
    let options = convert::Options::default();
    let plan = convert::plan_database(&mut db.admin(), &declaration, "public", &options)
        .unwrap_or_else(|e| panic!("plan: {e}"));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("policy product_isolation_policy on product") && n.contains("does what it did")),
        "{:#?}",
        plan.notes
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("ON DELETE RESTRICT of tenant_user_tenant_id_fkey becomes CASCADE")),
        "{:#?}",
        plan.notes
    );
    let dir = crate::support::plan_dir("adoption_aws");
    convert::write(&plan, &options, &dir).unwrap();
    // The legacy application signs users up while the conversion runs.
    let (applied, log) = crate::support::apply_under_writer(
        &db,
        |n| {
            format!(
                "INSERT INTO tenant_user (tenant_id, email, given_name, family_name) VALUES ('00000000-0000-4000-8000-00000000000a', 'writer{n}@a.example', 'W', 'W')"
            )
        },
        |log| run::apply_dir(&mut db.admin(), &dir, run::RunOptions::default(), log),
    );
    applied.unwrap_or_else(|e| panic!("apply: {e}\n{log:#?}"));
    let kept: Vec<String> = rows(&db).into_iter().filter(|r| !r.contains("\"email\": \"writer")).collect();
    assert_eq!(kept, before, "every row kept, with its values");
    let misplaced: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM order_line l JOIN product p USING (product_id) WHERE l.tenant_id IS DISTINCT FROM p.tenant_id)",
    ))
    .get_result(&mut db.admin())
    .unwrap();
    assert_eq!(misplaced, 0);
    db.app()
        .batch_execute(
            "BEGIN;
             SELECT set_config('app.current_tenant', '00000000-0000-4000-8000-00000000000a', true);
             INSERT INTO tenant_user (email, given_name, family_name) VALUES ('cy@a.example', 'Cy', 'C');
             INSERT INTO product (name, price) VALUES ('sprocket', 1.5);
             INSERT INTO order_line (product_id, quantity) SELECT product_id, 3 FROM product WHERE name = 'sprocket';
             COMMIT;",
        )
        .unwrap_or_else(|e| panic!("the app inserts: {e}"));
    let report = scan(&db, &declaration, "public");
    assert_eq!(crate::support::scan_errors(&report), Vec::<String>::new());
    let v = tenancy_migrate::verify::verify(&mut db.admin(), &declaration).unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(tenancy_migrate::verify::passed(&v), "{:#?}", crate::support::verify_failures(&v));
    for table in AWS.tenants {
        let verified = v.tables.iter().find(|t| t.table == *table).unwrap();
        assert!(verified.skipped.is_none(), "{table}: {:?}", verified.skipped);
    }
}

const BASEJUMP: Shape = Shape {
    test: "adoption_basejump",
    sql: include_str!("../fixtures/adoption/basejump.sql"),
    schema: "basejump",
    root: "accounts",
    org_column: "account_id",
    tenants: &["account_user", "billing_customers", "billing_subscriptions", "invitations"],
    globals: &[],
};

#[test]
fn a_non_public_schema_with_enums_arrays_and_external_references() {
    let (db, text, imported) = import(&BASEJUMP);
    let role = &imported.table("account_user").unwrap().column("account_role").unwrap().ty;
    assert_eq!(role, &tenancy_schema::ColumnType::Enum("basejump.account_role".to_owned()), "{text}");
    // (user_id, account_id): the tenant column and the key.
    assert_eq!(imported.table("account_user").unwrap().key().name, "user_id");
    // auth.users is outside the declaration: kept as a plain column, with a REVIEW.
    assert!(text.contains("references auth.users.id, outside this declaration"), "{text}");
    assert!(imported.table("invitations").unwrap().column("token").unwrap().global_unique, "{text}");
    assert!(text.contains("scopes: Vec<String>"), "{text}");
    assert_eq!(drift(&scan(&db, &imported, "basejump")), Vec::<String>::new(), "{text}");
    let reviewed = tenancy_schema::parse_str(
        "basejump.rs",
        r#"#![tenancy(org_column = "account_id")]
#[tenancy(root)]
struct Account { #[key] id: Uuid, primary_owner_user_id: Uuid, name: Option<String>, #[unique] slug: Option<String>,
    #[default("false")] personal_account: bool, updated_at: Option<Timestamptz>, created_at: Option<Timestamptz>,
    private_metadata: Option<Jsonb>, public_metadata: Option<Jsonb> }
#[tenancy(tenant, table = "account_user")]
struct AccountUser { #[key] user_id: Uuid, account_role: Enum<"basejump.account_role"> }
#[tenancy(tenant)]
struct BillingCustomer { #[key] id: String, email: Option<String>, active: Option<bool>, provider: Option<String> }
#[tenancy(tenant)]
struct BillingSubscription { #[key] id: String, #[references(billing_customers)] billing_customer_id: String,
    status: Option<Enum<"basejump.subscription_status">>, metadata: Option<Jsonb>, price_id: Option<String>,
    plan_name: Option<String>, quantity: Option<i32>, cancel_at_period_end: Option<bool>, created: Timestamptz,
    current_period_start: Timestamptz, current_period_end: Timestamptz }
#[tenancy(tenant)]
struct Invitation { #[key] id: Uuid, account_role: Enum<"basejump.account_role">, #[unique(global)] token: String,
    invited_by_user_id: Uuid, account_name: Option<String>, scopes: Vec<String>, updated_at: Option<Timestamptz>,
    created_at: Option<Timestamptz> }
"#,
    )
    .unwrap();
    assert_eq!(drift(&scan(&db, &reviewed, "basejump")), Vec::<String>::new());
}

/// Organization keys of every supported type, each with another claim preset: the generated
/// migration applies, `auth_org_id()` returns the key's type, and verify's whole attack matrix
/// finds no leak and no error. A key declared global is the one info a tenant table shows.
#[test]
fn every_organization_key_type_is_isolated_end_to_end() {
    for (key, claim, org_value) in [
        ("i64", "signed", "9000000000000000001"),
        ("i32", "postgrest", "7"),
        ("String", "\"app.tenant\"", "acme"),
        ("Uuid", "\"app.org_id\"", "00000000-0000-4000-8000-000000000001"),
    ] {
        let declaration = format!(
            r#"#![tenancy(org_column = "tenant_key", claim = {claim})]
#[tenancy(root)]
struct Tenant {{ #[key] id: {key}, name: String }}
#[tenancy(tenant, unique(expr = "lower(name)"))]
struct Project {{ #[key] id: i64, name: Varchar<80>, budget: Option<Numeric<12, 2>>, tags: Vec<String>, started: Timestamp }}
#[tenancy(tenant, unique_global(expr = "lower(code)"))]
struct Invite {{ #[key] id: i64, #[references(projects)] project_id: i64, #[unique(global)] token: String, code: String, ip: Option<Inet> }}
"#
        );
        let schema = tenancy_schema::parse_str("keys.rs", &declaration).unwrap_or_else(|e| panic!("{key}: {e}"));
        let db = TestDb::new(&format!("adoption_key_{}", key.to_lowercase()));
        let migration = tenancy_codegen::plan::plan(None, &schema, 1).unwrap().remove(0);
        let mut conn = db.admin();
        conn.batch_execute(&migration.up).unwrap_or_else(|e| panic!("{key}: {e}\n{}", migration.up));
        conn.batch_execute(&format!("INSERT INTO tenants (id, name) VALUES ('{org_value}', 'a')")).unwrap();
        let returns: String = {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct R {
                #[diesel(sql_type = diesel::sql_types::Text)]
                t: String,
            }
            diesel::sql_query("SELECT format_type(prorettype, NULL) AS t FROM pg_proc WHERE proname = 'auth_org_id'")
                .get_result::<R>(&mut conn)
                .unwrap()
                .t
        };
        assert_eq!(returns, schema.settings.org_key.sql_name(), "{key}");
        let v = tenancy_migrate::verify::verify(&mut conn, &schema).unwrap_or_else(|e| panic!("{key}: {e}"));
        let bad = crate::support::verify_failures(&v);
        assert!(tenancy_migrate::verify::passed(&v), "{key}: {bad:#?}");
        // The attacks that need sample rows of each type ran on both tenant tables.
        for table in ["projects", "invites"] {
            let cells = &v.tables.iter().find(|t| t.table == table).unwrap().cells;
            for attack in [
                "read_other_org",
                "insert_other_org",
                "update_other_org_unfiltered",
                "delete_other_org_unfiltered",
                "move_to_other_org",
                "unique_other_org",
            ] {
                let cell =
                    cells.iter().find(|c| c.attack == attack).unwrap_or_else(|| panic!("{key}: {table} {attack}"));
                assert!(
                    matches!(
                        cell.outcome,
                        tenancy_schema::report::Outcome::Blocked | tenancy_schema::report::Outcome::Info
                    ),
                    "{key}: {table} {attack} {:?}: {}",
                    cell.outcome,
                    cell.evidence.result
                );
            }
        }
        assert!(v.counts.blocked > 40, "{key}: the matrix ran ({:?})", v.counts);
        let invites = v.tables.iter().find(|t| t.table == "invites").unwrap();
        let oracle = invites.cells.iter().find(|c| c.attack == "unique_other_org").unwrap();
        assert_eq!(oracle.outcome, tenancy_schema::report::Outcome::Info, "{key}: {}", oracle.evidence.result);
        let scan = scan(&db, &schema, "public");
        assert!(
            scan.findings.iter().all(|f| f.severity != tenancy_schema::report::Severity::Error),
            "{key}: {:#?}",
            scan.findings
        );
    }
}

/// Basejump's schema converted where it lives: `plan` in schema basejump writes files that run
/// there (search path in every file), `apply --dir` takes every row along, and scan and verify
/// in that schema find nothing to report and no leak.
#[test]
fn a_non_public_schema_converts_and_verifies_where_it_lives() {
    use tenancy_migrate::convert::{self, run};
    let (db, _, _) = import(&Shape { test: "adoption_basejump_convert", ..BASEJUMP });
    let declaration = tenancy_schema::parse_str(
        "basejump.rs",
        r#"#![tenancy(org_column = "account_id", schema = "basejump")]
#[tenancy(root)]
struct Account { #[key] id: Uuid, primary_owner_user_id: Uuid, name: Option<String>, #[unique] slug: Option<String>,
    #[default("false")] personal_account: bool, updated_at: Option<Timestamptz>, created_at: Option<Timestamptz>,
    #[default("'{}'::jsonb")] private_metadata: Option<Jsonb>, #[default("'{}'::jsonb")] public_metadata: Option<Jsonb> }
#[tenancy(tenant, table = "account_user")]
struct AccountUser { #[key] user_id: Uuid, account_role: Enum<"basejump.account_role"> }
#[tenancy(tenant)]
struct BillingCustomer { #[key] id: String, email: Option<String>, active: Option<bool>, provider: Option<String> }
#[tenancy(tenant)]
#[backfill(from_parent = "billing_customer_id")]
struct BillingSubscription { #[key] id: String, #[references(billing_customers)] billing_customer_id: String,
    status: Option<Enum<"basejump.subscription_status">>, metadata: Option<Jsonb>, price_id: Option<String>,
    plan_name: Option<String>, quantity: Option<i32>, cancel_at_period_end: Option<bool>, #[default("now()")] created: Timestamptz,
    #[default("now()")] current_period_start: Timestamptz, #[default("now()")] current_period_end: Timestamptz }
#[tenancy(tenant)]
struct Invitation { #[key] id: Uuid, account_role: Enum<"basejump.account_role">, #[unique(global)] #[default("md5((random())::text)")] token: String,
    invited_by_user_id: Uuid, account_name: Option<String>, #[default("'{}'::text[]")] scopes: Vec<String>, updated_at: Option<Timestamptz>,
    created_at: Option<Timestamptz> }
"#,
    )
    .unwrap();
    let count = |db: &TestDb| -> i64 {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT (SELECT count(*) FROM basejump.accounts) + (SELECT count(*) FROM basejump.account_user) + (SELECT count(*) FROM basejump.billing_customers) + (SELECT count(*) FROM basejump.billing_subscriptions) + (SELECT count(*) FROM basejump.invitations))",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    // Subscriptions without their account: placed through their customer, by a backfill that
    // runs in schema basejump.
    db.admin().batch_execute("ALTER TABLE basejump.billing_subscriptions DROP COLUMN account_id").unwrap();
    let before = count(&db);
    // Every row with its values (the subscriptions' new account_id aside; the writer's
    // invitations aside).
    let rows = |db: &TestDb| -> Vec<String> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            row: String,
        }
        let sql = "SELECT 'a ' || to_jsonb(t)::text AS row FROM basejump.accounts t UNION ALL
                   SELECT 'u ' || to_jsonb(t)::text FROM basejump.account_user t UNION ALL
                   SELECT 'c ' || to_jsonb(t)::text FROM basejump.billing_customers t UNION ALL
                   SELECT 's ' || (to_jsonb(t) - 'account_id')::text FROM basejump.billing_subscriptions t UNION ALL
                   SELECT 'i ' || to_jsonb(t)::text FROM basejump.invitations t WHERE token NOT LIKE 'writer-%' ORDER BY 1";
        diesel::sql_query(sql).load::<Row>(&mut db.admin()).unwrap().into_iter().map(|r| r.row).collect()
    };
    let values = rows(&db);
    // With a baseline (the workspace's migrations recorded as applied), as `plan` writes one.
    let options = convert::Options {
        schema: "basejump".to_owned(),
        baseline: tenancy_migrate::migrate::versions().unwrap(),
        ..convert::Options::default()
    };
    let plan = convert::plan_database(&mut db.admin(), &declaration, "basejump", &options).expect("plan");
    let dir = crate::support::plan_dir("adoption_basejump");
    convert::write(&plan, &options, &dir).unwrap();
    // The application keeps inviting people while the conversion runs.
    let account: String = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("(SELECT min(id::text) FROM basejump.accounts)"))
            .get_result(&mut db.admin())
            .unwrap()
    };
    let (applied, log) = crate::support::apply_under_writer(
        &db,
        move |n| {
            format!(
                "INSERT INTO basejump.invitations (account_id, account_role, invited_by_user_id, token) VALUES ('{account}', 'member', '00000000-0000-4000-8000-0000000000aa', 'writer-{n}')"
            )
        },
        |log| run::apply_dir(&mut db.admin(), &dir, run::RunOptions::default(), log),
    );
    applied.unwrap_or_else(|e| panic!("apply: {e}\n{log:#?}"));
    let written: i64 = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM basejump.invitations WHERE token LIKE 'writer-%')",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    assert_eq!(count(&db), before + written, "every row kept");
    assert_eq!(rows(&db), values, "every legacy row keeps its values");
    // The baseline is where a plain connection finds it: status is clean, a plain apply a no-op.
    use tenancy_migrate::migrate;
    let status = migrate::status(&mut db.admin()).unwrap();
    assert!(
        !status.is_empty() && status.iter().all(|m| m.applied),
        "{:?}",
        status.iter().map(|m| (&m.name, m.applied)).collect::<Vec<_>>()
    );
    let outcome = migrate::apply(&mut db.admin(), migrate::Wait::NoWait, false, &mut |_| {}).unwrap();
    assert_eq!(outcome.migrations, Vec::<String>::new(), "nothing pending after a conversion");
    let placed: i64 = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM basejump.billing_subscriptions s JOIN basejump.billing_customers c ON c.id = s.billing_customer_id AND c.account_id = s.account_id)",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    assert_eq!(placed, 2, "each subscription in its customer's account");
    // Nothing was created in public: the functions live with the tables.
    let in_public: i64 = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    assert_eq!(in_public, 0);
    let report = scan(&db, &declaration, "basejump");
    assert_eq!(crate::support::scan_errors(&report), Vec::<String>::new());
    let v = tenancy_migrate::verify::verify(&mut db.admin(), &declaration).unwrap_or_else(|e| panic!("verify: {e}"));
    let bad = crate::support::verify_failures(&v);
    assert_eq!(v.checksum_before, v.checksum_after, "verify left no trace");
    assert!(tenancy_migrate::verify::passed(&v), "{bad:#?}");
    assert!(v.counts.blocked > 40, "{:?}", v.counts);
}

/// One declaration over three schemas: its own (`app`: the organizations and projects), and
/// tables that name theirs (`billing.invoices`, a tenant table referencing a project, and
/// `catalog.currencies`, a global one). The migration creates each where it is declared, the
/// models name the schema, and scan (over all three) and verify (with all three on its search
/// path) find no drift and no leak; a policy opened in `billing` is caught there.
#[test]
fn a_declaration_over_several_schemas_is_migrated_scanned_and_verified() {
    let schema = tenancy_schema::parse_str(
        "schemas.rs",
        r#"#![tenancy(schema = "app", claim = "app.org_id")]
#[tenancy(root)]
struct Organization { #[key] id: Uuid, name: String }
#[tenancy(global, schema = "catalog")]
struct Currency { #[key] code: String, name: String }
#[tenancy(tenant)]
struct Project { #[key] id: i64, name: String }
#[tenancy(tenant, schema = "billing")]
struct Invoice { #[key] id: i64, #[references(projects)] project_id: i64, #[references(currencies)] currency: String, amount: Numeric<12, 2> }
#[tenancy(tenant, schema = "app")]
struct Note { #[key] id: i64, #[references(invoices)] invoice_id: Option<i64>, body: String }
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema.schemas(), ["app", "catalog", "billing"]);
    assert_eq!(schema.table("notes").unwrap().schema, None, "the declaration's own schema is its default");
    let migration = tenancy_codegen::plan::plan(None, &schema, 1).unwrap().remove(0);
    assert!(migration.up.contains("CREATE TABLE \"billing\".\"invoices\""), "{}", migration.up);
    assert!(migration.up.contains("search_path = \"app\", \"catalog\", \"billing\", public"), "{}", migration.up);
    let models = tenancy_codegen::rust::models(&schema);
    assert!(models.contains("billing.invoices"), "the models name the schema");

    let db = TestDb::new("adoption_schemas");
    let mut conn = db.admin();
    conn.batch_execute(&migration.up).unwrap_or_else(|e| panic!("{e}\n{}", migration.up));
    let placed: Vec<String> = {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        diesel::sql_query(
            "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname IN ('app', 'billing', 'catalog') ORDER BY 1",
        )
        .load::<R>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.t)
        .collect()
    };
    assert_eq!(placed, ["app.notes", "app.organizations", "app.projects", "billing.invoices", "catalog.currencies"]);
    conn.batch_execute("INSERT INTO catalog.currencies (code, name) VALUES ('EUR', 'Euro')").unwrap();

    let report = scan(&db, &schema, &schema.schemas().join(","));
    assert_eq!(crate::support::scan_errors(&report), Vec::<String>::new());
    assert_eq!(drift(&report), Vec::<String>::new());
    let v = tenancy_migrate::verify::verify(&mut conn, &schema).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(crate::support::verify_failures(&v), Vec::<String>::new());
    assert_eq!(v.checksum_before, v.checksum_after);
    let invoices = v.tables.iter().find(|t| t.table == "invoices").expect("invoices attacked");
    for attack in ["read_other_org", "insert_other_org", "update_other_org_unfiltered", "reference_other_org"] {
        let cell = invoices.cells.iter().find(|c| c.attack == attack).unwrap();
        assert_eq!(cell.outcome, tenancy_schema::report::Outcome::Blocked, "{attack}: {}", cell.evidence.result);
    }

    // import reads all three: each table in its schema, and the result round-trips with no drift.
    let text = tenancy_migrate::import::import(&mut conn, "app,catalog,billing").unwrap();
    assert!(text.contains("schema = \"app\""), "{text}");
    assert!(text.contains("table = \"invoices\", schema = \"billing\""), "{text}");
    assert!(text.contains("table = \"currencies\", schema = \"catalog\""), "{text}");
    let imported = tenancy_schema::parse_str("imported.rs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(imported.schemas(), ["app", "catalog", "billing"], "{text}");
    assert_eq!(drift(&scan(&db, &imported, &imported.schemas().join(","))), Vec::<String>::new(), "{text}");

    // An undeclared copy of tenant rows in billing, readable by the app: found where it is.
    conn.batch_execute(
        "CREATE TABLE billing.invoice_copies AS SELECT * FROM billing.invoices;
         GRANT SELECT ON billing.invoice_copies TO app_user;",
    )
    .unwrap();
    let report = scan(&db, &schema, &schema.schemas().join(","));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code.starts_with("undeclared-table-readable") && f.table.as_deref() == Some("invoice_copies")),
        "{:#?}",
        report.findings
    );
    conn.batch_execute("DROP TABLE billing.invoice_copies").unwrap();

    // Broken in billing: caught there, by both.
    conn.batch_execute("ALTER POLICY invoices_org_isolation ON billing.invoices USING (true)").unwrap();
    let report = scan(&db, &schema, &schema.schemas().join(","));
    assert!(crate::support::scan_errors(&report).iter().any(|e| e.contains("invoices")), "{report:#?}");
    let v = tenancy_migrate::verify::verify(&mut conn, &schema).unwrap();
    let red = crate::support::verify_failures(&v);
    assert!(red.iter().any(|r| r.starts_with("invoices read_other_org")), "{red:#?}");
    // ... and a fresh session of the application, before it sets a claim, reads them too.
    assert!(red.iter().all(|r| r.starts_with("invoices ") || r.starts_with("login app_login fresh_login")), "{red:#?}");
}
