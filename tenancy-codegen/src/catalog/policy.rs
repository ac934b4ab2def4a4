//! Reading policy expressions as PostgreSQL prints them (`pg_get_expr`): does this expression
//! compare the organization column with the caller's claim, and how is the claim read?
//!
//! The analysis is deliberately conservative: an expression is org-scoped only when, at its top
//! level, it is a conjunction (AND) with a term `org_column = <claim>`. Anything OR-ed, or a claim
//! we do not recognise, is reported — `verify` then proves the behaviour by running it.

use super::{Policy, PolicyCommand};

/// Which sides of a policy apply to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// USING: which existing rows are visible (SELECT, UPDATE, DELETE).
    Using,
    /// WITH CHECK: which new rows may be written (INSERT, UPDATE).
    Check,
}

impl Side {
    pub fn sql(self) -> &'static str {
        match self {
            Side::Using => "USING",
            Side::Check => "WITH CHECK",
        }
    }
}

/// The commands a policy covers, as SQL keywords.
pub fn commands(policy: &Policy) -> &'static [&'static str] {
    match policy.command {
        PolicyCommand::Select => &["SELECT"],
        PolicyCommand::Insert => &["INSERT"],
        PolicyCommand::Update => &["UPDATE"],
        PolicyCommand::Delete => &["DELETE"],
        PolicyCommand::All => &["SELECT", "INSERT", "UPDATE", "DELETE"],
    }
}

pub fn command_name(policy: &Policy) -> &'static str {
    policy.command.sql()
}

/// What a policy lets its roles do, as a verb phrase.
pub fn verb(policy: &Policy) -> &'static str {
    match policy.command {
        PolicyCommand::Select => "read",
        PolicyCommand::Insert => "insert",
        PolicyCommand::Update => "update",
        PolicyCommand::Delete => "delete",
        PolicyCommand::All => "read and write",
    }
}

/// Whether the policy lets the app write rows (INSERT, UPDATE, DELETE or ALL).
pub fn writes(policy: &Policy) -> bool {
    policy.command != PolicyCommand::Select
}

/// The expression governing `side` of a policy, as PostgreSQL applies it: UPDATE and ALL
/// policies without WITH CHECK use their USING expression for new rows too.
pub fn expression(policy: &Policy, side: Side) -> Option<&str> {
    use PolicyCommand::*;
    match (side, policy.command) {
        (Side::Using, Insert) => None,
        (Side::Using, _) => policy.using.as_deref(),
        (Side::Check, Select | Delete) => None,
        (Side::Check, Insert) => policy.with_check.as_deref(),
        (Side::Check, _) => policy.with_check.as_deref().or(policy.using.as_deref()),
    }
}

/// The sides a policy governs.
pub fn sides(policy: &Policy) -> &'static [Side] {
    match policy.command {
        PolicyCommand::Select | PolicyCommand::Delete => &[Side::Using],
        PolicyCommand::Insert => &[Side::Check],
        PolicyCommand::Update | PolicyCommand::All => &[Side::Using, Side::Check],
    }
}

/// `true`, however parenthesised.
pub fn always_true(expression: &str) -> bool {
    strip_parens(expression.trim()).eq_ignore_ascii_case("true")
}

/// Whether the expression restricts rows to `org_column = <claim>` at its top level.
pub fn org_scoped(expression: &str, org_column: &str) -> bool {
    conjuncts(strip_parens(expression.trim())).into_iter().any(|term| {
        let term = strip_parens(term.trim());
        split_top(term, " = ").is_some_and(|(left, right)| {
            (is_column(left, org_column) && is_claim(right)) || (is_column(right, org_column) && is_claim(left))
        })
    })
}

/// The link of a shared table, as its policy must read it.
pub struct LinkShape<'a> {
    pub link_table: &'a str,
    pub link_column: &'a str,
    pub table: &'a str,
    pub key: &'a str,
    pub org_column: &'a str,
}

/// Whether the expression restricts rows, at its top level, to those with a link row of the
/// caller's organization: `EXISTS (SELECT FROM link WHERE link.col = table.key AND link.org =
/// <claim>)` (either side of each `=`, more conjuncts allowed, no OR, one table in FROM).
pub fn linked(expression: &str, shape: &LinkShape<'_>) -> bool {
    let squashed = expression.split_whitespace().collect::<Vec<_>>().join(" ");
    conjuncts(strip_parens(&squashed)).into_iter().any(|term| {
        let term = strip_parens(term.trim());
        let Some(inner) = strip_keyword(term, "EXISTS") else { return false };
        let Some(select) = strip_keyword(strip_parens(inner), "SELECT") else { return false };
        // `SELECT [1] FROM link WHERE ...`
        let Some(from_at) = top_level(select, "FROM ").next() else { return false };
        let Some(after_from) = select.get(from_at + "FROM ".len()..) else { return false };
        let Some((from, condition)) = split_top(after_from, " WHERE ") else { return false };
        let from = from.trim();
        if from.contains(',') || from.contains(' ') || !is_column(from, shape.link_table) {
            return false;
        }
        let terms = conjuncts(strip_parens(condition.trim()));
        let equal = |term: &str, left: &dyn Fn(&str) -> bool, right: &dyn Fn(&str) -> bool| {
            split_top(strip_parens(term.trim()), " = ")
                .is_some_and(|(a, b)| (left(a) && right(b)) || (left(b) && right(a)))
        };
        let link_column = |t: &str| qualified(t, shape.link_table, shape.link_column);
        let key = |t: &str| qualified(t, shape.table, shape.key);
        let org = |t: &str| qualified(t, shape.link_table, shape.org_column);
        terms.iter().any(|t| equal(t, &link_column, &key)) && terms.iter().any(|t| equal(t, &org, &is_claim))
    })
}

/// `table.column` (quoted or not, schema-qualified or not).
fn qualified(text: &str, table: &str, column: &str) -> bool {
    let text = strip_parens(text.trim()).replace('"', "");
    let mut parts = text.rsplit('.');
    parts.next() == Some(column) && parts.next() == Some(table)
}

/// The text after a leading keyword (case-insensitive), if it starts with it.
fn strip_keyword<'t>(text: &'t str, keyword: &str) -> Option<&'t str> {
    let head = text.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then(|| text[keyword.len()..].trim_start())
}

/// Calls that read the caller's claim.
const CLAIM_CALLS: [&str; 4] = ["auth_org_id(", "current_setting(", "auth.jwt(", "auth.uid("];

/// Whether the text reads a claim: `auth_org_id()`, `current_setting(...)`, `auth.jwt()`.
pub fn is_claim(text: &str) -> bool {
    let lower = text.to_ascii_lowercase().replace('"', "");
    CLAIM_CALLS.iter().any(|c| lower.contains(c)) || lower.contains("request.jwt.claim")
}

/// Whether some claim call is evaluated per row: not inside a `(SELECT ...)` sub-select, which
/// PostgreSQL evaluates once per statement (an initplan).
pub fn claim_per_row(expression: &str) -> bool {
    let lower = expression.to_ascii_lowercase().replace('"', "");
    let bytes = lower.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => open.push(i),
            b')' if !quoted => {
                open.pop();
            }
            _ if !quoted && CLAIM_CALLS.iter().any(|c| lower[i..].starts_with(c)) => {
                // Qualified calls (`public.auth_org_id(`) start after a dot; look at the whole name.
                let in_select = open.iter().any(|&p| lower[p + 1..].trim_start().starts_with("select "));
                if !in_select {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether the text reads `user_metadata`, which end users can edit.
pub fn reads_user_metadata(text: &str) -> bool {
    text.to_ascii_lowercase().contains("user_metadata")
}

fn is_column(text: &str, column: &str) -> bool {
    let text = strip_parens(text.trim());
    // `org_id`, `"org_id"`, `t.org_id`, `org_id::text`.
    let text = text.split("::").next().unwrap_or(text);
    let last = text.rsplit('.').next().unwrap_or(text);
    let unquoted = last.strip_prefix('"').and_then(|s| s.strip_suffix('"')).map(|s| s.replace("\"\"", "\""));
    unquoted.as_deref().unwrap_or(last) == column
}

/// Removes parentheses that enclose the whole text.
fn strip_parens(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim();
        if trimmed.starts_with('(') && trimmed.ends_with(')') && closing(trimmed, 0) == Some(trimmed.len() - 1) {
            text = &trimmed[1..trimmed.len() - 1];
        } else {
            return trimmed;
        }
    }
}

/// The index of the parenthesis closing the one at `open`.
fn closing(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, b) in text.bytes().enumerate().skip(open) {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits on top-level ` AND `; an expression with a top-level ` OR ` has no safe conjuncts.
fn conjuncts(text: &str) -> Vec<&str> {
    if top_level(text, " OR ").next().is_some() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for at in top_level(text, " AND ") {
        parts.push(&text[start..at]);
        start = at + " AND ".len();
    }
    parts.push(&text[start..]);
    parts
}

fn split_top<'t>(text: &'t str, separator: &str) -> Option<(&'t str, &'t str)> {
    let at = top_level(text, separator).next()?;
    Some((&text[..at], &text[at + separator.len()..]))
}

/// Positions of `needle` outside parentheses and quotes.
fn top_level<'t>(text: &'t str, needle: &'t str) -> impl Iterator<Item = usize> + 't {
    let mut depth = 0i32;
    let mut quoted = false;
    text.char_indices().filter_map(move |(i, c)| {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        (depth == 0 && !quoted && text[i..].starts_with(needle)).then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_policies_are_org_scoped_and_evaluate_the_claim_once() {
        let printed = "(org_id = ( SELECT auth_org_id() AS auth_org_id))";
        assert!(org_scoped(printed, "org_id"));
        assert!(!claim_per_row(printed));
        assert!(!always_true(printed));
    }

    #[test]
    fn recognises_the_usual_hand_written_forms() {
        assert!(org_scoped("(org_id = auth_org_id())", "org_id"));
        assert!(claim_per_row("(org_id = auth_org_id())"));
        assert!(org_scoped(
            "((is_active = true) AND (org_id = (current_setting('app.org_id'::text, true))::uuid))",
            "org_id"
        ));
        assert!(org_scoped(r#"("Org Id" = ( SELECT public.auth_org_id() AS auth_org_id))"#, "Org Id"));
        assert!(org_scoped("(((auth.jwt() -> 'app_metadata'::text) ->> 'org_id'::text))::uuid = org_id", "org_id"));
        assert!(reads_user_metadata("((auth.jwt() -> 'user_metadata'::text) ->> 'org_id'::text)"));
    }

    #[test]
    fn a_shared_table_policy_is_read_through_its_link() {
        let shape = LinkShape {
            link_table: "user_organizations",
            link_column: "user_id",
            table: "users",
            key: "id",
            org_column: "org_id",
        };
        // As PostgreSQL 15 prints the generated policy.
        let printed = "(EXISTS ( SELECT\n   FROM user_organizations\n  WHERE ((user_organizations.user_id = users.id) AND (user_organizations.org_id = ( SELECT auth_org_id() AS auth_org_id)))))";
        assert!(linked(printed, &shape));
        assert!(linked(
            "((is_active) AND (EXISTS ( SELECT 1 FROM public.user_organizations WHERE ((users.id = user_organizations.user_id) AND (auth_org_id() = user_organizations.org_id)))))",
            &shape
        ));
        // Any organization's link, another column, an OR, a second table: not the link.
        assert!(!linked(
            "(EXISTS ( SELECT FROM user_organizations WHERE (user_organizations.user_id = users.id)))",
            &shape
        ));
        assert!(!linked(
            "(EXISTS ( SELECT FROM user_organizations WHERE ((user_organizations.id = users.id) AND (user_organizations.org_id = auth_org_id()))))",
            &shape
        ));
        assert!(!linked(
            "((EXISTS ( SELECT FROM user_organizations WHERE ((user_organizations.user_id = users.id) AND (user_organizations.org_id = auth_org_id())))) OR true)",
            &shape
        ));
        assert!(!linked(
            "(EXISTS ( SELECT FROM user_organizations, users u2 WHERE ((user_organizations.user_id = users.id) AND (user_organizations.org_id = auth_org_id()))))",
            &shape
        ));
        assert!(!linked(
            "(EXISTS ( SELECT FROM user_organizations WHERE ((user_organizations.user_id = users.id) OR (user_organizations.org_id = auth_org_id()))))",
            &shape
        ));
    }

    #[test]
    fn anything_or_ed_or_unrelated_is_not_scoped() {
        assert!(!org_scoped("((org_id = auth_org_id()) OR (is_public = true))", "org_id"));
        assert!(!org_scoped("(user_id = auth.uid())", "org_id"));
        assert!(!org_scoped("(org_id = org_id)", "org_id"));
        assert!(!org_scoped("true", "org_id"));
        assert!(always_true("(true)"));
        assert!(!org_scoped("(other_org_id = auth_org_id())", "org_id"));
    }
}
