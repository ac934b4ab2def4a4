//! How each statement is written: every identifier through [`ident`], every value through
//! [`literal`]; expressions (defaults, policy conditions, definitions read back from the
//! database) are SQL already and written as they are.

use super::*;
use crate::sql::{ident, literal};
use std::fmt::{self, Display, Formatter};

fn idents(names: &[String]) -> String {
    names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
}

/// Index keys: columns, or an expression in parentheses (a declared key, written verbatim).
fn index_columns(keys: &[String]) -> String {
    keys.iter().map(|k| if k.starts_with('(') { k.clone() } else { ident(k) }).collect::<Vec<_>>().join(", ")
}

fn list<T: Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn if_exists(yes: bool) -> &'static str {
    if yes { " IF EXISTS" } else { "" }
}

impl Display for Ddl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Ddl::EnsureAppRole { role } => write!(
                f,
                "DO $tenancy$\n\
                 BEGIN\n\
                 \x20 IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {name}) THEN\n\
                 \x20   CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;\n\
                 \x20 ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {name} AND (rolsuper OR rolbypassrls)) THEN\n\
                 \x20   RAISE EXCEPTION 'app role % is SUPERUSER or BYPASSRLS, so row-level security would not apply to it', {name}\n\
                 \x20     USING HINT = 'run ALTER ROLE ' || quote_ident({name}) || ' NOSUPERUSER NOBYPASSRLS, or set another app_role';\n\
                 \x20 END IF;\n\
                 END\n\
                 $tenancy$;",
                name = literal(role),
                role = ident(role),
            ),
            Ddl::GrantSchemaUsage { schema, role } => {
                write!(f, "GRANT USAGE ON SCHEMA {} TO {};", ident_or_public(schema), ident(role))
            }
            Ddl::RevokeSchemaUsage { schema, role } => {
                write!(f, "REVOKE USAGE ON SCHEMA {} FROM {};", ident_or_public(schema), ident(role))
            }
            Ddl::GrantSequenceUsage { sequence, role } => {
                write!(f, "GRANT USAGE ON SEQUENCE {}.{} TO {};", ident(&sequence.schema), ident(&sequence.name), ident(role))
            }
            Ddl::RevokeSequenceUsage { sequence, role } => {
                write!(f, "REVOKE USAGE ON SEQUENCE {}.{} FROM {};", ident(&sequence.schema), ident(&sequence.name), ident(role))
            }
            Ddl::CreateFunction(Function { name, or_replace, returns, language, body, arguments }) => write!(
                f,
                "CREATE {replace}FUNCTION {name}({arguments}) RETURNS {returns}\n\
                 \x20 LANGUAGE {language}\n\
                 \x20 SET search_path = pg_catalog, pg_temp\n\
                 \x20 AS $tenancy${body}$tenancy$;",
                name = ident(name),
                replace = if *or_replace { "OR REPLACE " } else { "" },
            ),
            Ddl::DropFunction { function, if_exists: yes } => write!(f, "DROP FUNCTION{} {function};", if_exists(*yes)),
            Ddl::GrantExecute { function, to } => write!(f, "GRANT EXECUTE ON FUNCTION {function} TO {};", list(to)),
            Ddl::RevokeExecute { function, from } => {
                write!(f, "REVOKE EXECUTE ON FUNCTION {function} FROM {};", list(from))
            }
            Ddl::CreateTable { table, schema, elements } => {
                let name = match schema {
                    Some(namespace) => format!("{}.{}", ident(namespace), ident(table)),
                    None => ident(table),
                };
                write!(f, "CREATE TABLE {name} (\n  {}\n);", elements.iter().map(ToString::to_string).collect::<Vec<_>>().join(",\n  "))
            }
            Ddl::DropTables { tables, if_exists: yes } => write!(f, "DROP TABLE{} {};", if_exists(*yes), idents(tables)),
            Ddl::AddColumn { table, column, if_not_exists } => write!(
                f,
                "ALTER TABLE {} ADD COLUMN {}{column};",
                ident(table),
                if *if_not_exists { "IF NOT EXISTS " } else { "" }
            ),
            Ddl::DropColumn { table, column, if_exists: yes } => {
                write!(f, "ALTER TABLE {} DROP COLUMN{} {};", ident(table), if_exists(*yes), ident(column))
            }
            Ddl::SetDefault { table, column, default: Some(default) } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default};", ident(table), ident(column))
            }
            Ddl::SetDefault { table, column, default: None } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT;", ident(table), ident(column))
            }
            Ddl::SetNotNull { table, column } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL;", ident(table), ident(column))
            }
            Ddl::DropNotNull { table, column } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL;", ident(table), ident(column))
            }
            Ddl::AddConstraint { table, constraint, not_valid } => write!(
                f,
                "ALTER TABLE {} ADD {constraint}{};",
                ident(table),
                if *not_valid { " NOT VALID" } else { "" }
            ),
            Ddl::ValidateConstraint { table, name, .. } => {
                write!(f, "ALTER TABLE {} VALIDATE CONSTRAINT {};", ident(table), ident(name))
            }
            Ddl::DropConstraint { table, name, if_exists: yes, cascade } => write!(
                f,
                "ALTER TABLE {} DROP CONSTRAINT{} {}{};",
                ident(table),
                if_exists(*yes),
                ident(name),
                if *cascade { " CASCADE" } else { "" }
            ),
            Ddl::RenameConstraint { table, from, to } => {
                write!(f, "ALTER TABLE {} RENAME CONSTRAINT {} TO {};", ident(table), ident(from), ident(to))
            }
            Ddl::ReplacePrimaryKey { table, drop, name, index } => {
                let drop = drop.as_ref().map_or(String::new(), |old| format!(" DROP CONSTRAINT {},", ident(old)));
                write!(
                    f,
                    "ALTER TABLE {}{drop} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {};",
                    ident(table),
                    ident(name),
                    ident(index)
                )
            }
            Ddl::CreateIndex { name, table, columns, unique, concurrently, if_not_exists } => write!(
                f,
                "CREATE {}INDEX {}{}{} ON {} ({});",
                if *unique { "UNIQUE " } else { "" },
                if *concurrently { "CONCURRENTLY " } else { "" },
                if *if_not_exists { "IF NOT EXISTS " } else { "" },
                ident(name),
                ident(table),
                index_columns(columns)
            ),
            Ddl::DropIndex { name, concurrently, if_exists: yes } => write!(
                f,
                "DROP INDEX {}{}{};",
                if *concurrently { "CONCURRENTLY " } else { "" },
                if *yes { "IF EXISTS " } else { "" },
                ident(name)
            ),
            Ddl::EnableRls { table } => write!(f, "ALTER TABLE {} ENABLE ROW LEVEL SECURITY;", ident(table)),
            Ddl::DisableRls { table } => write!(f, "ALTER TABLE {} DISABLE ROW LEVEL SECURITY;", ident(table)),
            Ddl::ForceRls { table } => write!(f, "ALTER TABLE {} FORCE ROW LEVEL SECURITY;", ident(table)),
            Ddl::NoForceRls { table } => write!(f, "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY;", ident(table)),
            Ddl::CreatePolicy(policy) => {
                if f.alternate() {
                    write!(f, "{policy:#};")
                } else {
                    write!(f, "{policy};")
                }
            }
            Ddl::DropPolicy { name, table, if_exists: yes } => {
                write!(f, "DROP POLICY{} {} ON {};", if_exists(*yes), ident(name), ident(table))
            }
            Ddl::CreateTrigger { name, table, update_of, function } => write!(
                f,
                "CREATE TRIGGER {} BEFORE UPDATE OF {} ON {}\n  FOR EACH ROW EXECUTE FUNCTION {}();",
                ident(name),
                ident(update_of),
                ident(table),
                ident(function)
            ),
            Ddl::DropTrigger { name, table, if_exists: yes } => {
                write!(f, "DROP TRIGGER{} {} ON {};", if_exists(*yes), ident(name), ident(table))
            }
            Ddl::Grant { privileges, table, role } => {
                write!(f, "GRANT {} ON {} TO {};", privilege_list(privileges), ident(table), ident(role))
            }
            Ddl::Revoke { privileges, table, role } => {
                write!(f, "REVOKE {} ON {} FROM {};", privilege_list(privileges), ident(table), ident(role))
            }
            Ddl::SetOwner { table, owner } => {
                let owner = match owner {
                    Owner::CurrentUser => "CURRENT_USER".to_owned(),
                    Owner::Role(role) => ident(role),
                };
                write!(f, "ALTER TABLE {} OWNER TO {owner};", ident(table))
            }
            Ddl::ViewSecurityInvoker { view, on: true } => {
                write!(f, "ALTER VIEW {} SET (security_invoker = true);", ident(view))
            }
            Ddl::ViewSecurityInvoker { view, on: false } => {
                write!(f, "ALTER VIEW {} RESET (security_invoker);", ident(view))
            }
            Ddl::InsertIfMissing { table, columns, values } => write!(
                f,
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING;",
                ident(table),
                idents(columns),
                values.join(", ")
            ),
            Ddl::Backfill { sql } => f.write_str(sql),
            Ddl::CreateMigrationsTable => f.write_str(
                "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\n  version text PRIMARY KEY NOT NULL,\n  run_on timestamptz NOT NULL DEFAULT now()\n);",
            ),
            Ddl::RecordMigrations { versions } => write!(
                f,
                "INSERT INTO __diesel_schema_migrations (version) VALUES {}\n  ON CONFLICT (version) DO NOTHING;",
                versions.iter().map(|v| format!("({})", literal(v))).collect::<Vec<_>>().join(", ")
            ),
            Ddl::ForgetMigrations { versions } => write!(
                f,
                "DELETE FROM __diesel_schema_migrations WHERE version IN ({});",
                versions.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
            ),
            Ddl::CreateClaimKeys { schema, table } => write!(
                f,
                "CREATE SCHEMA IF NOT EXISTS {s};\n\
                 REVOKE ALL ON SCHEMA {s} FROM PUBLIC;\n\
                 CREATE TABLE IF NOT EXISTS {s}.{t} (\n\
                 \x20 id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{{1,32}}$'),\n\
                 \x20 inner_key bytea NOT NULL CHECK (length(inner_key) = 64),\n\
                 \x20 outer_key bytea NOT NULL CHECK (length(outer_key) = 64),\n\
                 \x20 created_at timestamptz NOT NULL DEFAULT now(),\n\
                 \x20 retired_at timestamptz\n\
                 );\n\
                 REVOKE ALL ON {s}.{t} FROM PUBLIC;",
                s = ident(schema),
                t = ident(table),
            ),
            Ddl::DropClaimKeys { schema } => write!(f, "DROP SCHEMA IF EXISTS {} CASCADE;", ident(schema)),
            Ddl::Restore { definition } => write!(f, "{};", definition.trim_end()),
            Ddl::Guarded { condition, statement } => {
                write!(f, "DO $tenancy$ BEGIN\n  IF {condition} THEN\n    {statement:#}\n  END IF;\nEND $tenancy$;")
            }
            Ddl::Sequence(statements) => {
                let lines: Vec<String> = statements.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            Ddl::Comment(text) => write!(f, "-- {text}"),
            Ddl::CreateReferenceTable { table } => {
                write!(f, "SELECT create_reference_table({});", literal(&qualified(table)))
            }
            Ddl::CreateDistributedTable { table, column, colocate_with } => {
                let colocate = match colocate_with {
                    Some(with) => format!(", colocate_with => {}", literal(&qualified(with))),
                    None => String::new(),
                };
                write!(f, "SELECT create_distributed_table({}, {}{colocate});", literal(&qualified(table)), literal(column))
            }
            Ddl::UndistributeTable { table } => write!(
                f,
                "SELECT undistribute_table({t}, cascade_via_foreign_keys => true) WHERE EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = {t}::regclass);",
                t = literal(&qualified(table))
            ),
            Ddl::CreateEnum { name, labels } => write!(
                f,
                "CREATE TYPE {} AS ENUM ({});",
                qualified(name),
                labels.iter().map(|l| literal(l)).collect::<Vec<_>>().join(", ")
            ),
            Ddl::AddEnumValue { name, label } => {
                write!(f, "ALTER TYPE {} ADD VALUE IF NOT EXISTS {};", qualified(name), literal(label))
            }
            Ddl::DropEnum { name } => write!(f, "DROP TYPE IF EXISTS {};", qualified(name)),
            Ddl::SetLocal { name, value } => write!(f, "SET LOCAL {name} = {};", literal(value)),
            Ddl::SetDatabaseDefault { name, value } => write!(
                f,
                "DO $tenancy$ BEGIN EXECUTE format('ALTER DATABASE %I SET {name} = %L', current_database(), {}); END $tenancy$;",
                literal(value)
            ),
        }
    }
}

/// `public` is written bare, as PostgreSQL and the migrations always have.
fn ident_or_public(schema: &str) -> String {
    if schema == "public" { schema.to_owned() } else { ident(schema) }
}

fn privilege_list(privileges: &[Privilege]) -> String {
    privileges.iter().map(|p| p.sql()).collect::<Vec<_>>().join(", ")
}

impl Display for FunctionRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", ident(&self.name), self.arguments)
    }
}

impl Display for Grantee {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Public => f.write_str("PUBLIC"),
            Grantee::Role(role) => f.write_str(&ident(role)),
        }
    }
}

impl Display for ColumnDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", ident(&self.name), self.ty)?;
        if self.not_null {
            f.write_str(" NOT NULL")?;
        }
        match &self.default {
            Some(ColumnDefault::Expression(default)) => write!(f, " DEFAULT {default}"),
            Some(ColumnDefault::Identity) => f.write_str(" GENERATED BY DEFAULT AS IDENTITY"),
            None => Ok(()),
        }
    }
}

impl Display for Element {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Element::Column(column) => column.fmt(f),
            Element::Constraint(constraint) => constraint.fmt(f),
        }
    }
}

impl Display for Constraint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "CONSTRAINT {} ", ident(self.name()))?;
        match self {
            Constraint::PrimaryKey { columns, .. } => write!(f, "PRIMARY KEY ({})", idents(columns)),
            Constraint::Unique { columns, .. } => write!(f, "UNIQUE ({})", idents(columns)),
            Constraint::UniqueUsingIndex { index, .. } => write!(f, "UNIQUE USING INDEX {}", ident(index)),
            Constraint::ForeignKey { columns, table, ref_columns, on_delete, .. } => {
                write!(f, "FOREIGN KEY ({}) REFERENCES {} ({})", idents(columns), ident(table), idents(ref_columns))?;
                match on_delete {
                    Some(OnDelete::Cascade) => f.write_str(" ON DELETE CASCADE"),
                    Some(OnDelete::Restrict) => f.write_str(" ON DELETE RESTRICT"),
                    Some(OnDelete::SetNull(columns)) => write!(f, " ON DELETE SET NULL ({})", idents(columns)),
                    Some(OnDelete::SetDefault(columns)) => write!(f, " ON DELETE SET DEFAULT ({})", idents(columns)),
                    None => Ok(()),
                }
            }
            Constraint::NotNull { column, .. } => write!(f, "CHECK ({} IS NOT NULL)", ident(column)),
            Constraint::Definition { definition, .. } => f.write_str(definition),
        }
    }
}

impl Display for Policy {
    /// `{:#}` on one line (inside a guarded block), else USING and WITH CHECK on lines of their own.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let roles = list(&self.roles);
        write!(
            f,
            "CREATE POLICY {} ON {} AS {} FOR {} TO {roles}",
            ident(&self.name),
            ident(&self.table),
            if self.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
            self.command
        )?;
        let break_ = if f.alternate() { " " } else { "\n  " };
        if let Some(using) = &self.using {
            write!(f, "{break_}USING ({using})")?;
        }
        if let Some(check) = &self.with_check {
            write!(f, "{break_}WITH CHECK ({check})")?;
        }
        Ok(())
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Condition::ConstraintExists { table, name } => write!(
                f,
                "EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = {}::regclass AND conname = {})",
                literal(&ident(table)),
                literal(name)
            ),
            Condition::PolicyExists { table, name } => write!(
                f,
                "EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = {}::regclass AND polname = {})",
                literal(&ident(table)),
                literal(name)
            ),
            Condition::Not(condition) => write!(f, "NOT {condition}"),
        }
    }
}

/// A table name as a regclass literal's text: `"t"`, or `"schema"."t"` for `schema.t`.
fn qualified(table: &str) -> String {
    table.split('.').map(ident).collect::<Vec<_>>().join(".")
}
