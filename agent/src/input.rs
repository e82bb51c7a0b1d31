//! Reading records from the files officials bring: JSON Lines, a JSON array
//! (or a single object), and CSV whose header names dotted field paths.
//!
//! Every problem is tied to a file and line. A file that cannot be read as a
//! whole (not UTF-8, empty, broken header, broken JSON array) is refused
//! before anything from it is accepted; a bad record only costs that record.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use hotich_protocol::json::StrictValue;
use hotich_protocol::validate::{
    MAX_LIST_ITEMS, always_required_paths, check_record_size, closest, is_integer_field,
    known_field_paths, shown,
};
use hotich_protocol::{FieldError, parse_strict};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The column a rejects CSV adds; importing that file again ignores it.
pub const ERRORS_COLUMN: &str = "errors";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    JsonArray,
    Csv,
}

/// A whole file is refused; `line` says where when it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl FileError {
    fn new(path: &Path, line: Option<u64>, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// The record as the user wrote it, to put in the rejects file unchanged.
#[derive(Debug, Clone)]
pub enum Raw {
    Json(String),
    Csv(Vec<String>),
}

/// One record read from a file: its JSON value, or why it could not be read.
#[derive(Debug)]
pub struct Item {
    pub line: u64,
    pub value: Result<Value, Vec<FieldError>>,
    pub raw: Raw,
}

pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    /// The CSV header, to write a rejects CSV in the same shape.
    pub csv_header: Option<Vec<String>>,
    pub total_bytes: u64,
    items: Box<dyn Iterator<Item = Result<Item, FileError>>>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
}

impl InputFile {
    /// Bytes of the file read so far, for a progress bar.
    pub fn bytes_read(&self) -> u64 {
        self.consumed.get()
    }
}

impl Iterator for InputFile {
    type Item = Result<Item, FileError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
}

impl std::fmt::Debug for InputFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputFile")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish()
    }
}

const LEGACY_ENCODING_HINT: &str = "the file is not UTF-8 text; it looks like an export in a legacy \
Vietnamese encoding (Windows-1258, TCVN3/ABC or VNI). Save it again as UTF-8 (in Excel: Save As → \
\"CSV UTF-8 (Comma delimited)\") and import that file";

/// Opens a file, checks it is UTF-8 as a whole, and picks its reader.
pub fn open(path: &Path) -> Result<InputFile, FileError> {
    let io = |e: std::io::Error| FileError::new(path, None, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(io)?;
    // A pipe, a device or a folder cannot be read twice (the encoding check,
    // then the records) and may never end: only plain files are imported.
    if !meta.is_file() {
        return Err(FileError::new(
            path,
            None,
            "is not a regular file; save the records to a file and import that",
        ));
    }
    let total_bytes = meta.len();
    check_utf8(path)?;
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let bom = skip_bom(&mut file).map_err(io)?;
    let consumed = std::rc::Rc::new(std::cell::Cell::new(bom));
    let first = first_significant_byte(&mut file).map_err(io)?;
    let Some(first) = first else {
        return Err(FileError::new(
            path,
            None,
            "the file is empty: it holds no records",
        ));
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let format = match (ext.as_str(), first) {
        ("csv", _) => Format::Csv,
        (_, b'[') => Format::JsonArray,
        (_, b'{') => Format::JsonLines,
        ("json" | "jsonl" | "ndjson", _) => {
            return Err(FileError::new(
                path,
                Some(1),
                "invalid JSON: a record file must start with [ (a list of records) or { (one record per line)",
            ));
        }
        _ => {
            return Err(FileError::new(
                path,
                None,
                "unknown file type: use .jsonl (one JSON record per line), .json (a JSON list) or .csv",
            ));
        }
    };
    let mut input = InputFile {
        path: path.to_path_buf(),
        format,
        csv_header: None,
        total_bytes,
        items: Box::new(std::iter::empty()),
        consumed: consumed.clone(),
    };
    match format {
        Format::JsonLines => input.items = Box::new(json_lines(path.to_path_buf(), file, consumed)),
        Format::JsonArray => {
            input.items = Box::new(json_array(path, file, consumed)?.into_iter().map(Ok))
        }
        Format::Csv => {
            let (header, items) = csv_rows(path, file, consumed)?;
            input.csv_header = Some(header);
            input.items = Box::new(items);
        }
    }
    Ok(input)
}

/// Refuses the whole file at the first byte that is not UTF-8, naming the
/// line. Reads in large blocks: this runs before every import.
fn check_utf8(path: &Path) -> Result<(), FileError> {
    let io = |e: std::io::Error| FileError::new(path, None, format!("cannot read: {e}"));
    let mut file = File::open(path).map_err(io)?;
    let mut block = vec![0u8; 1 << 20];
    // Bytes of a character cut by the end of the previous block.
    let mut carry: Vec<u8> = Vec::new();
    let mut lines_before = 0u64;
    let mut first = true;
    loop {
        let n = file.read(&mut block).map_err(io)?;
        if n == 0 {
            if carry.is_empty() {
                return Ok(());
            }
            return Err(not_utf8(path, lines_before, &carry, 0));
        }
        let mut data = std::mem::take(&mut carry);
        data.extend_from_slice(&block[..n]);
        if first {
            first = false;
            if data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]) {
                return Err(FileError::new(
                    path,
                    None,
                    "the file is UTF-16 text; save it again as UTF-8 (in Excel: \"CSV UTF-8 (Comma delimited)\")",
                ));
            }
        }
        // The fast check first; the standard one only to locate a problem.
        if simdutf8::basic::from_utf8(&data).is_err() {
            match std::str::from_utf8(&data) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => carry = data[e.valid_up_to()..].to_vec(),
                Err(e) => return Err(not_utf8(path, lines_before, &data, e.valid_up_to())),
            }
        }
        let complete = data.len() - carry.len();
        lines_before += data[..complete].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

/// The error for a bad byte at `at` in `data`, which starts on a line after `lines_before` lines.
fn not_utf8(path: &Path, lines_before: u64, data: &[u8], at: usize) -> FileError {
    let line_start = data[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = lines_before + data[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let column = String::from_utf8_lossy(&data[line_start..at])
        .chars()
        .count()
        + 1;
    let byte = data.get(at).copied().unwrap_or(0);
    FileError::new(
        path,
        Some(line),
        format!("byte 0x{byte:02X} at column {column}: {LEGACY_ENCODING_HINT}"),
    )
}

fn skip_bom(reader: &mut BufReader<File>) -> std::io::Result<u64> {
    let buf = reader.fill_buf()?;
    if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
        return Ok(3);
    }
    Ok(0)
}

fn first_significant_byte(reader: &mut BufReader<File>) -> std::io::Result<Option<u8>> {
    // Peeks without consuming: the buffer holds at least the first block.
    let buf = reader.fill_buf()?;
    Ok(buf.iter().copied().find(|b| !b.is_ascii_whitespace()))
}

fn json_problem(e: &hotich_protocol::JsonError) -> Vec<FieldError> {
    vec![FieldError::new(
        "(record)",
        format!("invalid JSON: {} at column {}", e.message, e.column),
    )]
}

fn json_lines(
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
                        Some(number + 1),
                        format!("cannot read: {e}"),
                    )));
                }
            };
            if n == 0 {
                return None;
            }
            consumed.set(consumed.get() + n as u64);
            number += 1;
            let line = std::mem::take(&mut buf);
            let mut text = if simdutf8::basic::from_utf8(&line).is_ok() {
                // SAFETY: these exact bytes were just validated as UTF-8.
                unsafe { String::from_utf8_unchecked(line) }
            } else {
                // The file was checked as a whole; it changed since. Keep going
                // with replacement characters rather than fail mid-file.
                String::from_utf8_lossy(&line).into_owned()
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
                line: number,
                value,
                raw: Raw::Json(text),
            }));
        }
    })
}

/// Reads a JSON array whole; each element's line is where it starts.
fn json_array(
    path: &Path,
    mut reader: BufReader<File>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
) -> Result<Vec<Item>, FileError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| FileError::new(path, None, format!("cannot read: {e}")))?;
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
                Some(e.line as u64),
                format!(
                    "invalid JSON: {} at column {} (nothing from this file was imported)",
                    e.message, e.column
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
            line,
            value,
            raw: Raw::Json(raw.get().to_string()),
        });
    }
    consumed.set(consumed.get() + text.len() as u64);
    Ok(items)
}

fn csv_rows(
    path: &Path,
    mut reader: BufReader<File>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
) -> Result<
    (
        Vec<String>,
        impl Iterator<Item = Result<Item, FileError>> + use<>,
    ),
    FileError,
> {
    // Excel in a Vietnamese locale writes ';' between cells (',' is the decimal mark).
    let delimiter = {
        let buf = reader
            .fill_buf()
            .map_err(|e| FileError::new(path, None, format!("cannot read: {e}")))?;
        let first_line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
        let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
        if count(b';') > count(b',') {
            b';'
        } else {
            b','
        }
    };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| FileError::new(path, Some(1), format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(path, &header)?;
    let columns: Vec<Option<Vec<String>>> = header
        .iter()
        .map(|h| (h != ERRORS_COLUMN).then(|| h.split('.').map(str::to_string).collect()))
        .collect();
    let path = path.to_path_buf();
    let mut row = csv::StringRecord::new();
    let mut last_pos = 0u64;
    let items = std::iter::from_fn(move || {
        loop {
            match csv.read_record(&mut row) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    return Some(Err(FileError::new(
                        &path,
                        line,
                        format!("cannot read CSV: {e}"),
                    )));
                }
            }
            let pos = row.position().map(|p| p.byte()).unwrap_or(last_pos);
            consumed.set(consumed.get() + pos.saturating_sub(last_pos));
            last_pos = pos;
            let line = row.position().map_or(0, |p| p.line());
            let cells: Vec<String> = row.iter().map(str::to_string).collect();
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let value = if cells.len() != columns.len() {
                Err(vec![FieldError::new(
                    "(row)",
                    format!(
                        "has {} cells but the header has {} columns",
                        cells.len(),
                        columns.len()
                    ),
                )])
            } else {
                Ok(csv_record(&columns, &cells))
            };
            return Some(Ok(Item {
                line,
                value,
                raw: Raw::Csv(cells),
            }));
        }
    });
    Ok((header, items))
}

fn check_header(path: &Path, header: &[String]) -> Result<(), FileError> {
    let bad = |message: String| Err(FileError::new(path, Some(1), message));
    let known = known_field_paths();
    let mut seen = std::collections::HashSet::new();
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return bad(format!("column {} has no name in the header", i + 1));
        }
        if !seen.insert(name.as_str()) {
            return bad(format!(
                "column \"{}\" appears twice in the header",
                shown(name)
            ));
        }
        if name == ERRORS_COLUMN {
            continue;
        }
        // A list index is small: `scans.99999999999.bytes` would build a
        // list of that many items.
        if let Some(index) = name
            .split('.')
            .find(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
            && (index.len() > 3 || index.parse::<usize>().map_or(true, |i| i >= MAX_LIST_ITEMS))
        {
            return bad(format!(
                "column \"{}\": list positions go from 0 to {}",
                shown(name),
                MAX_LIST_ITEMS - 1
            ));
        }
        // `scans.0.sha256` is listed as `scans.N.sha256`.
        let generic: String = name
            .split('.')
            .map(|seg| {
                if seg.bytes().all(|b| b.is_ascii_digit()) {
                    "N"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join(".");
        if !known.contains(&generic) {
            let hint = closest(name, known.iter().map(String::as_str))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return bad(format!("unknown column \"{}\"{hint}", shown(name)));
        }
    }
    let missing: Vec<String> = always_required_paths()
        .into_iter()
        .filter(|p| !header.contains(p))
        .collect();
    if !missing.is_empty() {
        return bad(format!(
            "missing required column{} {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Builds the nested record from dotted column paths; empty cells are absent.
fn csv_record(columns: &[Option<Vec<String>>], cells: &[String]) -> Value {
    let mut root = Value::Object(Map::new());
    for (column, cell) in columns.iter().zip(cells) {
        let Some(segments) = column else { continue };
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let path = segments.join(".");
        let value = if is_integer_field(&path) && cell.parse::<i64>().is_ok() {
            Value::Number(cell.parse::<i64>().unwrap_or_default().into())
        } else {
            Value::String(cell.to_string())
        };
        insert_path(&mut root, segments, value);
    }
    root
}

fn insert_path(root: &mut Value, segments: &[String], value: Value) {
    let mut cur = root;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let index = seg.parse::<usize>().ok();
        match index {
            Some(idx) => {
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                let Value::Array(items) = cur else { return };
                while items.len() <= idx {
                    items.push(Value::Object(Map::new()));
                }
                if last {
                    items[idx] = value;
                    return;
                }
                cur = &mut items[idx];
            }
            None => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                let Value::Object(map) = cur else { return };
                if last {
                    map.insert(seg.clone(), value);
                    return;
                }
                let next_is_index = segments[i + 1].parse::<usize>().is_ok();
                cur = map.entry(seg.clone()).or_insert_with(|| {
                    if next_is_index {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    fn items(p: &Path) -> Vec<Item> {
        open(p).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn jsonl_keeps_line_numbers_and_reports_broken_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.jsonl",
            b"\xEF\xBB\xBF{\"a\":1}\n\n{\"a\":\n{\"b\":2}\r\n",
        );
        let got = items(&p);
        assert_eq!(
            got.iter().map(|i| i.line).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert!(got[0].value.is_ok());
        let e = got[1].value.as_ref().unwrap_err();
        assert!(e[0].reason.starts_with("invalid JSON"), "{e:?}");
        assert_eq!(got[2].value.as_ref().unwrap()["b"], 2);
    }

    #[test]
    fn json_array_elements_know_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.json",
            b"[\n  {\"a\": 1},\n\n  {\"a\": 1, \"a\": 2}\n]\n",
        );
        let got = items(&p);
        assert_eq!(got.iter().map(|i| i.line).collect::<Vec<_>>(), vec![2, 4]);
        assert!(
            got[1].value.as_ref().unwrap_err()[0]
                .reason
                .contains("duplicate key")
        );
        let p = write(dir.path(), "b.json", b"[\n {\"a\": 1},\n {\"a\" 2}\n]");
        let err = open(&p).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message.contains("nothing from this file was imported"),
            "{err}"
        );
    }

    #[test]
    fn legacy_encodings_and_empty_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // "Nguyễn" in Windows-1258 is not UTF-8.
        let p = write(
            dir.path(),
            "old.csv",
            b"kind,commune_code\nbirth,00004\nNguy\xEAn\xDE,x\n",
        );
        let err = open(&p).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message.contains("not UTF-8") && err.message.contains("Windows-1258"),
            "{err}"
        );
        let p = write(dir.path(), "empty.jsonl", b" \n\n");
        assert!(open(&p).unwrap_err().message.contains("empty"));
        let p = write(dir.path(), "u16.csv", b"\xFF\xFEk\x00");
        assert!(open(&p).unwrap_err().message.contains("UTF-16"));
    }

    #[test]
    fn csv_header_problems_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = "kind,commune_code,register.year,register.book,register.entry,registered_on";
        let p = write(dir.path(), "dup.csv", format!("{base},kind\n").as_bytes());
        assert!(
            open(&p)
                .unwrap_err()
                .message
                .contains("\"kind\" appears twice")
        );
        let p = write(
            dir.path(),
            "typo.csv",
            format!("{base},child.fullname\n").as_bytes(),
        );
        let e = open(&p).unwrap_err();
        assert!(e.message.contains("did you mean child.full_name"), "{e}");
        let p = write(
            dir.path(),
            "missing.csv",
            b"kind,commune_code,child.full_name\nbirth,00004,A\n",
        );
        let e = open(&p).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(
            e.message.contains("missing required columns register.book, register.entry, register.year, registered_on"),
            "{e}"
        );
    }

    #[test]
    fn csv_rows_become_nested_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "ok.csv",
            "kind;commune_code;register.year;register.book;register.entry;registered_on;child.full_name;father.full_name;scans.0.bytes;errors\n\
             birth;00004;1998;01;123;1998-03-20;Nguyễn Văn An;;812;old problem\n\
             birth;00004;1998\n"
                .as_bytes(),
        );
        let got = items(&p);
        let v = got[0].value.as_ref().unwrap();
        assert_eq!(v["register"]["year"], 1998);
        assert_eq!(v["register"]["book"], "01");
        assert_eq!(v["child"]["full_name"], "Nguyễn Văn An");
        assert_eq!(v["scans"][0]["bytes"], 812);
        assert!(v.get("father").is_none() && v.get("errors").is_none());
        assert_eq!(got[1].line, 3);
        assert!(
            got[1].value.as_ref().unwrap_err()[0]
                .reason
                .contains("3 cells")
        );
    }
}
