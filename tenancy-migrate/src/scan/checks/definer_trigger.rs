//! `definer-trigger`: a trigger on an isolated table whose function is SECURITY DEFINER. It runs
//! with its owner's rights on every organization's writes — outside row-level security — so
//! what it reads and, above all, the errors it raises can carry other organizations' rows back
//! to the writer (`RAISE EXCEPTION 'phone % already used by %', ...`).

use crate::catalog::TRIGGERS;
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "definer-trigger", severity: Severity::Warn, category: "function" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for table in cx.schema.tables.iter().filter(|t| t.scope.is_isolated()) {
        for trigger in cx.catalog.triggers_of(&table.name).filter(|t| t.function_definer) {
            out.push(CODE.finding(
                On::table(&table.name).detail(&trigger.name),
                format!(
                    "trigger {} on {} runs SECURITY DEFINER function {}: it reads every organization's rows with its owner's rights, and its errors reach the writer",
                    trigger.name, table.name, trigger.function
                ),
                format!(
                    "ALTER FUNCTION {}() SECURITY INVOKER (the trigger then runs as the writer, under row-level security), or keep other organizations' values out of its messages",
                    ident(&trigger.function)
                ),
                cx.catalog.evidence(&TRIGGERS, Some(&table.name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn a_definer_trigger_on_a_tenant_table_is_found() {
        case(
            "definer_trigger",
            "definer-trigger",
            "CREATE FUNCTION contacts_unique_email() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
               SET search_path = pg_catalog, public AS $$
             BEGIN
               IF EXISTS (SELECT FROM contacts WHERE email = NEW.email AND org_id <> NEW.org_id) THEN
                 RAISE EXCEPTION 'email % is taken by %', NEW.email, (SELECT org_id FROM contacts WHERE email = NEW.email LIMIT 1);
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER contacts_unique_email BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION contacts_unique_email()",
            "ALTER FUNCTION contacts_unique_email() SECURITY INVOKER",
        );
    }
}
