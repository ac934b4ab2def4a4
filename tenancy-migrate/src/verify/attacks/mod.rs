//! The attacks on one table, one per file, in matrix column order. Each runs as the app role with
//! organization A's claim unless it says otherwise, in a savepoint rolled back afterwards, and is
//! judged from what PostgreSQL did: what a query returned, or — for writes — whether the watched
//! rows (B's, or A's for the actions that must work) changed, read as the connecting role
//! afterwards. Its [`Verdict`] is the evidence (the statements as they ran, the answer, the rows
//! before and after) and the outcome, or why it does not apply to this table. A new attack is a
//! new file and a new line in `attacks!`.

mod delete_other_org;
mod delete_other_org_unfiltered;
mod delete_own;
mod error_text;
mod insert_other_org;
mod insert_other_org_returning;
mod insert_own;
mod link_shared;
mod lock_table;
mod move_bypassing_rls;
mod move_to_other_org;
mod read_children;
mod read_empty_claim;
mod read_missing_claim;
mod read_other_org;
mod read_own;
mod reference_other_org;
mod references_privilege;
mod trigger_privilege;
mod truncate;
mod unique_other_org;
mod update_other_org;
mod update_other_org_unfiltered;
mod update_own;
mod upsert_other_org;
mod write_shared;

use super::Org;
use super::probe::{As, Observed, Probe, Runner, Watch};
use super::sample::{Insert, Key, Samples};
use crate::catalog::Catalog;
use diesel::PgConnection;
use tenancy_codegen::sql::{ident, literal, scope_column};
use tenancy_schema::report::{Cell, Evidence, Outcome};
use tenancy_schema::{Scope, Table};

/// What an attack found, or why it does not apply to the table.
pub type Verdict = Result<(Evidence, Outcome), String>;

macro_rules! attacks {
    ($($variant:ident => $module:ident, $expected:ident;)*) => {
        /// Every attack on a table, in matrix column order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Attack { $($variant),* }

        impl Attack {
            pub const ALL: &[Attack] = &[$(Attack::$variant),*];

            /// Its code in reports (the file's name).
            pub fn code(self) -> &'static str {
                match self { $(Attack::$variant => stringify!($module)),* }
            }

            /// What a database that isolates organizations answers.
            pub fn expected(self) -> Outcome {
                match self { $(Attack::$variant => Outcome::$expected),* }
            }

            fn verdict(self, target: &mut Target<'_, '_>) -> Verdict {
                match self { $(Attack::$variant => $module::run(target)),* }
            }
        }
    };
}

attacks! {
    ReadOwn => read_own, Allowed;
    InsertOwn => insert_own, Allowed;
    UpdateOwn => update_own, Allowed;
    DeleteOwn => delete_own, Allowed;
    ReadOtherOrg => read_other_org, Blocked;
    InsertOtherOrg => insert_other_org, Blocked;
    InsertOtherOrgReturning => insert_other_org_returning, Blocked;
    UpdateOtherOrg => update_other_org, Blocked;
    UpdateOtherOrgUnfiltered => update_other_org_unfiltered, Blocked;
    DeleteOtherOrg => delete_other_org, Blocked;
    DeleteOtherOrgUnfiltered => delete_other_org_unfiltered, Blocked;
    UpsertOtherOrg => upsert_other_org, Blocked;
    MoveToOtherOrg => move_to_other_org, Blocked;
    ReferenceOtherOrg => reference_other_org, Blocked;
    UniqueOtherOrg => unique_other_org, Blocked;
    ReadMissingClaim => read_missing_claim, Blocked;
    ReadEmptyClaim => read_empty_claim, Blocked;
    ReadChildren => read_children, Blocked;
    Truncate => truncate, Blocked;
    TriggerPrivilege => trigger_privilege, Blocked;
    ReferencesPrivilege => references_privilege, Blocked;
    MoveBypassingRls => move_bypassing_rls, Blocked;
    WriteShared => write_shared, Blocked;
    LockTable => lock_table, Blocked;
    ErrorText => error_text, Blocked;
    LinkShared => link_shared, Blocked;
}

impl Attack {
    /// Runs the attack on `table`: its cell of the matrix.
    pub fn run(
        self,
        conn: &mut PgConnection,
        runner: &Runner<'_>,
        catalog: &Catalog,
        samples: &mut Samples,
        table: &Table,
    ) -> Cell {
        let mut target = Target { conn, runner, catalog, samples, table };
        let (evidence, mut outcome) = self
            .verdict(&mut target)
            .unwrap_or_else(|why| (Evidence { sql: String::new(), result: why }, Outcome::Skipped));
        if evidence.result.contains(super::probe::EXPOSED) {
            outcome = Outcome::Leaked;
        }
        Cell { attack: self.code().to_owned(), expected: self.expected(), outcome, evidence }
    }
}

/// One table under attack, and what attacks share.
pub struct Target<'c, 'r> {
    pub conn: &'c mut PgConnection,
    pub runner: &'r Runner<'r>,
    pub catalog: &'r Catalog,
    pub samples: &'c mut Samples,
    pub table: &'r Table,
}

impl<'r> Target<'_, 'r> {
    fn is_root(&self) -> bool {
        self.table.scope == Scope::Root
    }

    /// Attacks on rows the app role writes: not on shared or global tables, which it only reads
    /// (`write_shared` tries their writes).
    fn writable(&self) -> Result<(), String> {
        match self.table.scope {
            Scope::Shared | Scope::Global => {
                Err("the app role only reads this table (write_shared tries its writes)".to_owned())
            }
            Scope::Internal => {
                Err("the app role has no access to this table (write_shared tries its writes)".to_owned())
            }
            Scope::Root | Scope::Tenant => Ok(()),
        }
    }

    /// Attacks on which rows A sees: not on a global table, whose rows every organization reads.
    fn per_org(&self) -> Result<(), String> {
        match self.table.scope {
            Scope::Global => Err("a global table is reference data every organization reads".to_owned()),
            _ => Ok(()),
        }
    }

    /// Whether a row of the table belongs to `org`: its org column, or — shared — a link row of
    /// `org`; every row of a global table belongs to all, no row of an internal one to any.
    fn belongs(&self, org: Org) -> String {
        let settings = &self.runner.schema.settings;
        match tenancy_codegen::sql::belongs_to(settings, self.table, &self.runner.org_literal(org)) {
            Some(condition) => condition,
            None if self.table.scope == Scope::Internal => "false".to_owned(),
            None => "true".to_owned(),
        }
    }

    /// The table, quoted.
    fn t(&self) -> String {
        ident(&self.table.name)
    }

    /// The column compared with the claim.
    fn scope_name(&self) -> &'r str {
        let settings = &self.runner.schema.settings;
        scope_column(settings, self.table).unwrap_or(&settings.org_column)
    }

    /// The column compared with the claim, quoted.
    fn scope(&self) -> String {
        ident(self.scope_name())
    }

    fn claim_a(&self) -> As<'r> {
        let runner: &'r Runner<'r> = self.runner;
        As::App(Some(&runner.orgs[Org::A.index()]))
    }

    /// `key = '<key>'::type` (each key column).
    fn key_is(&self, key: &[String]) -> String {
        super::sample::key_is(self.table, key)
    }

    /// The key of `org`'s sample row.
    fn sample_key(&self, org: Org) -> Key {
        self.samples.key(&self.table.name, org).unwrap_or_default().to_vec()
    }

    /// The rows of `org` in this table (every row of a global table), watched by write probes.
    fn watch(&self, org: Org) -> Watch {
        match self.table.scope {
            Scope::Global | Scope::Internal => Watch {
                label: format!("the rows of {}", self.table.name),
                from: format!("FROM {}", self.t()),
                org: None,
            },
            _ => Watch {
                label: format!("{}'s rows of {}", org.name(), self.table.name),
                from: format!("FROM {} WHERE {}", self.t(), self.belongs(org)),
                org: Some(org),
            },
        }
    }

    /// Rows of A and of any other organization, visible to the caller.
    fn count_sql(&self) -> String {
        let (own, t) = (self.belongs(Org::A), self.t());
        format!(
            "SELECT count(*) FILTER (WHERE coalesce({own}, false)) AS own, count(*) FILTER (WHERE NOT coalesce({own}, false)) AS other FROM {t}"
        )
    }

    /// A fresh row of `org`, its shared references at `global`'s rows and the column
    /// `references` (if any) pointing at that organization's parent.
    fn row(&mut self, org: Org, global: Org, references: Option<(&str, Org)>) -> Result<Insert, String> {
        self.samples.row(self.runner.schema, self.table, org, &self.runner.orgs, global, references)
    }

    fn probe(&mut self, probe: &Probe<'_>) -> (Evidence, Observed) {
        self.runner.run(self.conn, probe)
    }

    /// `org`'s sample row as JSON (read as the connecting role), for statements that copy it.
    fn sample_json(&mut self, org: Org) -> Result<String, String> {
        let sql = format!("SELECT to_jsonb(t) AS row FROM {} t WHERE {}", self.t(), self.key_is(&self.sample_key(org)));
        let rows = super::probe::read(self.conn, &sql)?;
        let row: serde_json::Value =
            serde_json::from_str(rows.first().ok_or("its sample row is gone")?).map_err(|e| e.to_string())?;
        Ok(row["row"].to_string())
    }

    /// `(jsonb_populate_record(NULL::t, '<json>')).column`: a value typed like the column that
    /// does not read the table (so the SELECT policies stay out of the way).
    fn constant(&self, json: &str, column: &str) -> String {
        format!("(jsonb_populate_record(NULL::{}, {}::jsonb)).{}", self.t(), literal(json), ident(column))
    }

    /// `INSERT INTO t (columns) OVERRIDING SYSTEM VALUE VALUES (...)` of the row in `json` (an
    /// object of column values), each value typed like its column. A `VALUES` list, not
    /// `INSERT ... SELECT` from a function: Citus routes the one and turns the other into a
    /// COPY, which row-level security refuses — the probe would fail for Citus's reason.
    fn insert_json(&self, json: &str) -> Result<String, String> {
        let row: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let columns: Vec<&String> = row.as_object().ok_or("the row is not a JSON object")?.keys().collect();
        let names: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let values: Vec<String> = columns.iter().map(|c| self.constant(json, c)).collect();
        Ok(format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
            self.t(),
            names.join(", "),
            values.join(", ")
        ))
    }

    /// A column an UPDATE can set without reading the table or breaking a key: not a key, not
    /// the org column, not referencing, not in a unique key.
    fn free_column(&self) -> Option<&'r str> {
        let table: &'r Table = self.table;
        let in_unique = |name: &str| table.uniques.iter().any(|u| u.iter().any(|c| c == name));
        table
            .columns
            .iter()
            .find(|c| !c.key && !c.unique && c.references.is_none() && !in_unique(&c.name))
            .map(|c| c.name.as_str())
    }

    /// Moves a fresh row of A to B together with its references (so that no foreign key can be
    /// what stops it): the row, and the UPDATE.
    fn fresh_row_moved_to_b(&mut self) -> Result<(Insert, String), String> {
        if !self.table.is_tenant() {
            return Err("only tenant rows have an org column to move".to_owned());
        }
        let row = self.row(Org::A, Org::B, None)?;
        let schema = self.runner.schema;
        let mut set = vec![format!("{} = {}", self.scope(), self.runner.org_literal(Org::B))];
        for column in &self.table.columns {
            let Some(reference) = &column.references else { continue };
            let parent = schema.table(&reference.table).expect("validated reference");
            if parent.is_tenant()
                && reference.table != self.table.name
                && let Some(key) = self.samples.single_key(&reference.table, Org::B)
            {
                set.push(format!("{} = {}::{}", ident(&column.name), literal(key), parent.key().ty.sql_name()));
            }
        }
        let sql = format!("UPDATE {} SET {} WHERE {}", self.t(), set.join(", "), self.key_is(&row.key));
        Ok((row, sql))
    }

    /// `SET LOCAL session_replication_role = replica` when the connecting role may: foreign-key
    /// and other triggers stay out of a probe, so that only row-level security decides it. Not
    /// on Citus, which would pass the setting on to the app role's connections to the workers.
    fn without_triggers(&self, probe: Probe<'r>) -> Probe<'r> {
        if self.runner.superuser && !self.runner.citus {
            probe.setup("SET LOCAL session_replication_role = replica")
        } else {
            probe
        }
    }
}

/// A write of B's rows is judged by whether they changed.
fn judge_other(observed: &Observed) -> Outcome {
    if observed.setup_failed() {
        Outcome::Error
    } else if observed.changed() {
        Outcome::Leaked
    } else {
        Outcome::Blocked
    }
}

/// A move of A's fresh row to B: moved, leaked; refused, blocked; A's own fresh row not even
/// there (the UPDATE touched nothing), an error.
fn judge_move(observed: &Observed) -> Outcome {
    match &observed.answer {
        _ if observed.setup_failed() => Outcome::Error,
        _ if observed.changed() => Outcome::Leaked,
        super::probe::Answer::Affected(0) => Outcome::Error,
        _ => Outcome::Blocked,
    }
}

/// An action on A's own rows must change them.
fn judge_own(observed: &Observed) -> Outcome {
    if observed.changed() && observed.answer.failed().is_none() { Outcome::Allowed } else { Outcome::Error }
}
