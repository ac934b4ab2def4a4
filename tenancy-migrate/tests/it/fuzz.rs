//! Fuzzing the SQL statement splitter `apply --dir` runs on every plan file: any text gives
//! statements without panicking, none empty, and text without `;` outside quotes is one statement.
//! Bounded in `cargo test`; `cargo xtask fuzz` runs many more cases.

use proptest::prelude::*;
use tenancy_migrate::convert::split;

proptest! {
    #[test]
    fn the_splitter_never_panics(text in "(\\PC|[;'\"$-]|\\$tenancy\\$|--|/\\*|\\*/|\n){0,120}") {
        for statement in split::statements(&text) {
            prop_assert!(!statement.trim().is_empty());
        }
    }

    #[test]
    fn plain_statements_are_split_at_each_semicolon(words in prop::collection::vec("[a-z ]{1,12}", 1..8)) {
        let words: Vec<String> = words.into_iter().filter(|w| !w.trim().is_empty()).collect();
        let text: String = words.iter().map(|w| format!("{w};\n")).collect();
        let statements = split::statements(&text);
        prop_assert_eq!(statements.len(), words.len(), "{:?}", statements);
    }
}
