//! Fuzzing the declaration parser and validator, and the report reader: whatever the input — a
//! valid declaration or report with random edits, or arbitrary text — they return a value or an
//! error with a message, never panic. `cargo test` runs a bounded number of cases (PROPTEST_CASES,
//! default 256); `cargo xtask fuzz` runs many more.

use proptest::prelude::*;

const DECLARATION: &str = include_str!("../schema/tenancy.rs");
const REPORT: &str = include_str!("../../report-web/fixtures/after.json");

/// `seed` with `edits` applied: each (position, replacement) overwrites or inserts text.
fn mutate(seed: &str, edits: &[(usize, String, bool)]) -> String {
    let mut text = seed.to_owned();
    for (at, piece, insert) in edits {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        if *insert {
            text.insert_str(at, piece);
        } else {
            let mut end = (at + piece.len()).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(at..end, piece);
        }
    }
    text
}

fn edits() -> impl Strategy<Value = Vec<(usize, String, bool)>> {
    let piece = prop_oneof![
        "[#!()\\[\\]{}<>,:;=\"' a-zA-Z0-9_.-]{0,6}",
        Just("#[tenancy(root)]".to_owned()),
        Just("#[references(".to_owned()),
        Just("Option<".to_owned()),
        Just("\"".to_owned()),
        Just("struct".to_owned()),
    ];
    prop::collection::vec((any::<usize>(), piece, any::<bool>()), 1..6)
}

proptest! {
    #[test]
    fn declarations_never_panic(edits in edits()) {
        let text = mutate(DECLARATION, &edits);
        if let Err(diagnostics) = tenancy_schema::parse_str("fuzz.rs", &text) {
            let shown = diagnostics.to_string();
            prop_assert!(!shown.trim().is_empty());
            prop_assert!(shown.contains("fuzz.rs:"), "every error names file:line:col: {}", shown);
        }
    }

    #[test]
    fn arbitrary_text_is_no_declaration_and_no_panic(text in "\\PC{0,200}") {
        let _ = tenancy_schema::parse_str("fuzz.rs", &text);
    }

    #[test]
    fn reports_never_panic(edits in edits()) {
        let text = mutate(REPORT, &edits);
        if let Err(err) = tenancy_schema::report::Report::from_json(&text) {
            prop_assert!(!err.to_string().trim().is_empty());
        }
    }
}
