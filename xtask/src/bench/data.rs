//! The data checks where every table must be read: 2,000 tenant tables of 100 rows each (a
//! composite reference to the table before, consistent), every foreign key dropped so PostgreSQL
//! guarantees nothing and each table's organizations and parents are counted — against a bare
//! `SELECT count(*)` of each table, on the same connection, in the same run. Also shows the data
//! pass staying within a default server's lock table (it reads in transactions of at most
//! `max_locks_per_transaction` locks).

use super::{database_url, fresh_database, median, ms, synthesize};
use anyhow::Result;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use tenancy_migrate::scan;

const TABLES: usize = 2_000;

pub fn run(admin: &str) -> Result<()> {
    let (url, schema) = database(admin)?;
    let mut conn = PgConnection::establish(&url)?;
    let catalog = conn
        .build_transaction()
        .read_only()
        .run(|conn| tenancy_migrate::catalog::load(conn, "public", &schema.settings.app_role))
        .map_err(anyhow::Error::msg)?;
    let read = scan::data::run(&mut conn, &schema, &catalog).map_err(anyhow::Error::msg)?;
    let data_time = median(3, || scan::data::run(&mut conn, &schema, &catalog).map(|p| p.tables.len()).unwrap_or(0));
    let tenants: Vec<String> =
        schema.tables.iter().filter(|t| t.is_tenant()).map(|t| tenancy_codegen::sql::ident(&t.name)).collect();
    let count_time = median(3, || {
        tenants
            .iter()
            .map(|t| diesel::sql_query(format!("SELECT count(*) FROM {t}")).execute(&mut conn).unwrap_or(0))
            .sum()
    });
    println!(
        "  data checks on {TABLES} tables, every one read ({} read, 100 rows each): {:.1} ms vs SELECT count(*) of each {:.1} ms, ratio {:.2}x (goal <= 1.3x)",
        read.tables.len(),
        ms(data_time),
        ms(count_time),
        data_time.as_secs_f64() / count_time.as_secs_f64()
    );
    Ok(())
}

/// `bench_data_2000`, made once and reused.
fn database(admin: &str) -> Result<(String, tenancy_schema::Schema)> {
    let schema = tenancy_schema::parse_str("bench.rs", &synthesize(TABLES + 2)).map_err(anyhow::Error::msg)?;
    let name = "bench_data_2000";
    let Some((url, mut conn)) = fresh_database(admin, name, "tenancy bench ready 1", &schema)? else {
        return Ok((database_url(admin, name), schema));
    };
    // Rows: organization 1 + g % 10 everywhere, so row g's parent (row g of the table before)
    // is of its organization; then every foreign key dropped, committing as it goes.
    conn.batch_execute(
        "INSERT INTO organizations (id, name) SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'org ' || i
           FROM generate_series(1, 10) i;
         INSERT INTO accounts (id, email) VALUES ('00000000-0000-4000-8000-00000000aaaa', 'a@example.com')",
    )?;
    // Each DO on its own (one statement, no implicit transaction), so it may COMMIT as it goes.
    conn.batch_execute(&format!(
        "DO $$ DECLARE i int; BEGIN
           FOR i IN 0..{last} LOOP
             EXECUTE format('INSERT INTO %I (org_id, id, account_id, %s code, kind, payload, created_at)
                             SELECT (''00000000-0000-4000-8000-'' || lpad((1 + g %% 10)::text, 12, ''0''))::uuid, g,
                                    ''00000000-0000-4000-8000-00000000aaaa'', %s ''c'' || g, ''k'', ''{{}}'', now()
                             FROM generate_series(1, 100) g',
                            't' || lpad(i::text, 4, '0') || 's',
                            CASE WHEN i = 0 THEN '' ELSE 'parent_id,' END, CASE WHEN i = 0 THEN '' ELSE 'g,' END);
             IF i % 50 = 49 THEN COMMIT; END IF;
           END LOOP;
         END $$",
        last = TABLES - 1
    ))?;
    conn.batch_execute(
        "DO $$ DECLARE r record; n int := 0; BEGIN
           FOR r IN SELECT conrelid::regclass::text AS t, conname FROM pg_constraint
                    WHERE contype = 'f' AND connamespace = 'public'::regnamespace LOOP
             EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
             n := n + 1;
             IF n % 100 = 0 THEN COMMIT; END IF;
           END LOOP;
         END $$",
    )?;
    conn.batch_execute("VACUUM ANALYZE")?;
    conn.batch_execute(&format!("COMMENT ON DATABASE {name} IS 'tenancy bench ready 1'"))?;
    Ok((url, schema))
}
