//! Canonical form and content hash.
//!
//! `canonical(v)` is the RFC 8785 (JCS) serialization of `v` after every string,
//! object keys included, is put in Unicode NFC. `content_hash(v)` is the SHA-256
//! of those bytes. Vietnamese text reaches commune PCs precomposed, decomposed
//! or mixed; NFC first makes one record one hash whatever form it was typed in.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::Value;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::hash::{ContentHash, Digest32};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Two keys of one object differ only in Unicode form, e.g. "Hà" typed
    /// precomposed and decomposed; after NFC they are the same key.
    #[error("two keys of one object are the same text after Unicode NFC: \"{0}\"")]
    DuplicateKeyAfterNfc(String),
    #[error("number cannot be represented: {0}")]
    Number(String),
}

/// The RFC 8785 step alone (no NFC), for the RFC's own test vectors.
pub fn jcs(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, false)?;
    Ok(out)
}

/// NFC, then RFC 8785: the bytes that are hashed.
pub fn canonical(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(1024);
    write_value(&mut out, value, true)?;
    Ok(out)
}

/// `sha256(canonical(value))`.
pub fn content_hash(value: &Value) -> Result<ContentHash, CanonicalError> {
    Ok(hash_canonical(&canonical(value)?))
}

/// The hash of text that is already canonical (as stored in a journal).
pub fn hash_canonical(canonical_text: &str) -> ContentHash {
    ContentHash(Digest32::of(canonical_text.as_bytes()))
}

/// Characters that are in NFC whatever surrounds them: combining class 0,
/// quick check "yes", and never the second half of a composition. Vietnamese
/// typed precomposed is made of these (Latin-1, Latin Extended-A/B and
/// Latin Extended Additional), so the common case is one pass over the bytes
/// instead of a table lookup per character.
fn always_nfc(c: char) -> bool {
    matches!(c, '\0'..='\u{02FF}' | '\u{1E00}'..='\u{1EFF}')
}

pub fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || s.chars().all(always_nfc) || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

fn write_value(out: &mut String, value: &Value, apply_nfc: bool) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // Whole numbers that a double holds exactly print as their digits
        // in ECMAScript too (years, entry numbers): no float formatting.
        Value::Number(n) if n.as_i64().is_some_and(|i| i.unsigned_abs() < 1 << 53) => {
            let _ = write!(out, "{}", n.as_i64().unwrap_or_default());
        }
        Value::Number(n) => {
            let x = n
                .as_f64()
                .ok_or_else(|| CanonicalError::Number(n.to_string()))?;
            write_number(out, x)?;
        }
        Value::String(s) => {
            if apply_nfc {
                write_string(out, &nfc(s));
            } else {
                write_string(out, s);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, apply_nfc)?;
            }
            out.push(']');
        }
        // ASCII keys already in order (as a parsed object's are) are written
        // as they are: NFC leaves them alone and byte order is UTF-16 order.
        Value::Object(map)
            if map.keys().all(|k| k.is_ascii())
                && map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b) =>
        {
            write_members(out, map.iter().map(|(k, v)| (k.as_str(), v)), apply_nfc)?;
        }
        Value::Object(map) => {
            let mut members: Vec<(Cow<'_, str>, &Value)> = map
                .iter()
                .map(|(k, v)| {
                    let key = if apply_nfc {
                        nfc(k)
                    } else {
                        Cow::Borrowed(k.as_str())
                    };
                    (key, v)
                })
                .collect();
            members.sort_by(|a, b| cmp_utf16(&a.0, &b.0));
            if let Some(pair) = members.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(CanonicalError::DuplicateKeyAfterNfc(pair[0].0.to_string()));
            }
            write_members(
                out,
                members.iter().map(|(k, v)| (k.as_ref(), *v)),
                apply_nfc,
            )?;
        }
    }
    Ok(())
}

/// An object's members, already in RFC 8785 order.
fn write_members<'a>(
    out: &mut String,
    members: impl Iterator<Item = (&'a str, &'a Value)>,
    apply_nfc: bool,
) -> Result<(), CanonicalError> {
    out.push('{');
    for (i, (key, member)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, member, apply_nfc)?;
    }
    out.push('}');
    Ok(())
}

/// RFC 8785 sorts keys by their UTF-16 code units, which differs from UTF-8
/// byte order for characters above U+FFFF against U+E000..U+FFFF.
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs that need no escape in one go; most text has none.
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// ECMAScript `Number.prototype.toString` (ECMA-262 7.1.12.1), which RFC 8785
/// mandates. Rust's `{:e}` already yields the shortest round-trip digits; only
/// the layout rules differ.
fn write_number(out: &mut String, x: f64) -> Result<(), CanonicalError> {
    if !x.is_finite() {
        return Err(CanonicalError::Number(x.to_string()));
    }
    if x == 0.0 {
        out.push('0'); // also for -0
        return Ok(());
    }
    if x < 0.0 {
        out.push('-');
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci
        .split_once('e')
        .ok_or_else(|| CanonicalError::Number(sci.clone()))?;
    let exponent: i32 = exponent
        .parse()
        .map_err(|_| CanonicalError::Number(sci.clone()))?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let e = n - 1;
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", e.abs());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fast_nfc_path_takes_only_characters_that_are_nfc_anywhere() {
        use unicode_normalization::char::{canonical_combining_class, compose};
        let fast: Vec<char> = ('\0'..='\u{1EFF}').filter(|c| always_nfc(*c)).collect();
        for &c in &fast {
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes, "{c:?}");
            // Not the second half of any composition (as Hangul vowels are).
            for first in ['a', 'e', 'o', 'u', 'A', '\u{1100}', '\u{0B47}', '\u{0DD9}'] {
                assert_eq!(compose(first, c), None, "{first:?} + {c:?}");
            }
        }
        // Typed precomposed, decomposed and mixed: the fast path changes no answer.
        for s in [
            "Nguyễn Thị Lan",
            "Nguye\u{302}\u{303}n",
            "Đắk Lắk",
            "Ưu",
            "A\u{300}",
        ] {
            assert_eq!(nfc(s), s.nfc().collect::<String>(), "{s}");
        }
    }

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_number(&mut s, x).unwrap();
        s
    }

    #[test]
    // The RFC's own inputs, written as the RFC writes them.
    #[allow(clippy::excessive_precision)]
    fn es6_number_formatting() {
        // Cases from ECMA-262 and the RFC 8785 appendix.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (333333333.33333329, "333333333.3333333"),
            (1e30, "1e+30"),
            (4.50, "4.5"),
            (2e-3, "0.002"),
            (1e-27, "1e-27"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.2345e-7, "1.2345e-7"),
            (9007199254740992.0, "9007199254740992"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (295147905179352830000.0, "295147905179352830000"),
            (-924990523383.0, "-924990523383"),
        ];
        for (x, want) in cases {
            assert_eq!(num(*x), *want, "formatting {x:e}");
        }
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F602 is D83D DE02 in UTF-16 and sorts before U+FB33; UTF-8 order says the opposite.
        let v = json!({"\u{fb33}": 1, "\u{1f602}": 2});
        assert_eq!(jcs(&v).unwrap(), "{\"\u{1f602}\":2,\"\u{fb33}\":1}");
    }

    #[test]
    fn keys_equal_after_nfc_are_an_error() {
        let v = json!({"H\u{00e0}": 1, "Ha\u{0300}": 2});
        assert_eq!(
            canonical(&v),
            Err(CanonicalError::DuplicateKeyAfterNfc("H\u{00e0}".into()))
        );
        assert!(jcs(&v).is_ok(), "JCS alone does not normalize");
    }

    #[test]
    fn control_characters_escape_in_lowercase_hex() {
        let v = json!("\u{1}\u{1f}\u{7f}\t");
        assert_eq!(jcs(&v).unwrap(), "\"\\u0001\\u001f\u{7f}\\t\"");
    }
}
