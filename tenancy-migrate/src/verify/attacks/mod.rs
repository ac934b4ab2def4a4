//! The attacks, one per file, in matrix column order. Each runs against one table, as the app
//! role with organization A's claim unless it says otherwise, in a savepoint rolled back
//! afterwards, and is judged from what PostgreSQL answered: its [`Verdict`] is the evidence (the
//! statements as they ran and the answer) and the outcome, or why it does not apply to this
//! table. A new attack is a new file and a new variant.

mod delete_other_org;
mod delete_own;
mod insert_other_org;
mod insert_own;
mod move_bypassing_rls;
mod move_to_other_org;
mod read_empty_claim;
mod read_missing_claim;
mod read_other_org;
mod read_own;
mod reference_other_org;
mod update_other_org;
mod update_own;

use super::Org;
use super::probe::{As, Probe, Runner};
use super::sample::Samples;
use diesel::PgConnection;
use tenancy_codegen::sql::{ident, literal, scope_column};
use tenancy_schema::report::{Cell, Evidence, Outcome};
use tenancy_schema::{Scope, Table};

/// What an attack found, or why it does not apply to the table.
pub type Verdict = Result<(Evidence, Outcome), String>;

macro_rules! attacks {
    ($($variant:ident => $module:ident, $expected:ident;)*) => {
        /// Every attack, in matrix column order.
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
    UpdateOtherOrg => update_other_org, Blocked;
    DeleteOtherOrg => delete_other_org, Blocked;
    MoveToOtherOrg => move_to_other_org, Blocked;
    ReferenceOtherOrg => reference_other_org, Blocked;
    ReadMissingClaim => read_missing_claim, Blocked;
    ReadEmptyClaim => read_empty_claim, Blocked;
    MoveBypassingRls => move_bypassing_rls, Blocked;
}

impl Attack {
    /// Runs the attack on `table`: its cell of the matrix.
    pub fn run(self, conn: &mut PgConnection, runner: &Runner<'_>, samples: &mut Samples, table: &Table) -> Cell {
        let mut target = Target { conn, runner, samples, table };
        let (evidence, outcome) = self
            .verdict(&mut target)
            .unwrap_or_else(|why| (Evidence { sql: String::new(), result: why }, Outcome::Skipped));
        Cell { attack: self.code().to_owned(), expected: self.expected(), outcome, evidence }
    }
}

/// One table under attack, and what attacks share.
pub struct Target<'c, 'r> {
    pub conn: &'c mut PgConnection,
    pub runner: &'r Runner<'r>,
    pub samples: &'c mut Samples,
    pub table: &'r Table,
}

impl<'r> Target<'_, 'r> {
    fn is_root(&self) -> bool {
        self.table.scope == Scope::Root
    }

    /// The table, quoted.
    fn t(&self) -> String {
        ident(&self.table.name)
    }

    /// The column compared with the claim, quoted.
    fn scope(&self) -> String {
        let settings = &self.runner.schema.settings;
        ident(scope_column(settings, self.table).unwrap_or(&settings.org_column))
    }

    fn claim_a(&self) -> As<'r> {
        let runner: &'r Runner<'r> = self.runner;
        As::App(Some(&runner.orgs[Org::A.index()]))
    }

    /// `key = '<sample row of org>'::type`.
    fn key_is(&self, org: Org) -> String {
        let key = self.table.key();
        format!(
            "{} = {}::{}",
            ident(&key.name),
            literal(self.samples.key(&self.table.name, org).unwrap_or_default()),
            key.ty.sql_name()
        )
    }

    /// `key = $key::type`, for a statement run after a prelude that makes a row.
    fn key_is_prelude(&self) -> String {
        let key = self.table.key();
        format!("{} = $key::{}", ident(&key.name), key.ty.sql_name())
    }

    /// Rows of A and of any other organization, visible to the caller.
    fn count_sql(&self) -> String {
        let (scope, t, a) = (self.scope(), self.t(), self.runner.org_literal(Org::A));
        format!(
            "SELECT count(*) FILTER (WHERE {scope} = {a}) AS own, count(*) FILTER (WHERE {scope} IS DISTINCT FROM {a}) AS other FROM {t}"
        )
    }

    /// `INSERT ... RETURNING key` of a row of `org`, its shared references at `global`'s rows and
    /// the column `references` (if any) pointing at that organization's parent.
    fn insert_sql(&mut self, org: Org, global: Org, references: Option<(&str, Org)>) -> Result<String, String> {
        self.samples.insert_sql(self.runner.schema, self.table, org, &self.runner.orgs, global, references)
    }

    fn probe(&mut self, who: As<'_>, sql: &str, query: bool) -> (Evidence, Probe) {
        self.runner.probe(self.conn, who, sql, query)
    }

    fn probe_after(&mut self, who: As<'_>, prelude: &str, sql: &str, query: bool) -> (Evidence, Probe) {
        self.runner.probe_after(self.conn, who, Some(prelude), sql, query)
    }

    /// Moves a fresh row of A to B together with its references (so that no foreign key can be
    /// what stops it): the prelude making the row, and the UPDATE.
    fn fresh_row_moved_to_b(&mut self) -> Result<(String, String), String> {
        if self.is_root() {
            return Err("organizations have no org column to move".to_owned());
        }
        let insert = self.insert_sql(Org::A, Org::B, None)?;
        let schema = self.runner.schema;
        let mut set = vec![format!("{} = {}", self.scope(), self.runner.org_literal(Org::B))];
        for column in &self.table.columns {
            let Some(reference) = &column.references else { continue };
            let parent = schema.table(&reference.table).expect("validated reference");
            if parent.is_tenant()
                && reference.table != self.table.name
                && let Some(key) = self.samples.key(&reference.table, Org::B)
            {
                set.push(format!("{} = {}::{}", ident(&column.name), literal(key), parent.key().ty.sql_name()));
            }
        }
        let sql = format!("UPDATE {} SET {} WHERE {}", self.t(), set.join(", "), self.key_is_prelude());
        Ok((insert, sql))
    }

    /// A column an UPDATE can set to itself without changing anything.
    fn touch(&self) -> String {
        let column = self.table.columns.iter().find(|c| !c.key).unwrap_or(self.table.key());
        ident(&column.name)
    }
}

/// An UPDATE that moved a row: leaked; that found no row of its own: an error; refused: blocked.
fn judge_move(probe: &Probe) -> Outcome {
    match probe {
        Probe::Affected(n) if *n > 0 => Outcome::Leaked,
        Probe::Affected(_) => Outcome::Error, // A's own row was not even visible
        _ => Outcome::Blocked,
    }
}
