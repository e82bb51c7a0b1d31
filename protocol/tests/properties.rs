//! Properties of the content hash: the spelling of a document (key order,
//! whitespace, escapes, NFC or NFD text) never changes it; changing any
//! value does.

use std::fmt::Write as _;

use hotich_protocol::{content_hash, parse_strict};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use unicode_normalization::UnicodeNormalization;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        Just("Nguyễn Văn An".to_string()),
        Just("Đắk Lắk".to_string()),
        Just("Hồ Xuân Hương".to_string()),
        Just("Ê-đê / H'Mông \"x\" \\ tab\t nl\n".to_string()),
        Just("😂 € \u{1} \u{7f} \u{2028}".to_string()),
        "\\PC{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1_000_000_000_000i64..1_000_000_000_000).prop_map(|n| Value::Number(n.into())),
        (-1e12f64..1e12).prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6).prop_map(|m| {
                // Keys equal after NFC would be refused (tested elsewhere); keep one.
                let mut out = Map::new();
                for (k, v) in m {
                    let k: String = k.nfc().collect();
                    out.insert(k, v);
                }
                Value::Object(out)
            }),
        ]
    })
}

/// Writes `v` as JSON text with arbitrary (but valid) choices: member order,
/// whitespace, escapes, and NFD or NFC for each string.
fn respell(v: &Value, choices: &mut dyn Iterator<Item = u8>, out: &mut String) {
    fn next(choices: &mut dyn Iterator<Item = u8>, n: u8) -> u8 {
        choices.next().unwrap_or(0) % n
    }
    macro_rules! pick {
        ($n:expr) => {
            next(choices, $n)
        };
    }
    let ws = [" ", "", "\n  ", "\t", "\r\n"];
    out.push_str(ws[pick!(5) as usize]);
    match v {
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            // A rotation and optional reversal chosen by the stream.
            let rot = if members.is_empty() {
                0
            } else {
                pick!(members.len() as u8) as usize
            };
            members.rotate_left(rot);
            if pick!(2) == 1 {
                members.reverse();
            }
            out.push('{');
            for (i, (k, val)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                respell_string(k, pick!(4), out);
                out.push_str(ws[pick!(5) as usize]);
                out.push(':');
                respell(val, choices, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                respell(item, choices, out);
            }
            out.push(']');
        }
        Value::String(s) => respell_string(s, pick!(4), out),
        Value::Number(n) => {
            // Integers may be written as floats or with an exponent.
            match (n.as_i64(), pick!(3)) {
                (Some(i), 1) => {
                    let _ = write!(out, "{i}.0");
                }
                (Some(i), 2) if i != 0 && i % 1000 == 0 => {
                    let _ = write!(out, "{}e3", i / 1000);
                }
                _ => out.push_str(&n.to_string()),
            }
        }
        other => out.push_str(&other.to_string()),
    }
    out.push_str(ws[pick!(5) as usize]);
}

fn respell_string(s: &str, style: u8, out: &mut String) {
    let text: String = if style & 1 == 1 {
        s.nfd().collect()
    } else {
        s.to_string()
    };
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style & 2 == 2 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || (style & 2 == 2 && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Changes the leaf at position `target` (in document order) and reports whether one was changed.
fn mutate_leaf(v: &mut Value, target: &mut usize) -> bool {
    match v {
        Value::Object(m) => m.values_mut().any(|x| mutate_leaf(x, target)),
        Value::Array(a) => a.iter_mut().any(|x| mutate_leaf(x, target)),
        leaf => {
            if *target > 0 {
                *target -= 1;
                return false;
            }
            *leaf = match leaf {
                Value::Null => Value::Bool(false),
                Value::Bool(b) => Value::Bool(!*b),
                Value::Number(n) => Value::Number(
                    Number::from_f64(n.as_f64().unwrap_or(0.0) + 1.0).unwrap_or_else(|| 0.into()),
                ),
                Value::String(s) => Value::String(format!("{s}x")),
                _ => unreachable!(),
            };
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn spelling_never_changes_the_hash(v in json_value(), choices in prop::collection::vec(any::<u8>(), 256)) {
        let want = content_hash(&v).unwrap();
        let mut text = String::new();
        respell(&v, &mut choices.into_iter().cycle(), &mut text);
        let reparsed = parse_strict(&text).unwrap();
        prop_assert_eq!(content_hash(&reparsed).unwrap(), want, "respelled as {}", text);
    }

    #[test]
    fn changing_any_value_changes_the_hash(v in json_value(), at in 0usize..64) {
        let before = content_hash(&v).unwrap();
        let mut changed = v.clone();
        let mut target = at;
        if mutate_leaf(&mut changed, &mut target) {
            prop_assert_ne!(content_hash(&changed).unwrap(), before);
        }
    }

    #[test]
    fn renaming_a_key_changes_the_hash(v in json_value()) {
        if let Value::Object(m) = &v
            && let Some((k, _)) = m.iter().next()
            && !m.contains_key(&format!("{k}_"))
        {
            let mut renamed = m.clone();
            let val = renamed.remove(k).unwrap();
            renamed.insert(format!("{k}_"), val);
            prop_assert_ne!(content_hash(&Value::Object(renamed)).unwrap(), content_hash(&v).unwrap());
        }
    }
}
