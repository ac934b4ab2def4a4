//! Splits an SQL file into statements, for steps that run one statement per transaction
//! (PostgreSQL runs a multi-statement string as one implicit transaction, where
//! `CREATE INDEX CONCURRENTLY` is refused).

/// The statements of `sql`, each without its leading comments and trailing `;`. Semicolons in
/// strings, quoted identifiers, dollar-quoted bodies and comments do not split.
pub fn statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        // A doubled quote is an escaped one.
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' => {
                // $tag$ ... $tag$ (the tag may be empty); a `$1` parameter is not a tag.
                let tag_end = sql[i + 1..].find('$').map(|n| i + 1 + n);
                let is_tag = tag_end.is_some_and(|end| {
                    let tag = &sql[i + 1..end];
                    tag.chars().all(|c| c.is_alphanumeric() || c == '_')
                        && !tag.starts_with(|c: char| c.is_ascii_digit())
                });
                match tag_end {
                    Some(end) if is_tag => {
                        let tag = &sql[i..=end];
                        i = match sql[end + 1..].find(tag) {
                            Some(close) => end + 1 + close + tag.len(),
                            None => bytes.len(),
                        };
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                push(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(&mut out, &sql[start..]);
    out
}

fn push(out: &mut Vec<String>, text: &str) {
    let mut rest = text.trim_start();
    // Leading comment lines belong to no statement.
    while let Some(stripped) = rest.strip_prefix("--") {
        rest = stripped.split_once('\n').map_or("", |(_, tail)| tail).trim_start();
    }
    let statement = rest.trim_end();
    if !statement.is_empty() {
        out.push(statement.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_bodies() {
        let sql = "-- header; with a semicolon\nSET lock_timeout = '1s';\n\
                   -- lock: x\nALTER TABLE \"a;b\" ADD COLUMN \"c\" text DEFAULT 'x;y';\n\
                   DO $tenancy$ BEGIN PERFORM 1; END $tenancy$;\n\
                   /* block; comment */ SELECT $1, $$a;b$$;\n-- trailing comment only\n";
        assert_eq!(
            statements(sql),
            vec![
                "SET lock_timeout = '1s'",
                "ALTER TABLE \"a;b\" ADD COLUMN \"c\" text DEFAULT 'x;y'",
                "DO $tenancy$ BEGIN PERFORM 1; END $tenancy$",
                "/* block; comment */ SELECT $1, $$a;b$$",
            ]
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        assert_eq!(statements("SELECT 'it''s; fine'; SELECT 2"), vec!["SELECT 'it''s; fine'", "SELECT 2"]);
    }
}
