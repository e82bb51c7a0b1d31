//! The shared test vectors, byte for byte. The vectors are copied into this
//! crate (tests/vectors) so that a clean clone tests them; the copy is checked
//! against ../shared/vectors whenever that folder is present.

use std::fs;
use std::path::{Path, PathBuf};

use hotich_protocol::{canonical, content_hash, jcs, parse_strict};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn names(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(suffix).map(str::to_string)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn rfc8785_vectors_pass_the_jcs_step() {
    let dir = vectors().join("rfc8785");
    let cases = names(&dir.join("input"), ".json");
    assert_eq!(cases.len(), 6, "all six RFC 8785 vectors are present");
    for name in cases {
        let input = fs::read_to_string(dir.join("input").join(format!("{name}.json"))).unwrap();
        let want = fs::read(dir.join("output").join(format!("{name}.json"))).unwrap();
        let hex_want = fs::read_to_string(dir.join("outhex").join(format!("{name}.txt"))).unwrap();
        let got = jcs(&parse_strict(&input).unwrap()).unwrap();
        assert_eq!(
            got.as_bytes(),
            &want[..],
            "{name}: got {got}\nwant {}",
            String::from_utf8_lossy(&want)
        );
        let hex_got: Vec<String> = got.bytes().map(|b| format!("{b:02x}")).collect();
        let hex_want: Vec<&str> = hex_want.split_whitespace().collect();
        assert_eq!(hex_got, hex_want, "{name}: outhex");
    }
}

#[test]
fn canonical_vectors_pass_the_full_function() {
    let dir = vectors().join("canonical");
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let cases = names(&dir, ".input.json");
    assert_eq!(cases.len(), expected.len());
    assert!(cases.len() >= 24);
    for case in &expected {
        let name = case["name"].as_str().unwrap();
        let input = fs::read_to_string(dir.join(format!("{name}.input.json"))).unwrap();
        let want = fs::read(dir.join(format!("{name}.canonical.json"))).unwrap();
        let value = parse_strict(&input).unwrap();
        let got = canonical(&value).unwrap();
        assert_eq!(got.as_bytes(), &want[..], "{name}");
        assert_eq!(
            content_hash(&value).unwrap().to_hex(),
            case["sha256"].as_str().unwrap(),
            "{name}: hash"
        );
    }
}

/// The copies in this crate must match the shared originals byte for byte.
#[test]
fn vector_copies_match_shared_originals() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    if !shared.is_dir() {
        eprintln!(
            "skipped: {} is not present on this machine",
            shared.display()
        );
        return;
    }
    let mut compared = 0;
    for sub in [
        "rfc8785/input",
        "rfc8785/output",
        "rfc8785/outhex",
        "canonical",
    ] {
        for entry in fs::read_dir(shared.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let copy = vectors().join(sub).join(path.file_name().unwrap());
                assert_eq!(
                    fs::read(&path).unwrap(),
                    fs::read(&copy).unwrap(),
                    "{}",
                    copy.display()
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 60);
}
