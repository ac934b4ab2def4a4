//! `references_privilege`: with REFERENCES on the table, any table the app role owns can point a
//! foreign key at it and probe which keys exist in other organizations. The probe gives the app
//! role a scratch table (made by the connecting role, rolled back) and asks for that key.

use super::{Target, Verdict};
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let primary = x.catalog.primary_key(&x.table.name).ok_or("no primary key to reference")?;
    let mut columns = Vec::new();
    for name in &primary.columns {
        let column = x.catalog.column(&x.table.name, name).ok_or("its key columns are not in the catalog")?;
        columns.push(format!("{} {}", ident(name), column.ty));
    }
    let keys: Vec<String> = primary.columns.iter().map(|c| ident(c)).collect();
    let scratch = format!("{}.tenancy_verify_references", ident(x.table.schema_in(&x.runner.schema.settings)));
    let app = ident(&x.runner.schema.settings.app_role);
    let sql = format!("ALTER TABLE {scratch} ADD FOREIGN KEY ({k}) REFERENCES {} ({k})", x.t(), k = keys.join(", "));
    let probe = Probe::statement(x.claim_a(), sql)
        .setup(format!("CREATE TABLE {scratch} ({})", columns.join(", ")))
        .setup(format!("ALTER TABLE {scratch} OWNER TO {app}"));
    let (evidence, observed) = x.probe(&probe);
    let outcome = match &observed.answer {
        _ if observed.setup_failed() => Outcome::Error,
        answer if answer.failed().is_none() => Outcome::Leaked,
        _ => Outcome::Blocked,
    };
    Ok((evidence, outcome))
}
