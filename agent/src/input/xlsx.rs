//! Excel workbooks (.xlsx): the first sheet, or every sheet named after a
//! register ("Khai sinh", "Kết hôn", "Khai tử"), whose name then gives the
//! kind. Excel date cells, numbers (1998.0) and text are all read for what
//! they mean. Rows are referred to as Excel shows them: `Khai sinh!17`.
//!
//! The workbook is read twice: once before anything is imported (headers,
//! and dates written month first, which refuse the sheet whole), then on a
//! thread of its own that hands rows over as they are read, so a large
//! sheet is never held in memory.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use hotich_protocol::{CivilDate, RecordKind};

use super::table::{Cell, Mapper, month_first_error};
use super::{FileError, Item, Raw, RowRef};
use crate::columns;
use crate::tr;

type Workbook = Xlsx<BufReader<File>>;

/// A sheet to import: its name, its header, how its rows become records.
pub(super) struct Sheet {
    pub name: String,
    pub header_row: u32,
    pub mapper: Mapper,
    pub rows: u64,
}

pub(super) struct XlsxInput {
    pub sheets: Vec<(String, Vec<String>)>,
    pub rows: u64,
    pub items: Box<dyn Iterator<Item = Result<Item, FileError>>>,
}

fn cell(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            CivilDate::new(i32::from(y), m, d)
                .map(Cell::Date)
                .unwrap_or_else(|| Cell::Number(dt.as_f64()))
        }
        DataRef::DateTime(dt) => Cell::Number(dt.as_f64()),
        DataRef::DateTimeIso(s) => Cell::Text(s.get(..10).unwrap_or(s).to_string()),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

/// Walks a sheet's cells row by row: `f(row, cells)` for each row that has
/// any cell, in order (rows are 0-based, as calamine numbers them).
fn walk_rows(
    book: &mut Workbook,
    sheet: &str,
    mut f: impl FnMut(u32, Vec<Cell>) -> bool,
) -> Result<(), XlsxError> {
    let mut reader = book.worksheet_cells_reader(sheet)?;
    let mut current: Option<u32> = None;
    let mut cells: Vec<Cell> = Vec::new();
    while let Some(c) = reader.next_cell()? {
        let (row, col) = c.get_position();
        if current != Some(row) {
            if let Some(r) = current
                && !f(r, std::mem::take(&mut cells))
            {
                return Ok(());
            }
            current = Some(row);
        }
        let col = col as usize;
        // A column past any real header is noise (a stray format far right).
        if col > 4096 {
            continue;
        }
        if cells.len() <= col {
            cells.resize(col + 1, Cell::Empty);
        }
        cells[col] = cell(c.get_value());
    }
    if let Some(r) = current {
        f(r, cells);
    }
    Ok(())
}

fn is_blank(cells: &[Cell]) -> bool {
    cells.iter().all(|c| match c {
        Cell::Empty => true,
        Cell::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

pub(super) fn open(
    path: &Path,
    default_kind: Option<RecordKind>,
    commune: Option<String>,
) -> Result<XlsxInput, FileError> {
    let unreadable = |e: XlsxError| {
        FileError::new(
            path,
            None,
            tr!("file-xlsx-unreadable", detail = e.to_string()),
        )
    };
    let mut book: Workbook = calamine::open_workbook(path).map_err(unreadable)?;
    let names = book.sheet_names();
    let by_kind: Vec<(String, Option<RecordKind>)> = names
        .iter()
        .filter_map(|n| columns::parse_kind(n).map(|k| (n.clone(), Some(k))))
        .collect();
    let chosen = if by_kind.is_empty() {
        names
            .first()
            .map(|n| vec![(n.clone(), default_kind)])
            .unwrap_or_default()
    } else {
        by_kind
    };
    if chosen.is_empty() {
        return Err(FileError::new(path, None, tr!("file-empty")));
    }
    // First pass: headers, row counts, dates written month first.
    let mut sheets = Vec::new();
    for (name, kind) in chosen {
        let mut header: Option<(u32, Vec<String>)> = None;
        let mut mapper: Option<Mapper> = None;
        let mut dates: Vec<usize> = Vec::new();
        let mut rows = 0u64;
        let mut failure: Option<FileError> = None;
        walk_rows(&mut book, &name, |row, cells| {
            let at = RowRef::cell(&name, u64::from(row) + 1);
            match &mapper {
                None => {
                    if is_blank(&cells) {
                        return true;
                    }
                    let names: Vec<String> = cells
                        .iter()
                        .map(|c| c.display().trim().to_string())
                        .collect();
                    // Trailing empty header cells are formatting, not columns.
                    let len = names
                        .iter()
                        .rposition(|n| !n.is_empty())
                        .map_or(0, |i| i + 1);
                    let names = names[..len].to_vec();
                    match Mapper::new(path, at, names.clone(), kind, commune.clone()) {
                        Ok(m) => {
                            dates = m.date_columns();
                            header = Some((row, names));
                            mapper = Some(m);
                            true
                        }
                        Err(e) => {
                            failure = Some(e);
                            false
                        }
                    }
                }
                Some(m) => {
                    if is_blank(&cells) {
                        return true;
                    }
                    rows += 1;
                    if let Some((i, text)) = m.month_first(&cells, &dates) {
                        failure = Some(month_first_error(path, at, &m.header[i], text.trim()));
                        return false;
                    }
                    true
                }
            }
        })
        .map_err(unreadable)?;
        if let Some(e) = failure {
            return Err(e);
        }
        let (Some((header_row, _)), Some(mapper)) = (header, mapper) else {
            continue;
        };
        sheets.push(Sheet {
            name,
            header_row,
            mapper,
            rows,
        });
    }
    if sheets.is_empty() {
        return Err(FileError::new(path, None, tr!("file-empty")));
    }
    let listed = sheets
        .iter()
        .map(|s| (s.name.clone(), s.mapper.header.clone()))
        .collect();
    let total: u64 = sheets.iter().map(|s| s.rows).sum();
    // Second pass, on its own thread: rows are handed over as they are read.
    let (tx, rx) = mpsc::sync_channel::<Result<Item, FileError>>(256);
    let owned: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        for sheet in sheets {
            let name = sheet.name.clone();
            let result = walk_rows(&mut book, &name, |row, cells| {
                if row <= sheet.header_row || is_blank(&cells) {
                    return true;
                }
                let value = sheet.mapper.record(&cells).map(|(_, v)| v);
                tx.send(Ok(Item {
                    at: RowRef::cell(&name, u64::from(row) + 1),
                    value,
                    raw: Raw::Row(cells),
                }))
                .is_ok()
            });
            if let Err(e) = result {
                let _ = tx.send(Err(FileError::new(
                    &owned,
                    None,
                    tr!("file-xlsx-unreadable", detail = e.to_string()),
                )));
                return;
            }
        }
    });
    Ok(XlsxInput {
        sheets: listed,
        rows: total,
        items: Box::new(rx.into_iter()),
    })
}
