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
use super::values::is_month_first;
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

/// Cells further right than this are stray formatting, not data.
const MAX_COLUMN: usize = 4096;

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
        if col > MAX_COLUMN {
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

/// Rows handed from the reading thread at a time.
const HANDOVER_ROWS: usize = 64;

/// The first look at a sheet, before anything is imported: its header
/// mapped, its rows counted, and the text of its date columns checked for
/// dates written month first. Only the header and the date cells are turned
/// into values; the rest is only seen to be there.
fn survey(
    book: &mut Workbook,
    path: &Path,
    name: String,
    kind: Option<RecordKind>,
    commune: Option<String>,
) -> Result<Option<Sheet>, FileError> {
    let unreadable = |e: XlsxError| {
        FileError::new(
            path,
            None,
            tr!("file-xlsx-unreadable", detail = e.to_string()),
        )
    };
    let mut reader = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut mapper: Option<(u32, Mapper)> = None;
    let mut header: Vec<Cell> = Vec::new();
    let mut is_date: Vec<bool> = Vec::new();
    let mut current: Option<u32> = None;
    let mut row_has_value = false;
    let mut rows = 0u64;
    // Ends the row in progress: the first non-blank row is the header.
    let mut finish_row = |row: u32,
                          header: &mut Vec<Cell>,
                          mapper: &mut Option<(u32, Mapper)>,
                          is_date: &mut Vec<bool>,
                          row_has_value: bool|
     -> Result<(), FileError> {
        if mapper.is_some() {
            rows += u64::from(row_has_value);
            return Ok(());
        }
        if is_blank(header) {
            header.clear();
            return Ok(());
        }
        let names: Vec<String> = header
            .iter()
            .map(|c| c.display().trim().to_string())
            .collect();
        // Trailing empty header cells are formatting, not columns.
        let len = names
            .iter()
            .rposition(|n| !n.is_empty())
            .map_or(0, |i| i + 1);
        let at = RowRef::cell(&name, u64::from(row) + 1);
        let m = Mapper::new(path, at, names[..len].to_vec(), kind, commune.clone())?;
        *is_date = vec![false; len];
        for i in m.date_columns() {
            is_date[i] = true;
        }
        *mapper = Some((row, m));
        Ok(())
    };
    while let Some(c) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = c.get_position();
        if current != Some(row) {
            if let Some(r) = current {
                finish_row(r, &mut header, &mut mapper, &mut is_date, row_has_value)?;
            }
            current = Some(row);
            row_has_value = false;
        }
        let col = col as usize;
        if col > MAX_COLUMN {
            continue;
        }
        let Some((_, m)) = &mapper else {
            if header.len() <= col {
                header.resize(col + 1, Cell::Empty);
            }
            header[col] = cell(c.get_value());
            continue;
        };
        let text = match c.get_value() {
            DataRef::Empty => continue,
            DataRef::String(s) => s.as_str(),
            DataRef::SharedString(s) => s,
            _ => {
                row_has_value = true;
                continue;
            }
        };
        row_has_value |= !text.trim().is_empty();
        if is_date.get(col) == Some(&true) && is_month_first(text) {
            let at = RowRef::cell(&name, u64::from(row) + 1);
            return Err(month_first_error(path, at, &m.header[col], text.trim()));
        }
    }
    if let Some(r) = current {
        finish_row(r, &mut header, &mut mapper, &mut is_date, row_has_value)?;
    }
    drop(reader);
    Ok(mapper.map(|(header_row, mapper)| Sheet {
        name,
        header_row,
        mapper,
        rows,
    }))
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
        if let Some(sheet) = survey(&mut book, path, name, kind, commune.clone())? {
            sheets.push(sheet);
        }
    }
    if sheets.is_empty() {
        return Err(FileError::new(path, None, tr!("file-empty")));
    }
    let listed = sheets
        .iter()
        .map(|s| (s.name.clone(), s.mapper.header.clone()))
        .collect();
    let total: u64 = sheets.iter().map(|s| s.rows).sum();
    // Second pass, on its own thread: rows are handed over as they are read,
    // a few dozen at a time (one hand-over per row costs more than the row).
    let (tx, rx) = mpsc::sync_channel::<Vec<Result<Item, FileError>>>(8);
    let owned: PathBuf = path.to_path_buf();
    let reading = std::thread::Builder::new().name("xlsx-rows".into());
    let spawned = reading.spawn(move || {
        let mut batch = Vec::with_capacity(HANDOVER_ROWS);
        for sheet in sheets {
            let name = sheet.name.clone();
            let result = walk_rows(&mut book, &name, |row, cells| {
                if row <= sheet.header_row || is_blank(&cells) {
                    return true;
                }
                let value = sheet.mapper.record(&cells).map(|(_, v)| v);
                batch.push(Ok(Item {
                    at: RowRef::cell(&name, u64::from(row) + 1),
                    value,
                    raw: Raw::Row(cells),
                }));
                batch.len() < HANDOVER_ROWS
                    || tx
                        .send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(HANDOVER_ROWS),
                        ))
                        .is_ok()
            });
            if let Err(e) = result {
                batch.push(Err(FileError::new(
                    &owned,
                    None,
                    tr!("file-xlsx-unreadable", detail = e.to_string()),
                )));
                break;
            }
        }
        let _ = tx.send(batch);
    });
    if let Err(e) = spawned {
        return Err(FileError::new(
            path,
            None,
            tr!("file-cannot-read", detail = e.to_string()),
        ));
    }
    Ok(XlsxInput {
        sheets: listed,
        rows: total,
        items: Box::new(rx.into_iter().flatten()),
    })
}
