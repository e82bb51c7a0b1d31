//! Spreadsheet rows (CSV or .xlsx) turned into records: the header is read
//! once against the table of columns (`crate::columns`), then each row's
//! cells are converted by the type of the field they fill, for the kind of
//! register the row belongs to (its Loại cell, else its sheet's name, else
//! `--kind`). The commune defaults to the agent's own.

use std::collections::BTreeMap;
use std::path::Path;

use hotich_protocol::validate::{Problem, closest, known_field_paths, shown};
use hotich_protocol::{CivilDate, FieldError, RecordKind};
use serde_json::{Map, Value};

use super::values::{FieldType, convert};
use super::{FileError, RowRef};
use crate::columns::{self, Target};
use crate::tr;

/// One cell as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date cell (a day number with a date format).
    Date(CivilDate),
    Bool(bool),
}

impl Cell {
    /// The cell as the official sees it in the spreadsheet.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => super::values::number_text(*n),
            Cell::Date(d) => format!("{:02}/{:02}/{:04}", d.day, d.month, d.year),
            Cell::Bool(b) => b.to_string(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// How a CSV file was written, so its rejects file is written the same way
/// and opens in the official's Excel as the original did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub bom: bool,
    pub crlf: bool,
}

/// What one column of a sheet does for one kind of register.
#[derive(Debug, Clone)]
enum Slot {
    Field {
        segments: Vec<String>,
        ty: FieldType,
    },
    Kind,
    Ignore,
    /// A column of another register; must be empty in this one.
    Foreign,
}

/// Reads the rows of one sheet (or CSV file).
#[derive(Debug)]
pub struct Mapper {
    pub header: Vec<String>,
    slots: [Vec<Slot>; 3],
    kind_column: Option<usize>,
    /// The kind given by the sheet's name or `--kind`.
    default_kind: Option<RecordKind>,
    commune: Option<String>,
}

fn kind_index(kind: RecordKind) -> usize {
    match kind {
        RecordKind::Birth => 0,
        RecordKind::Marriage => 1,
        RecordKind::Death => 2,
    }
}

impl Mapper {
    /// Checks the header: every column known to some register, none twice,
    /// the book entry's columns present.
    pub fn new(
        path: &Path,
        at: RowRef,
        header: Vec<String>,
        default_kind: Option<RecordKind>,
        commune: Option<String>,
    ) -> Result<Mapper, FileError> {
        let bad = |message: String| Err(FileError::new(path, Some(at.clone()), message));
        let mut seen = std::collections::HashSet::new();
        for (i, name) in header.iter().enumerate() {
            if name.trim().is_empty() {
                return bad(tr!("header-unnamed", column = i + 1));
            }
            if !seen.insert(hotich_protocol::text::fold(name)) {
                return bad(tr!("header-twice", column = shown(name)));
            }
            if let Some(index) = name
                .split('.')
                .find(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
                && (index.len() > 3
                    || index
                        .parse::<usize>()
                        .map_or(true, |i| i >= hotich_protocol::validate::MAX_LIST_ITEMS))
            {
                return bad(tr!(
                    "header-list-position",
                    column = shown(name),
                    max = hotich_protocol::validate::MAX_LIST_ITEMS - 1
                ));
            }
        }
        let known_paths = known_field_paths();
        let mut slots: [Vec<Slot>; 3] = Default::default();
        for kind in RecordKind::ALL {
            slots[kind_index(kind)] = header
                .iter()
                .map(|h| match columns::resolve(h, kind) {
                    Some(Target::Field(path)) => Slot::Field {
                        segments: path.split('.').map(str::to_string).collect(),
                        ty: FieldType::of(path),
                    },
                    Some(Target::Dotted) => {
                        let path = h.trim();
                        Slot::Field {
                            segments: path.split('.').map(str::to_string).collect(),
                            ty: FieldType::of(&generic(path)),
                        }
                    }
                    Some(Target::Kind) => Slot::Kind,
                    Some(Target::Problems) => Slot::Ignore,
                    None => Slot::Foreign,
                })
                .collect();
        }
        // A column no register knows, or a dotted path the model does not know.
        for (i, name) in header.iter().enumerate() {
            let foreign_everywhere = slots.iter().all(|s| matches!(s[i], Slot::Foreign));
            let dotted_unknown = matches!(
                columns::resolve(name, RecordKind::Birth),
                Some(Target::Dotted)
            ) && !known_paths.contains(&generic(name.trim()));
            if foreign_everywhere || dotted_unknown {
                let mut candidates: Vec<&str> = columns::all_headers();
                candidates.extend(known_paths.iter().map(String::as_str));
                let hint = closest(name.trim(), candidates.into_iter())
                    .map(|k| tr!("header-did-you-mean", name = k))
                    .unwrap_or_default();
                return bad(tr!("header-unknown", column = shown(name), hint = hint));
            }
        }
        // The book entry must be there, however spelled.
        let filled = |path: &str| {
            slots.iter().any(|s| {
                s.iter().any(|slot| {
                    matches!(slot, Slot::Field { segments, .. } if segments.join(".") == path)
                })
            })
        };
        let missing: Vec<String> = [
            "register.year",
            "register.book",
            "register.entry",
            "registered_on",
        ]
        .into_iter()
        .filter(|p| !filled(p))
        .map(|p| crate::i18n::field_name(p, None))
        .collect();
        if !missing.is_empty() {
            return bad(tr!(
                "header-missing",
                count = missing.len(),
                columns = missing.join(", ")
            ));
        }
        let kind_column = header
            .iter()
            .position(|h| columns::resolve(h, RecordKind::Birth) == Some(Target::Kind));
        // Columns only one register has ("Ngày chết") say which register
        // the sheet is: any other kind would refuse every row for them.
        let default_kind = default_kind.or_else(|| {
            let fitting: Vec<RecordKind> = RecordKind::ALL
                .into_iter()
                .filter(|k| {
                    !slots[kind_index(*k)]
                        .iter()
                        .any(|s| matches!(s, Slot::Foreign))
                })
                .collect();
            match fitting.as_slice() {
                [only] => Some(*only),
                _ => None,
            }
        });
        Ok(Mapper {
            header,
            slots,
            kind_column,
            default_kind,
            commune,
        })
    }

    /// The columns that hold dates, for the month-first check.
    pub fn date_columns(&self) -> Vec<usize> {
        (0..self.header.len())
            .filter(|i| {
                self.slots.iter().any(|s| {
                    matches!(
                        &s[*i],
                        Slot::Field {
                            ty: FieldType::Date,
                            ..
                        }
                    )
                })
            })
            .collect()
    }

    /// The kind of register a row belongs to.
    fn row_kind(&self, cells: &[Cell]) -> Result<RecordKind, FieldError> {
        if let Some(c) = self.kind_column
            && let Some(cell) = cells.get(c).filter(|c| !c.is_empty())
        {
            let text = cell.display();
            return columns::parse_kind(&text).ok_or_else(|| {
                FieldError::of(
                    "kind",
                    Problem::UnknownKind {
                        value: shown(&text).into_owned(),
                    },
                )
            });
        }
        self.default_kind.ok_or_else(|| {
            FieldError::coded("kind", "no-kind", BTreeMap::new(), "the kind of register is not given: add a Loại column, name the sheet Khai sinh, Kết hôn or Khai tử, or use --kind")
        })
    }

    /// A row as a record (not yet normalized or validated).
    pub fn record(&self, cells: &[Cell]) -> Result<(RecordKind, Value), Vec<FieldError>> {
        if cells.len() > self.header.len()
            && cells[self.header.len()..].iter().any(|c| !c.is_empty())
        {
            return Err(vec![FieldError::coded(
                "(row)",
                "cells-count",
                BTreeMap::from([
                    ("cells".to_string(), cells.len().to_string()),
                    ("columns".to_string(), self.header.len().to_string()),
                ]),
                format!(
                    "has {} cells but the header has {} columns",
                    cells.len(),
                    self.header.len()
                ),
            )]);
        }
        let kind = self.row_kind(cells).map_err(|e| vec![e])?;
        let mut root = Value::Object(Map::new());
        let mut errors = Vec::new();
        for (i, slot) in self.slots[kind_index(kind)].iter().enumerate() {
            let Some(cell) = cells.get(i) else { break };
            match slot {
                Slot::Kind | Slot::Ignore => {}
                Slot::Foreign => {
                    if !cell.is_empty() {
                        errors.push(FieldError::coded(
                            "(row)",
                            "foreign-column",
                            BTreeMap::from([
                                ("column".to_string(), self.header[i].clone()),
                                ("kind".to_string(), columns::kind_name(kind).to_string()),
                            ]),
                            format!(
                                "column \"{}\" is not part of a {} record; leave it empty",
                                self.header[i], kind
                            ),
                        ));
                    }
                }
                Slot::Field { segments, ty } => match convert(cell, *ty) {
                    Ok(Some(v)) => insert_path(&mut root, segments, v),
                    Ok(None) => {}
                    Err(mut e) => {
                        e.field = segments.join(".");
                        errors.push(e);
                    }
                },
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Value::Object(map) = &mut root else {
            return Err(Vec::new());
        };
        map.insert("kind".into(), Value::String(kind.as_str().into()));
        if !map.contains_key("commune_code")
            && let Some(c) = &self.commune
        {
            map.insert("commune_code".into(), Value::String(c.clone()));
        }
        Ok((kind, root))
    }
}

/// `scans.0.sha256` as the schema lists it: `scans.N.sha256`.
fn generic(path: &str) -> String {
    path.split('.')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "N"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The file error for a column of month-first dates.
pub fn month_first_error(path: &Path, at: RowRef, column: &str, value: &str) -> FileError {
    FileError::new(
        path,
        Some(at),
        tr!("file-month-first", column = column, value = value),
    )
}

pub fn insert_path(root: &mut Value, segments: &[String], value: Value) {
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
