//! Fuzzing what the viewer reads from outside: report files (`model::parse`) and share links
//! (`model::from_fragment`). Any input yields a report or a `LoadError` with a message, never a
//! panic (a frozen tab). Bounded in `cargo test`; `cargo xtask fuzz` runs many more cases.

use proptest::prelude::*;
use report_web::model;

const REPORT: &str = include_str!("../fixtures/after.json");

proptest! {
    #[test]
    fn report_files_never_panic(cut in 0usize..REPORT.len(), noise in "\\PC{0,40}", at in any::<usize>()) {
        let mut text = REPORT[..cut].to_owned();
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, &noise);
        if let Err(err) = model::parse("fuzz.json", text.as_bytes()) {
            prop_assert!(!err.to_string().trim().is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(err) = model::parse("fuzz.json", &bytes) {
            prop_assert!(!err.to_string().trim().is_empty());
        }
    }

    #[test]
    fn share_links_never_panic(fragment in "[A-Za-z0-9_=#r-]{0,200}") {
        if let Err(err) = model::from_fragment(&fragment) {
            prop_assert!(!err.to_string().trim().is_empty());
        }
    }

    #[test]
    fn a_damaged_real_link_is_refused_cleanly(flip in any::<usize>()) {
        let link = model::share_fragment(REPORT).unwrap_or_default();
        let mut bytes = link.into_bytes();
        if !bytes.is_empty() {
            let i = flip % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        }
        let _ = model::from_fragment(&String::from_utf8(bytes).unwrap());
    }
}
