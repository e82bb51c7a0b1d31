//! JSON Lines (one record per line) and a JSON list of records: files
//! made by other programs (the registration software, scripts).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use hotich_protocol::json::StrictValue;
use hotich_protocol::validate::{Problem, check_record_size};
use hotich_protocol::{FieldError, parse_strict};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{FileError, Item, Raw, RowRef};

fn json_problem(e: &hotich_protocol::JsonError) -> Vec<FieldError> {
    vec![FieldError::of(
        "(record)",
        Problem::InvalidJson {
            detail: format!("{} at column {}", e.message, e.column),
        },
    )]
}

pub(super) fn json_lines(
    path: PathBuf,
    mut reader: BufReader<File>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
) -> impl Iterator<Item = Result<Item, FileError>> {
    let mut number = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
        loop {
            buf.clear();
            let n = match reader.read_until(b'\n', &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    return Some(Err(FileError::new(
                        &path,
                        Some(RowRef::line(number + 1)),
                        crate::tr!("file-cannot-read", detail = e.to_string()),
                    )));
                }
            };
            if n == 0 {
                return None;
            }
            consumed.set(consumed.get() + n as u64);
            number += 1;
            // The line's text is kept until its record is committed (a
            // refused row is written back as it was): copied out at its own
            // size, while `buf` keeps its capacity for the next line.
            let mut text = if simdutf8::basic::from_utf8(&buf).is_ok() {
                // SAFETY: these exact bytes were just validated as UTF-8.
                unsafe { String::from_utf8_unchecked(buf.clone()) }
            } else {
                // The file was checked as a whole; it changed since. Keep going
                // with replacement characters rather than fail mid-file.
                String::from_utf8_lossy(&buf).into_owned()
            };
            let end = text.trim_end().len();
            text.truncate(end);
            if text.trim_start().len() != text.len() {
                text = text.trim_start().to_string();
            }
            if text.is_empty() {
                continue;
            }
            let value = match check_record_size(text.len()) {
                Err(e) => Err(vec![e]),
                Ok(()) => parse_strict(&text).map_err(|e| json_problem(&e)),
            };
            return Some(Ok(Item {
                at: RowRef::line(number),
                value,
                raw: Raw::Json(text),
            }));
        }
    })
}

/// Reads a JSON array whole; each element's line is where it starts.
pub(super) fn json_array(
    path: &Path,
    mut reader: BufReader<File>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
) -> Result<Vec<Item>, FileError> {
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|e| {
        FileError::new(
            path,
            None,
            crate::tr!("file-cannot-read", detail = e.to_string()),
        )
    })?;
    struct Elements;
    impl<'de> Visitor<'de> for Elements {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                out.push(raw);
            }
            Ok(out)
        }
    }
    struct Seed;
    impl<'de> DeserializeSeed<'de> for Seed {
        type Value = Vec<&'de RawValue>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(Elements)
        }
    }
    let mut de = serde_json::Deserializer::from_str(&text);
    let elements = Seed
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| {
            let e = hotich_protocol::JsonError::from(e);
            FileError::new(
                path,
                Some(RowRef::line(e.line as u64)),
                crate::tr!(
                    "file-json-array-broken",
                    detail = e.message.as_str(),
                    column = e.column
                ),
            )
        })?;
    let base = text.as_ptr() as usize;
    let mut items = Vec::with_capacity(elements.len());
    let mut line = 1u64;
    let mut scanned = 0usize;
    for raw in elements {
        let start = raw.get().as_ptr() as usize - base;
        line += text.as_bytes()[scanned..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        scanned = start;
        let value = StrictValue
            .deserialize(&mut serde_json::Deserializer::from_str(raw.get()))
            .map_err(|e| json_problem(&e.into()));
        items.push(Item {
            at: RowRef::line(line),
            value,
            raw: Raw::Json(raw.get().to_string()),
        });
    }
    consumed.set(consumed.get() + text.len() as u64);
    Ok(items)
}
