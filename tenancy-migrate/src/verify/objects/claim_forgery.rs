//! `claim_forgery` (with `claim = signed`): SQL running as the app role with A's valid token in
//! place rewrites the claim — the injection the signed claim exists to stop — and reads every
//! isolated table. Each must see none of B's rows: a token for B made without the key, A's token
//! with B's id put in, A's token replayed after its expiry (must see nothing at all), B's bare
//! id (the unsigned form); a forged token must not let A insert a row of B either; and the keys
//! themselves must be out of the app role's reach.

use super::Around;
use crate::error::Result;
use crate::verify::Org;
use crate::verify::probe::{Probe, Watch, field, unix_now};
use tenancy_codegen::claim::ClaimKey;
use tenancy_codegen::sql::{ident, literal, names};
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let (Some(key), true) = (&x.runner.key, x.runner.schema.settings.claim.is_signed()) else {
        return Ok(Vec::new());
    };
    let setting = x.runner.schema.settings.claim.setting().to_owned();
    let (a, b) = (x.runner.orgs[Org::A.index()].clone(), x.runner.orgs[Org::B.index()].clone());
    let later = unix_now() + 3600;
    // The same key id, another secret: the MAC cannot match.
    let secret: String = (0..2).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
    let forger = ClaimKey::parse(&format!("{}:{secret}", key.id)).expect("a well-formed key");
    let valid_a = key.token(&a, later);
    let forged = forger.token(&b, later);
    let tampered = valid_a.replacen(&a, &b, 1);
    let expired = key.token(&a, unix_now() - 60);
    let cases: [(&str, String); 4] = [
        ("forged_token", forged.clone()),
        ("tampered_token", tampered),
        ("expired_token", expired),
        ("bare_id", b.clone()),
    ];

    let object = format!("claim {setting}");
    let mut objects = Vec::new();
    let isolated = x.isolated();
    let b_rows: Vec<String> = isolated
        .iter()
        .map(|t| format!("(SELECT count(*) FROM {} WHERE {})", ident(&t.name), x.belongs(t, Org::B)))
        .collect();
    let visible: Vec<String> = isolated.iter().map(|t| format!("(SELECT count(*) FROM {})", ident(&t.name))).collect();
    let sql = format!(
        "SELECT {} AS b_rows, {} AS visible",
        if b_rows.is_empty() { "0".to_owned() } else { b_rows.join(" + ") },
        if visible.is_empty() { "0".to_owned() } else { visible.join(" + ") }
    );
    // What SQL with no claim at all sees: a rewritten claim must not see more (a table whose
    // policies are open shows rows either way; that is the table's attack, not the claim's).
    let (baseline_evidence, baseline) =
        x.runner.run(x.conn, &Probe::query(crate::verify::probe::As::App(None), sql.clone()));
    let (base_b, base_visible) = (field(&baseline.answer, "b_rows"), field(&baseline.answer, "visible"));
    for (attack, token) in cases {
        let rewrite = rewrite(x, &setting, &token);
        let probe = Probe::query(x.claim_a(), sql.clone()).prelude(rewrite);
        let (mut evidence, observed) = x.runner.run(x.conn, &probe);
        let b_seen = field(&observed.answer, "b_rows");
        let seen = field(&observed.answer, "visible");
        // B's rows beyond what no claim shows; an expired token of A's own must not show more
        // than no claim either (not even A's rows).
        let outcome = match (b_seen, seen, base_b, base_visible) {
            (Some(b), _, Some(base), _) if b > base => Outcome::Leaked,
            (_, Some(v), _, Some(base)) if attack == "expired_token" && v > base => Outcome::Leaked,
            (Some(_), Some(_), Some(_), Some(_)) => Outcome::Blocked,
            _ => Outcome::Error,
        };
        evidence.sql = format!(
            "-- with no claim at all:\n{}\n-- with the claim rewritten:\n{}",
            baseline_evidence.sql, evidence.sql
        );
        evidence.result = format!("with no claim: {}\nrewritten: {}", baseline_evidence.result, evidence.result);
        let cell = Cell { attack: format!("claim_{attack}"), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: object.clone(), cell });
    }

    // A forged token does not let A write into B either.
    if let Some(table) = isolated.iter().find(|t| t.is_tenant()).copied() {
        let row = x.samples_row(table)?;
        let rewrite = rewrite(x, &setting, &forged);
        let watch = Watch {
            label: format!("B's rows of {}", table.name),
            from: format!("FROM {} WHERE {}", ident(&table.name), x.belongs(table, Org::B)),
            org: Some(Org::B),
        };
        let probe = Probe::write(x.claim_a(), row, watch).prelude(rewrite);
        let (evidence, observed) = x.runner.run(x.conn, &probe);
        let outcome = if observed.changed() { Outcome::Leaked } else { Outcome::Blocked };
        let cell = Cell { attack: "claim_forged_insert".to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: object.clone(), cell });
    }

    // The keys: the app role may neither read them nor reach their schema.
    let read = format!("SELECT count(*) AS keys FROM {}.{}", ident(names::KEY_SCHEMA), ident(names::KEY_TABLE));
    let (evidence, observed) = x.runner.run(x.conn, &Probe::query(x.claim_a(), read));
    let outcome = if observed.answer.failed().is_some() { Outcome::Blocked } else { Outcome::Leaked };
    let cell = Cell { attack: "claim_key_read".to_owned(), expected: Outcome::Blocked, outcome, evidence };
    objects.push(VerifiedObject { object, cell });
    Ok(objects)
}

/// The claim rewritten by SQL. On Citus only `SET LOCAL` reaches the workers, where the
/// policies run: a rewrite with `set_config()` would leave them A's valid token, and test nothing.
fn rewrite(x: &Around<'_, '_>, setting: &str, token: &str) -> String {
    match x.runner.citus {
        true => format!("SET LOCAL {setting} = {}", literal(token)),
        false => format!("SELECT set_config({}, {}, true)", literal(setting), literal(token)),
    }
}
