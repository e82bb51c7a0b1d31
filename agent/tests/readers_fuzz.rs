//! The readers of officials' files on arbitrary bytes: CSV and JSON Lines
//! (and a JSON list) never panic, and what they produce is bounded by the
//! file: no more records than lines, no problem message longer than a line
//! of text, no list built from a number in a header.

use std::io::Write;

use hotich_agent::input;
use proptest::prelude::*;

fn lines_of(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count() + 1
}

fn read_all(name: &str, bytes: &[u8]) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    let file = input::open(&path, &input::Options::default()).map_err(|e| e.to_string())?;
    let mut items = 0;
    for item in file {
        match item {
            Ok(item) => {
                items += 1;
                if let Err(errors) = item.value {
                    for e in errors {
                        assert!(e.reason.chars().count() < 1000, "{}", e.reason);
                    }
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(items)
}

/// Bytes that look like CSV: a header of known and odd columns, rows of
/// cells with separators, quotes, line breaks and numbers.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "[a-z0-9 ]{0,10}",
        Just("\"quoted, with ; and \n line\"".to_string()),
        Just("\"".to_string()),
        Just("15/03/1998".to_string()),
        Just("Nguyễn Văn An".to_string()),
        "[0-9]{1,14}",
    ];
    let header = prop_oneof![
        Just("kind,commune_code,register.year,register.book,register.entry,registered_on".to_string()),
        Just("kind;commune_code;register.year;register.book;register.entry;registered_on;scans.0.bytes".to_string()),
        Just("scans.99999999999.bytes,kind".to_string()),
        "[a-z.0-9,;]{0,60}",
    ];
    (
        header,
        prop::collection::vec(prop::collection::vec(cell, 0..8), 0..12),
    )
        .prop_map(|(h, rows)| {
            let mut out = h.into_bytes();
            for r in rows {
                out.push(b'\n');
                out.extend_from_slice(r.join(",").as_bytes());
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csv_reader_is_bounded_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(n) = read_all("x.csv", &bytes) {
            prop_assert!(n <= lines_of(&bytes));
        }
    }

    #[test]
    fn csv_reader_is_bounded_on_csv_like_text(bytes in csv_like()) {
        if let Ok(n) = read_all("x.csv", &bytes) {
            prop_assert!(n <= lines_of(&bytes));
        }
    }

    #[test]
    fn jsonl_reader_is_bounded_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(n) = read_all("x.jsonl", &bytes) {
            prop_assert!(n <= lines_of(&bytes));
        }
    }

    #[test]
    fn jsonl_reader_is_bounded_on_json_like_text(
        lines in prop::collection::vec("[\\[\\]{}\":,0-9a-z ]{0,80}", 0..20)
    ) {
        let text = lines.join("\n");
        if let Ok(n) = read_all("x.jsonl", text.as_bytes()) {
            prop_assert!(n <= lines_of(text.as_bytes()));
        }
        let _ = read_all("x.json", text.as_bytes());
    }
}
