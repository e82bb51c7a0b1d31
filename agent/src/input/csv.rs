//! CSV as Excel and LibreOffice save it: `,` or `;` between cells, with or
//! without a BOM, LF or CRLF line ends, quoted cells that span lines. Rows
//! are numbered by the physical line they start on, as a text editor shows
//! them; the dialect is kept so the rejects file can be written the same way.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use hotich_protocol::RecordKind;

use super::table::{Cell, Dialect, Mapper, month_first_error};
use super::{FileError, Item, Raw, RowRef};
use crate::tr;

/// Counts the line breaks that pass through it, so a record's starting byte
/// (which the CSV reader reports) can be turned into its physical line.
struct LineIndex {
    /// Offsets of '\n' bytes read but not yet passed by a record start.
    newlines: VecDeque<u64>,
    /// Line breaks before the first offset in `newlines`.
    before: u64,
    offset: u64,
}

impl LineIndex {
    /// The 1-based line of the byte at `offset` (a record start).
    ///
    /// With CRLF the reader ends a record at '\r' and reports the next one as
    /// starting at the '\n' it has yet to skip, so a break at `offset` itself
    /// still belongs to the line before.
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.newlines.front().is_some_and(|n| *n <= offset) {
            self.newlines.pop_front();
            self.before += 1;
        }
        self.before + 1
    }
}

struct Counting<R> {
    inner: R,
    index: Rc<RefCell<LineIndex>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut index = self.index.borrow_mut();
        let base = index.offset;
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                index.newlines.push_back(base + i as u64);
            }
        }
        index.offset += n as u64;
        Ok(n)
    }
}

/// Looks at the first line: which separator, a BOM, CRLF.
fn sniff(reader: &mut BufReader<File>) -> std::io::Result<Dialect> {
    let buf = reader.fill_buf()?;
    let bom = buf.starts_with(&[0xEF, 0xBB, 0xBF]);
    let body = if bom { &buf[3..] } else { buf };
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
    // Excel in a Vietnamese locale writes ';' (',' is the decimal mark).
    let delimiter = if count(b';') > count(b',') {
        b';'
    } else {
        b','
    };
    let crlf = first_line.ends_with(b"\r");
    if bom {
        reader.consume(3);
    }
    Ok(Dialect {
        delimiter,
        bom,
        crlf,
    })
}

fn reader_for(path: &Path) -> Result<(BufReader<File>, Dialect), FileError> {
    let io = |e: std::io::Error| {
        FileError::new(path, None, tr!("file-cannot-read", detail = e.to_string()))
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let dialect = sniff(&mut reader).map_err(io)?;
    Ok((reader, dialect))
}

fn csv_reader<R: Read>(inner: R, dialect: Dialect) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(dialect.delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(inner)
}

pub(super) struct CsvInput {
    pub dialect: Dialect,
    pub header: Vec<String>,
    pub items: Box<dyn Iterator<Item = Result<Item, FileError>>>,
}

pub(super) fn open(
    path: &Path,
    default_kind: Option<RecordKind>,
    commune: Option<String>,
    consumed: Rc<std::cell::Cell<u64>>,
) -> Result<CsvInput, FileError> {
    let (reader, dialect) = reader_for(path)?;
    let index = Rc::new(RefCell::new(LineIndex {
        newlines: VecDeque::new(),
        before: 0,
        offset: 0,
    }));
    let mut csv = csv_reader(
        Counting {
            inner: reader,
            index: index.clone(),
        },
        dialect,
    );
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| {
            FileError::new(
                path,
                Some(RowRef::line(1)),
                tr!("file-header-unreadable", detail = e.to_string()),
            )
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mapper = Mapper::new(path, RowRef::line(1), header.clone(), default_kind, commune)?;
    check_month_first(path, &mapper)?;
    let path: PathBuf = path.to_path_buf();
    let mut row = csv::StringRecord::new();
    let mut last_pos = 0u64;
    let items = std::iter::from_fn(move || {
        loop {
            match csv.read_record(&mut row) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| index.borrow_mut().line_of(p.byte()));
                    return Some(Err(FileError::new(
                        &path,
                        line.map(RowRef::line),
                        tr!("file-csv-broken", detail = e.to_string()),
                    )));
                }
            }
            let pos = row.position().map(|p| p.byte()).unwrap_or(last_pos);
            consumed.set(consumed.get() + pos.saturating_sub(last_pos));
            last_pos = pos;
            let line = index.borrow_mut().line_of(pos);
            let cells: Vec<Cell> = row.iter().map(|c| Cell::Text(c.to_string())).collect();
            if cells
                .iter()
                .all(|c| matches!(c, Cell::Text(t) if t.trim().is_empty()))
            {
                continue;
            }
            // Excel writes every separator of a row: a row with another
            // number of cells has its values in the wrong columns.
            let value = if cells.len() != mapper.header.len() {
                Err(vec![cells_count(cells.len(), mapper.header.len())])
            } else {
                mapper.record(&cells).map(|(_, v)| v)
            };
            return Some(Ok(Item {
                at: RowRef::line(line),
                value,
                raw: Raw::Row(cells),
            }));
        }
    });
    Ok(CsvInput {
        dialect,
        header,
        items: Box::new(items),
    })
}

fn cells_count(cells: usize, columns: usize) -> hotich_protocol::FieldError {
    hotich_protocol::FieldError::coded(
        "(row)",
        "cells-count",
        std::collections::BTreeMap::from([
            ("cells".to_string(), cells.to_string()),
            ("columns".to_string(), columns.to_string()),
        ]),
        format!("has {cells} cells but the header has {columns} columns"),
    )
}

/// Reads the date columns once before anything is imported: a column with
/// a date written month first is refused whole, because its other dates
/// (03/04/1998) would be read wrong without a word.
fn check_month_first(path: &Path, mapper: &Mapper) -> Result<(), FileError> {
    let dates = mapper.date_columns();
    if dates.is_empty() {
        return Ok(());
    }
    let (reader, dialect) = reader_for(path)?;
    let index = Rc::new(RefCell::new(LineIndex {
        newlines: VecDeque::new(),
        before: 0,
        offset: 0,
    }));
    let mut csv = csv_reader(
        Counting {
            inner: reader,
            index: index.clone(),
        },
        dialect,
    );
    let mut row = csv::StringRecord::new();
    while let Ok(true) = csv.read_record(&mut row) {
        for &i in &dates {
            if let Some(text) = row.get(i)
                && super::values::is_month_first(text)
            {
                let line = row
                    .position()
                    .map(|p| index.borrow_mut().line_of(p.byte()))
                    .unwrap_or(0);
                return Err(month_first_error(
                    path,
                    RowRef::line(line),
                    &mapper.header[i],
                    text.trim(),
                ));
            }
        }
    }
    Ok(())
}
