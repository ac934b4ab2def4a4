//! The signed claim (`claim = signed`, this workspace's preset) on the migrated database, as the
//! app role: a valid token sees its own organization only; forged, tampered, expired, bare-id
//! and replayed-after-expiry claims see none of B's rows and cannot insert into B; a pooled
//! connection after the transaction sees nothing; keys rotate without downtime.

use crate::support::{CLAIM_KEY, TestDb, count, exec, texts};
use diesel::{Connection, PgConnection};
use tenancy_codegen::claim::ClaimKey;
use tenancy_migrate::claim_key;

const A: &str = "00000000-0000-4000-8000-00000000000a";
const B: &str = "00000000-0000-4000-8000-00000000000b";
const USER: &str = "00000000-0000-4000-8000-0000000000f1";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn test_key() -> ClaimKey {
    ClaimKey::parse(CLAIM_KEY).unwrap()
}

fn fixture(test: &str) -> TestDb {
    let db = TestDb::migrated(test);
    let mut admin = db.admin();
    for sql in [
        format!("INSERT INTO organizations (id, name, slug) VALUES ('{A}', 'A', 'a'), ('{B}', 'B', 'b')"),
        format!("INSERT INTO users (id, email) VALUES ('{USER}', 'u@example.com')"),
        format!(
            "INSERT INTO contacts (org_id, id, user_id, full_name) VALUES ('{A}', 1, '{USER}', 'a1'), ('{B}', 2, '{USER}', 'b2')"
        ),
    ] {
        exec(&mut admin, &sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db
}

/// In one transaction (rolled back) as the app role, with the claim setting set to `token`:
/// the organizations of the contacts it sees, what `auth_org_id()` says, and whether an insert of
/// a contact of B went through.
fn as_app(conn: &mut PgConnection, token: &str) -> (Vec<String>, String, bool) {
    let mut out = None;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        exec(conn, &format!("SELECT set_config('app.org_token', '{}', true)", token.replace('\'', "''")))?;
        let seen = texts(conn, "SELECT org_id::text AS t FROM contacts ORDER BY id");
        let claim = texts(conn, "SELECT coalesce(auth_org_id()::text, 'NULL') AS t").remove(0);
        exec(conn, "SAVEPOINT s")?;
        let inserted = exec(
            conn,
            &format!("INSERT INTO contacts (org_id, id, user_id, full_name) VALUES ('{B}', 99, '{USER}', 'forged')"),
        )
        .is_ok();
        out = Some((seen, claim, inserted));
        Err(diesel::result::Error::RollbackTransaction)
    });
    out.unwrap()
}

#[test]
fn only_a_token_signed_with_an_installed_key_names_an_organization() {
    let db = fixture("signed_claims");
    let mut app = db.app();
    let key = test_key();
    let valid_a = key.token(A, now() + 60);

    // A valid token: A's rows only, and A's own inserts only.
    let (seen, claim, inserted_b) = as_app(&mut app, &valid_a);
    assert_eq!(seen, [A]);
    assert_eq!(claim, A);
    assert!(!inserted_b, "a row of B inserted under A's token");

    let secret: String = "ff".repeat(32);
    let forger = ClaimKey::parse(&format!("{}:{secret}", key.id)).unwrap();
    let attacks = [
        ("forged (B's id, another secret)", forger.token(B, now() + 60)),
        ("tampered (A's MAC, B's id)", valid_a.replacen(A, B, 1)),
        ("tampered (one byte of the MAC)", {
            let mut t = valid_a.clone();
            let last = t.pop().unwrap();
            t.push(if last == '0' { '1' } else { '0' });
            t
        }),
        ("expired (A's own, replayed after expiry)", key.token(A, now() - 1)),
        ("bare id (the unsigned form)", B.to_owned()),
        ("unknown key id", ClaimKey::parse(&format!("nokey:{}", "01".repeat(32))).unwrap().token(B, now() + 60)),
        ("garbage", "x.y.z.w".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in attacks {
        let (seen, claim, inserted_b) = as_app(&mut app, &token);
        assert!(seen.is_empty(), "{what}: saw {seen:?}");
        assert_eq!(claim, "NULL", "{what}");
        assert!(!inserted_b, "{what}: inserted a row of B");
    }
    // The keys are out of the app role's reach, and so is the verifier's table.
    assert!(exec(&mut app, "SELECT * FROM tenancy_private.claim_keys").is_err());
}

#[test]
fn a_pooled_connection_carries_no_claim_into_the_next_request() {
    let db = fixture("signed_pooled");
    let mut app = db.app();
    let token = test_key().token(A, now() + 60);
    let (seen, _, _) = as_app(&mut app, &token);
    assert_eq!(seen, [A]);
    // The next request on the same connection, without a claim.
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM contacts"), 0);
    assert_eq!(texts(&mut app, "SELECT coalesce(auth_org_id()::text, 'NULL') AS t"), ["NULL"]);
}

#[test]
fn keys_rotate_without_downtime() {
    let db = fixture("signed_rotation");
    let mut admin = db.admin();
    let mut app = db.app();
    let old = test_key();
    let new = ClaimKey::parse(&format!("k2:{}", "42".repeat(32))).unwrap();
    let old_token = old.token(A, now() + 600);
    let new_token = new.token(A, now() + 600);
    // Before the new key is installed, only the old one verifies.
    assert_eq!(as_app(&mut app, &new_token).1, "NULL");
    claim_key::install(&mut admin, &new).unwrap();
    // During the rotation both verify: applications switch at their own pace.
    assert_eq!(as_app(&mut app, &old_token).1, A);
    assert_eq!(as_app(&mut app, &new_token).1, A);
    // A key is never replaced silently.
    let again = claim_key::install(&mut admin, &new).unwrap_err().to_string();
    assert!(again.contains("installed already"), "{again}");
    // Retired: the old key's tokens stop at once, the new ones keep working.
    claim_key::retire(&mut admin, &old.id, None).unwrap();
    assert_eq!(as_app(&mut app, &old_token).1, "NULL");
    assert_eq!(as_app(&mut app, &new_token).1, A);
    let listed = claim_key::list(&mut admin).unwrap();
    assert_eq!(
        listed.iter().map(|k| (k.id.as_str(), k.retired_at.is_some())).collect::<Vec<_>>(),
        [("test", true), ("k2", false)]
    );
}

#[test]
fn the_cli_reads_keys_from_the_environment_or_a_file_and_never_prints_them() {
    let db = fixture("signed_cli");
    let secret = "5a".repeat(32);
    let run = |args: &[&str], env: Option<(&str, String)>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenancy-migrate"));
        command.args(args).arg("--database-url").arg(db.admin_url()).env_remove("DATABASE_URL");
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!text.contains(&secret), "the secret was printed: {text}");
        (output.status.code().unwrap_or(-1), text)
    };
    let (code, text) =
        run(&["claim-key", "install", "--from-env", "APP_KEY"], Some(("APP_KEY", format!("cli:{secret}"))));
    assert_eq!(code, 0, "{text}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("signed_cli.key");
    std::fs::write(&path, format!("file:{secret}\n")).unwrap();
    let (code, text) = run(&["claim-key", "install", "--from-file", path.to_str().unwrap()], None);
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(&["claim-key", "list"], None);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cli\t") && text.contains("file\t") && text.contains("test\t"), "{text}");
    // Bad input: one line saying what to do, nothing installed.
    let (code, text) = run(&["claim-key", "install", "--from-env", "NOPE"], None);
    assert_eq!((code, text.contains("environment variable NOPE is not set")), (2, true), "{text}");
    let (code, text) =
        run(&["claim-key", "install", "--from-env", "APP_KEY"], Some(("APP_KEY", format!("bad id:{secret}"))));
    assert_eq!((code, text.contains("invalid claim key")), (2, true), "{text}");
    let (code, text) = run(&["claim-key", "retire", "missing"], None);
    assert_eq!((code, text.contains("no claim key with id missing")), (2, true), "{text}");
}
