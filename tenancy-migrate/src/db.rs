//! Connecting to PostgreSQL, with errors that say what to fix.

use crate::error::{Error, Result, first_line};
use diesel::{Connection, PgConnection, RunQueryDsl};

/// Opens a connection and names the session so `pg_stat_activity` shows who holds locks.
pub fn connect(url: &str) -> Result<PgConnection> {
    let shown = redact(url);
    tracing::info!(url = %shown, "connecting");
    let mut conn = PgConnection::establish(url).map_err(|err| classify(&shown, err))?;
    diesel::sql_query("SET application_name = 'tenancy-migrate'")
        .execute(&mut conn)
        .map_err(|err| Error::query("naming the session", err))?;
    Ok(conn)
}

fn classify(url: &str, err: diesel::ConnectionError) -> Error {
    let url = url.to_owned();
    match err {
        diesel::ConnectionError::InvalidConnectionUrl(reason) => Error::BadUrl { url, reason: first_line(&reason) },
        diesel::ConnectionError::BadConnection(text) => {
            let reason = first_line(&text);
            if text.contains("password authentication failed")
                || text.contains("no password supplied")
                || text.contains("authentication failed")
            {
                Error::Authentication { url, reason }
            } else if text.contains("database") && text.contains("does not exist") {
                Error::NoDatabase { url, reason }
            } else if text.contains("invalid")
                && (text.contains("URI") || text.contains("connection option") || text.contains("missing"))
            {
                Error::BadUrl { url, reason }
            } else {
                Error::Unreachable { url, reason }
            }
        }
        other => Error::Unreachable { url, reason: first_line(&other.to_string()) },
    }
}

/// Creates database `name` (through the server of `admin_url`) unless it exists.
pub fn create_database_if_missing(admin_url: &str, name: &str) -> Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = connect(admin_url)?;
    let found = diesel::sql_query("SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Exists>(&mut conn)
        .map_err(|e| Error::query("looking up the database", e))?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE {}", tenancy_codegen::sql::ident(name)))
            .execute(&mut conn)
            .map_err(|e| Error::query(format!("creating database {name}"), e))?;
    }
    Ok(())
}

/// The URL with its password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
    let hidden = if credentials.contains(':') { format!("{user}:***") } else { user.to_owned() };
    match tail {
        Some(tail) => format!("{scheme}://{hidden}@{host}/{tail}"),
        None => format!("{scheme}://{hidden}@{host}"),
    }
}

/// The user and password of a URL (`postgres` when it names no user).
pub fn credentials(url: &str) -> (String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let Some((credentials, _host)) = authority.rsplit_once('@') else { return ("postgres".to_owned(), None) };
    match credentials.split_once(':') {
        Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
        None => (credentials.to_owned(), None),
    }
}

/// The same server with another user, password and database.
pub fn with_login(url: &str, user: &str, password: Option<&str>, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let credentials = match password {
        Some(password) => format!("{user}:{password}"),
        None => user.to_owned(),
    };
    format!("{scheme}://{credentials}@{host}/{database}{query}")
}

/// Runs `body` with session settings `settings` (name, value), then puts back what they were,
/// even when `body` fails (its error is the one returned).
pub fn with_settings<T>(
    conn: &mut PgConnection,
    settings: &[(&str, &str)],
    body: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let set = |conn: &mut PgConnection, name: &str, value: &str| {
        diesel::sql_query("SELECT set_config($1, $2, false) AS value")
            .bind::<diesel::sql_types::Text, _>(name)
            .bind::<diesel::sql_types::Text, _>(value)
            .get_result::<Setting>(conn)
            .map_err(|e| Error::query(format!("setting {name}"), e))
    };
    let mut old = Vec::new();
    for (name, value) in settings {
        let was = diesel::sql_query("SELECT current_setting($1) AS value")
            .bind::<diesel::sql_types::Text, _>(*name)
            .get_result::<Setting>(conn)
            .map_err(|e| Error::query(format!("reading {name}"), e))?;
        set(conn, name, value)?;
        old.push((*name, was.value));
    }
    let result = body(conn);
    for (name, value) in old {
        let restored = set(conn, name, &value);
        if result.is_ok() {
            restored?;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(redact("postgres://app:secret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("postgres://a:b@h"), "postgres://a:***@h");
    }

    #[test]
    fn credentials_of_a_url() {
        assert_eq!(credentials("postgres://a:b@h:1/d"), ("a".to_owned(), Some("b".to_owned())));
        assert_eq!(credentials("postgres://a@h/d"), ("a".to_owned(), None));
        assert_eq!(credentials("postgres://h/d"), ("postgres".to_owned(), None));
    }

    #[test]
    fn with_login_replaces_user_and_database_only() {
        assert_eq!(
            with_login("postgres://root:pw@127.0.0.1:5433/main?sslmode=disable", "app_user", Some("x"), "t1"),
            "postgres://app_user:x@127.0.0.1:5433/t1?sslmode=disable"
        );
        assert_eq!(with_login("postgres://h:1/db", "u", None, "d"), "postgres://u@h:1/d");
    }
}
