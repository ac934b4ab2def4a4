// A tenant table cannot be loaded without an org context: the table is not reachable outside
// a `Scoped` transaction, so a query that forgot the organization does not compile.
use diesel::prelude::*;
use tenancy_migrate::models::{rows, schema};

fn main() {
    let mut conn = PgConnection::establish("postgres://localhost/app").unwrap();
    let _all: Vec<rows::Contact> = schema::contacts::table.select(rows::Contact::as_select()).load(&mut conn).unwrap();
}
