//! Reading records from the files officials bring: Excel workbooks
//! (.xlsx), CSV as Excel saves it, JSON Lines and JSON lists. Spreadsheets
//! may use the Vietnamese column names of the paper registers or the dotted
//! field paths (`child.full_name`).
//!
//! Every problem is tied to a file and a row as the official's program
//! shows it (`so.csv:17`, `so.xlsx:Khai sinh!17`). A file that cannot be
//! read as a whole (not UTF-8, empty, a broken header, a date column written
//! month first) is refused before anything from it is accepted; a bad
//! record only costs that record.
//!
//! - `json`: JSON Lines and JSON lists;
//! - `csv`: CSV dialects and physical line numbers;
//! - `xlsx`: workbooks, sheet by sheet;
//! - `table`: spreadsheet rows to records, through the column table;
//! - `values`: cell values as officials write them.

mod csv;
mod json;
mod table;
mod values;
mod xlsx;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use hotich_protocol::{FieldError, RecordKind};
use serde_json::Value;

pub use table::{Cell, Dialect};
pub use values::{FieldType, number_text};

/// How cells of the field at `path` are read (and templates format them).
pub fn field_type(path: &str) -> FieldType {
    FieldType::of(path)
}

use crate::tr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    JsonArray,
    Csv(Dialect),
    Xlsx,
}

/// Where a record is in its file, as the official's program shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowRef {
    /// The sheet of a workbook.
    pub sheet: Option<String>,
    /// The line (CSV, JSON) or row number (a sheet), from 1.
    pub line: u64,
}

impl RowRef {
    pub fn line(line: u64) -> RowRef {
        RowRef { sheet: None, line }
    }

    pub fn cell(sheet: &str, row: u64) -> RowRef {
        RowRef {
            sheet: Some(sheet.to_string()),
            line: row,
        }
    }
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sheet {
            Some(sheet) => write!(f, "{sheet}!{}", self.line),
            None => write!(f, "{}", self.line),
        }
    }
}

/// A whole file is refused; `at` says where when it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at.as_ref().map(|a| format!(":{a}")).unwrap_or_default())]
pub struct FileError {
    pub path: PathBuf,
    pub at: Option<RowRef>,
    pub message: String,
}

impl FileError {
    fn new(path: &Path, at: Option<RowRef>, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            at,
            message: message.into(),
        }
    }
}

/// The record as the user wrote it, to put in the rejects file unchanged.
#[derive(Debug, Clone)]
pub enum Raw {
    Json(String),
    Row(Vec<Cell>),
}

/// One record read from a file: its JSON value, or why it could not be read.
#[derive(Debug)]
pub struct Item {
    pub at: RowRef,
    pub value: Result<Value, Vec<FieldError>>,
    pub raw: Raw,
}

/// What spreadsheet rows are read with: the kind of register when no Loại
/// column or sheet name gives it, and the commune when no Mã xã column does.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub kind: Option<RecordKind>,
    pub commune: Option<String>,
    /// The former commune whose books the whole file holds (rows with a
    /// `Mã xã cũ` of their own keep theirs).
    pub former_commune: Option<String>,
    /// Who is entering the records (kept with each entry, not in it).
    pub official: Option<String>,
    /// The rows are a second keying of entries already typed (by another
    /// official), to check the first: kept as keyings, not as records.
    pub second_keying: bool,
}

pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    /// The sheets read, with their headers (a CSV file is one, unnamed).
    pub sheets: Vec<(Option<String>, Vec<String>)>,
    /// For progress: bytes (text files) or rows (workbooks).
    pub total: u64,
    items: Box<dyn Iterator<Item = Result<Item, FileError>>>,
    consumed: Rc<std::cell::Cell<u64>>,
}

impl InputFile {
    /// How much of `total` was read so far.
    pub fn progress(&self) -> u64 {
        self.consumed.get()
    }
}

impl Iterator for InputFile {
    type Item = Result<Item, FileError>;
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.items.next();
        if self.format == Format::Xlsx && item.is_some() {
            self.consumed.set(self.consumed.get() + 1);
        }
        item
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

/// Opens a file, checks it can be read as a whole, and picks its reader.
pub fn open(path: &Path, options: &Options) -> Result<InputFile, FileError> {
    let io = |e: std::io::Error| {
        FileError::new(path, None, tr!("file-cannot-read", detail = e.to_string()))
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    // A pipe, a device or a folder cannot be read twice (the encoding check,
    // then the records) and may never end: only plain files are imported.
    if !meta.is_file() {
        return Err(FileError::new(path, None, tr!("file-not-regular")));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let consumed = Rc::new(std::cell::Cell::new(0));
    if ext == "xlsx" {
        let x = xlsx::open(path, options.kind, options.commune.clone())?;
        return Ok(InputFile {
            path: path.to_path_buf(),
            format: Format::Xlsx,
            sheets: x.sheets.into_iter().map(|(n, h)| (Some(n), h)).collect(),
            total: x.rows,
            items: x.items,
            consumed,
        });
    }
    if ext == "xls" || ext == "ods" {
        return Err(FileError::new(path, None, tr!("file-old-spreadsheet")));
    }
    check_utf8(path)?;
    let total = meta.len();
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let bom = skip_bom(&mut file).map_err(io)?;
    consumed.set(bom);
    let Some(first) = first_significant_byte(&mut file).map_err(io)? else {
        return Err(FileError::new(path, None, tr!("file-empty")));
    };
    let format = match (ext.as_str(), first) {
        ("csv", _) => {
            drop(file);
            let c = csv::open(
                path,
                options.kind,
                options.commune.clone(),
                consumed.clone(),
            )?;
            return Ok(InputFile {
                path: path.to_path_buf(),
                format: Format::Csv(c.dialect),
                sheets: vec![(None, c.header)],
                total,
                items: c.items,
                consumed,
            });
        }
        (_, b'[') => Format::JsonArray,
        (_, b'{') => Format::JsonLines,
        ("json" | "jsonl" | "ndjson", _) => {
            return Err(FileError::new(
                path,
                Some(RowRef::line(1)),
                tr!("file-json-start"),
            ));
        }
        _ => return Err(FileError::new(path, None, tr!("file-unknown-type"))),
    };
    let items: Box<dyn Iterator<Item = Result<Item, FileError>>> = match format {
        Format::JsonLines => Box::new(json::json_lines(path.to_path_buf(), file, consumed.clone())),
        _ => Box::new(
            json::json_array(path, file, consumed.clone())?
                .into_iter()
                .map(Ok),
        ),
    };
    Ok(InputFile {
        path: path.to_path_buf(),
        format,
        sheets: Vec::new(),
        total,
        items,
        consumed,
    })
}

/// Refuses the whole file at the first byte that is not UTF-8, naming the
/// line. Reads in large blocks: this runs before every import.
fn check_utf8(path: &Path) -> Result<(), FileError> {
    let io = |e: std::io::Error| {
        FileError::new(path, None, tr!("file-cannot-read", detail = e.to_string()))
    };
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
                return Err(FileError::new(path, None, tr!("file-utf16")));
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
        Some(RowRef::line(line)),
        tr!(
            "file-not-utf8",
            byte = format!("0x{byte:02X}"),
            column = column
        ),
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

#[cfg(test)]
mod tests;
