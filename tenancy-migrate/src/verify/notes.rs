//! What "0 leaked" does not cover, each shown by a statement verify ran (as A, rolled back):
//!
//! - `claim_forgeable`: the claim is a setting, and any SQL the app role runs can set it — one
//!   SQL injection in the application names another organization. verify's attacks assume the
//!   application sets the claim from a verified credential, in a transaction of its own.
//! - `temporary_objects`: the app role can create temporary objects (TEMP on the database,
//!   granted to PUBLIC by default): not a leak by itself, but code of its own in the session.

use super::Org;
use super::objects::Around;
use super::probe::{Probe, field};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::Note;

pub fn collect(x: &mut Around<'_, '_>) -> Vec<Note> {
    let mut notes = Vec::new();
    notes.extend(claim_forgeable(x));
    notes.extend(temporary_objects(x));
    notes
}

fn claim_forgeable(x: &mut Around<'_, '_>) -> Option<Note> {
    // A signed claim is attacked instead (objects/claim_forgery.rs): minting B's token here
    // would use verify's own key, which no attacker holds.
    if x.runner.schema.settings.claim.is_signed() {
        return None;
    }
    let table = x.isolated().into_iter().next()?;
    let sql = format!("SELECT count(*) AS seen FROM {} WHERE {}", ident(&table.name), x.belongs(table, Org::B));
    // As the app role with A's claim, then the claim rewritten to B by the SQL itself.
    let forge = x.runner.claim_sql(&x.runner.orgs[Org::B.index()]);
    let (evidence, observed) = x.runner.run(x.conn, &Probe::query(x.claim_a(), sql).prelude(forge));
    let seen = field(&observed.answer, "seen").unwrap_or(0);
    (seen > 0).then(|| Note {
        code: "claim_forgeable".to_owned(),
        message: format!(
            "the claim is an unsigned setting: SQL running as {} with A's claim set it to B's id and read B's rows of {}. \"0 leaked\" holds for SQL that does not set the claim itself (the org-scoped API sets it from a verified credential); an injection can",
            x.runner.schema.settings.app_role, table.name
        ),
        evidence,
    })
}

fn temporary_objects(x: &mut Around<'_, '_>) -> Option<Note> {
    let probe = Probe::statement(x.claim_a(), "CREATE TEMP TABLE tenancy_verify_probe ()");
    let (evidence, observed) = x.runner.run(x.conn, &probe);
    observed.answer.failed().is_none().then(|| Note {
        code: "temporary_objects".to_owned(),
        message: format!(
            "{} can create temporary objects (TEMP on this database, granted to PUBLIC by default): not a leak by itself; REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC where nothing else needs it",
            x.runner.schema.settings.app_role
        ),
        evidence,
    })
}
