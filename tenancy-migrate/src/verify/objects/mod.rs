//! Attacks on the database around the tables, one kind of object per file: schemas the app role
//! could create objects in (`schema_create`), roles it can become (`member_role`), views over
//! isolated tables it can read (`view_read`), SECURITY DEFINER functions it can call
//! (`function_call`), with the signed claim the claim itself (`claim_forgery`), the sessions
//! the application opens (`fresh_login`, `login_defaults`), and what A can infer without reading
//! a row — reported as info, never a pass in disguise: table statistics, EXPLAIN's counts,
//! shared sequences, other sessions' SQL and signals (`table_statistics`, `explain_counts`,
//! `identity_keys`, `backend_activity`).
//! Views and functions are judged by difference: what A sees through them
//! with B's rows present, and with B's rows removed (as the connecting role, inside the probe's
//! savepoint). Any difference is B's data reaching A.

mod backend_activity;
mod claim_forgery;
mod explain_counts;
mod fresh_login;
mod function_call;
mod identity_keys;
mod login_defaults;
mod member_role;
mod schema_create;
mod table_statistics;
mod view_read;

use super::Org;
use super::probe::{As, Probe, Runner, read};
use super::sample::Samples;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use diesel::PgConnection;
use tenancy_codegen::sql::{belongs_to, ident, literal};
use tenancy_schema::report::{Cell, Evidence, Outcome, VerifiedObject};
use tenancy_schema::{Scope, Table};

/// What object attacks share.
pub struct Around<'c, 'r> {
    pub conn: &'c mut PgConnection,
    pub runner: &'r Runner<'r>,
    pub catalog: &'r Catalog,
    pub samples: &'c mut Samples,
}

/// Every object attack.
pub fn attack(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let mut objects = Vec::new();
    objects.extend(schema_create::run(x)?);
    objects.extend(member_role::run(x)?);
    objects.extend(view_read::run(x)?);
    objects.extend(function_call::run(x)?);
    objects.extend(claim_forgery::run(x)?);
    objects.extend(fresh_login::run(x)?);
    objects.extend(login_defaults::run(x)?);
    // What A can infer without reading a row (info): volumes, activity, signals.
    objects.extend(table_statistics::run(x)?);
    objects.extend(explain_counts::run(x)?);
    objects.extend(identity_keys::run(x)?);
    objects.extend(backend_activity::run(x)?);
    // An error that names B's data is a leak, whatever the attack concluded.
    for object in &mut objects {
        if object.cell.evidence.result.contains(super::probe::EXPOSED) {
            object.cell.outcome = Outcome::Leaked;
        }
    }
    Ok(objects)
}

impl<'r> Around<'_, 'r> {
    pub fn claim_a(&self) -> As<'r> {
        let runner: &'r Runner<'r> = self.runner;
        As::App(Some(&runner.orgs[Org::A.index()]))
    }

    /// A plain insert of a fresh row of B into `table`.
    pub fn samples_row(&mut self, table: &Table) -> Result<String> {
        let row = self
            .samples
            .row(self.runner.schema, table, Org::B, &self.runner.orgs, Org::A, None)
            .map_err(|reason| Error::Verify(format!("cannot make a row of {} ({reason})", table.name)))?;
        Ok(row.sql())
    }

    /// Rows of the connecting role's query, or an error naming what was being read.
    pub fn read(&mut self, doing: &str, sql: &str) -> Result<Vec<serde_json::Value>> {
        let rows = read(self.conn, sql).map_err(|reason| Error::Database { doing: doing.to_owned(), reason })?;
        Ok(rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
    }

    /// Declared isolated tables (root, tenant, shared) that have sample rows.
    pub fn isolated(&self) -> Vec<&'r Table> {
        let samples: &Samples = self.samples;
        let schema = self.runner.schema;
        schema
            .tables_in_dependency_order()
            .into_iter()
            .filter(|t| t.scope.is_isolated() && samples.key(&t.name, Org::B).is_some())
            .collect()
    }

    /// Whether a row of `table` belongs to `org` (an SQL condition on the table's own name).
    pub fn belongs(&self, table: &Table, org: Org) -> String {
        belongs_to(&self.runner.schema.settings, table, &self.runner.org_literal(org))
            .unwrap_or_else(|| "true".to_owned())
    }

    /// `(SELECT oid ...)`: the namespaces of every schema of the declaration (catalog filters).
    pub fn namespaces(&self) -> String {
        format!(
            "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY (string_to_array({}, ',')))",
            literal(&self.catalog.schema)
        )
    }

    /// Rows of organizations other than A in every isolated table, as one number `other`.
    pub fn other_rows_sql(&self) -> String {
        let counts: Vec<String> = self
            .isolated()
            .into_iter()
            .map(|t| {
                format!(
                    "(SELECT count(*) FROM {} WHERE NOT coalesce({}, false))",
                    ident(&t.name),
                    self.belongs(t, Org::A)
                )
            })
            .collect();
        format!("SELECT {} AS other", if counts.is_empty() { "0".to_owned() } else { counts.join(" + ") })
    }

    /// Statements (as the connecting role) that remove B's rows: shared rows linked to B and not
    /// to A first (while B's links still say which they are), then tenant children, then B.
    pub fn remove_b(&self) -> Vec<String> {
        let mut statements = vec!["SET LOCAL session_replication_role = replica".to_owned()];
        if !self.runner.superuser {
            statements.clear();
        }
        let isolated = self.isolated();
        // Shared rows first, while B's links still say which they are.
        for table in isolated.iter().filter(|t| t.scope == Scope::Shared) {
            statements.push(format!(
                "DELETE FROM {} WHERE {} AND NOT coalesce({}, false)",
                ident(&table.name),
                self.belongs(table, Org::B),
                self.belongs(table, Org::A)
            ));
        }
        for table in isolated.into_iter().rev().filter(|t| t.scope != Scope::Shared) {
            statements.push(format!("DELETE FROM {} WHERE {}", ident(&table.name), self.belongs(table, Org::B)));
        }
        statements
    }

    /// What `select` (rows of one JSON column `r`) shows A: a row count and a digest.
    pub fn digest_sql(select: &str) -> String {
        format!(
            "SELECT count(*) AS rows, coalesce(md5(string_agg(r::text, ',' ORDER BY r::text)), '') AS digest FROM ({select}) s"
        )
    }

    /// Runs `select` as A twice — with B's rows, and with them removed — and compares: any
    /// difference is B's data reaching A.
    pub fn differential(&mut self, object: String, attack: &str, setup: &[String], select: &str) -> VerifiedObject {
        let sql = Self::digest_sql(select);
        if self.runner.citus {
            let result = "not attacked on a Citus coordinator: B's rows cannot be removed for one probe (the connecting role's deletes and A's reads of the same shards cannot share a transaction there); verify a single node with the same migrations for this object".to_owned();
            let cell = Cell {
                attack: attack.to_owned(),
                expected: Outcome::Blocked,
                outcome: Outcome::Skipped,
                evidence: Evidence { sql, result },
            };
            return VerifiedObject { object, cell };
        }
        let mut with_b = Probe::query(self.claim_a(), sql.clone());
        let mut without_b = Probe::query(self.claim_a(), sql);
        for statement in setup {
            with_b = with_b.setup(statement.clone());
        }
        for statement in self.remove_b().into_iter().chain(setup.iter().cloned()) {
            without_b = without_b.setup(statement);
        }
        let (first, seen) = self.runner.run(self.conn, &with_b);
        let (second, unseen) = self.runner.run(self.conn, &without_b);
        let outcome = match (seen.answer.failed(), unseen.answer.failed()) {
            (None, None) if seen.answer != unseen.answer => Outcome::Leaked,
            (None, None) => Outcome::Blocked,
            // Refused to A either way (no privilege): nothing reaches it.
            (Some(f), Some(_)) if f.message.contains("permission denied") => Outcome::Blocked,
            _ => Outcome::Error,
        };
        let evidence = Evidence {
            sql: format!("-- with B's rows:\n{}\n-- with B's rows removed:\n{}", first.sql, second.sql),
            result: format!(
                "with B's rows: {}\nwithout: {}\n{}",
                first.result,
                second.result,
                match outcome {
                    Outcome::Leaked => "A sees something different when B's rows are gone: B's data reaches A",
                    Outcome::Blocked => "the same either way: B's rows do not reach A",
                    _ => "could not be compared",
                }
            ),
        };
        VerifiedObject {
            object,
            cell: Cell { attack: attack.to_owned(), expected: Outcome::Blocked, outcome, evidence },
        }
    }
}

/// `'<name>'`, as a literal.
fn quoted(name: &str) -> String {
    literal(name)
}
