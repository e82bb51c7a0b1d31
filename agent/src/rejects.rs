//! Rejects files: every record an import refused, as the official wrote it,
//! with its problems in a `Lỗi` column, in a file the official can open,
//! fix and import again. A CSV comes back in the dialect it came in (its
//! separator, BOM and line ends, so Excel opens it the same way), a
//! workbook as a workbook with the same sheets and columns, JSON as JSON
//! Lines. The `Lỗi` column is ignored when the file is imported again.
//!
//! A rejects file is written to a new temporary file beside its final name
//! and renamed over it at the end: an existing rejects file (or a link
//! planted in its place) is replaced, never written through, and a
//! half-written file never carries the final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hotich_protocol::FieldError;
use serde_json::json;

use crate::columns::{PROBLEMS_HEADER, Target, resolve};
use crate::input::{Cell, Dialect, Format, Raw, RowRef};

/// Where the refused records of `input` go.
pub fn rejects_path(input: &Path, format: &Format) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "records".into());
    let ext = match format {
        Format::Csv(_) => "csv",
        Format::Xlsx => "xlsx",
        Format::JsonLines | Format::JsonArray => "jsonl",
    };
    input.with_file_name(format!("{stem}.rejects.{ext}"))
}

/// Creates a new file that did not exist (O_EXCL: a symlink is not followed).
fn create_new(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The columns of `header` that are not an old Lỗi column.
fn kept_columns(header: &[String]) -> Vec<usize> {
    (0..header.len())
        .filter(|i| {
            resolve(&header[*i], hotich_protocol::RecordKind::Birth) != Some(Target::Problems)
        })
        .collect()
}

struct XlsxSheet {
    name: String,
    header: Vec<String>,
    rows: Vec<(Vec<Cell>, String)>,
}

enum Writer {
    Jsonl(BufWriter<File>),
    Csv {
        writer: Box<csv::Writer<File>>,
        kept: Vec<usize>,
    },
    /// Rows gathered and written at the end (a workbook is a zip).
    Xlsx(Vec<XlsxSheet>),
}

/// The rejects of one input file; created on its first refused record.
pub struct Rejects {
    path: PathBuf,
    tmp: Option<PathBuf>,
    format: Format,
    sheets: Vec<(Option<String>, Vec<String>)>,
    writer: Option<Writer>,
    fallback_dir: PathBuf,
}

impl Rejects {
    pub fn new(
        input: &Path,
        format: Format,
        sheets: Vec<(Option<String>, Vec<String>)>,
        fallback_dir: &Path,
    ) -> Self {
        Rejects {
            path: rejects_path(input, &format),
            tmp: None,
            format,
            sheets,
            writer: None,
            fallback_dir: fallback_dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_file(&mut self) -> std::io::Result<File> {
        match create_new(&temp_beside(&self.path)) {
            Ok(f) => {
                self.tmp = Some(temp_beside(&self.path));
                Ok(f)
            }
            Err(_) => {
                // The input's folder may be read-only (a USB stick, a share):
                // keep the rejects in the data directory instead.
                let dir = self.fallback_dir.join("rejects");
                std::fs::create_dir_all(&dir)?;
                let name = self
                    .path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                self.path = dir.join(name);
                let f = create_new(&temp_beside(&self.path))?;
                self.tmp = Some(temp_beside(&self.path));
                Ok(f)
            }
        }
    }

    fn writer(&mut self) -> std::io::Result<&mut Writer> {
        if self.writer.is_none() {
            let writer = match &self.format {
                Format::Csv(dialect) => {
                    let dialect = *dialect;
                    let header = self
                        .sheets
                        .first()
                        .map(|(_, h)| h.clone())
                        .unwrap_or_default();
                    let mut file = self.open_file()?;
                    if dialect.bom {
                        file.write_all(&[0xEF, 0xBB, 0xBF])?;
                    }
                    let mut writer = csv_writer(file, dialect);
                    let kept = kept_columns(&header);
                    let mut row: Vec<&str> = kept.iter().map(|i| header[*i].as_str()).collect();
                    row.push(PROBLEMS_HEADER);
                    writer.write_record(&row)?;
                    Writer::Csv {
                        writer: Box::new(writer),
                        kept,
                    }
                }
                Format::Xlsx => Writer::Xlsx(Vec::new()),
                Format::JsonLines | Format::JsonArray => {
                    Writer::Jsonl(BufWriter::new(self.open_file()?))
                }
            };
            self.writer = Some(writer);
        }
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("rejects file is not open"))
    }

    /// Adds one refused record: as written, with `problems` (worded for the
    /// official) and the structured `errors` (for JSON).
    pub fn write(
        &mut self,
        at: &RowRef,
        raw: &Raw,
        errors: &[FieldError],
        problems: &str,
    ) -> std::io::Result<()> {
        let sheet_header = self
            .sheets
            .iter()
            .find(|(name, _)| *name == at.sheet)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        match (self.writer()?, raw) {
            (Writer::Csv { writer, kept }, Raw::Row(cells)) => {
                let mut row: Vec<String> = kept
                    .iter()
                    .map(|i| cells.get(*i).map(Cell::display).unwrap_or_default())
                    .collect();
                row.push(problems.to_string());
                writer.write_record(&row)?;
            }
            (Writer::Xlsx(sheets), Raw::Row(cells)) => {
                let name = at.sheet.clone().unwrap_or_else(|| "Sheet1".into());
                let index = match sheets.iter().position(|s| s.name == name) {
                    Some(i) => i,
                    None => {
                        sheets.push(XlsxSheet {
                            name,
                            header: sheet_header,
                            rows: Vec::new(),
                        });
                        sheets.len() - 1
                    }
                };
                sheets[index]
                    .rows
                    .push((cells.clone(), problems.to_string()));
            }
            (Writer::Jsonl(w), Raw::Json(text)) => {
                let record = serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
                let line = json!({"line": at.line, "problems": problems, "errors": errors, "record": record});
                writeln!(w, "{line}")?;
            }
            _ => {
                return Err(std::io::Error::other(
                    "rejects file and input differ in format",
                ));
            }
        }
        Ok(())
    }

    /// Writes out and names the file; `None` when nothing was refused.
    pub fn finish(&mut self) -> std::io::Result<Option<PathBuf>> {
        let file = match self.writer.take() {
            None => return Ok(None),
            Some(Writer::Jsonl(w)) => w.into_inner().map_err(|e| e.into_error())?,
            Some(Writer::Csv { writer, .. }) => writer
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?,
            Some(Writer::Xlsx(sheets)) => {
                let bytes = workbook(&sheets).map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut file = self.open_file()?;
                file.write_all(&bytes)?;
                file
            }
        };
        file.sync_all()?;
        drop(file);
        if let Some(tmp) = self.tmp.take() {
            std::fs::rename(&tmp, &self.path)?;
        }
        Ok(Some(self.path.clone()))
    }
}

impl Drop for Rejects {
    /// An import cut short by a journal error still leaves the rejects of
    /// what it read under their name: nothing the official gave is lost.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn csv_writer(file: File, dialect: Dialect) -> csv::Writer<File> {
    csv::WriterBuilder::new()
        .delimiter(dialect.delimiter)
        .terminator(if dialect.crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(file)
}

/// The rejected rows as a workbook: the same sheets and columns, typed
/// cells (dates as dates), and a Lỗi column.
fn workbook(sheets: &[XlsxSheet]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    let problem = CellFormat::new().set_font_color(rust_xlsxwriter::Color::Red);
    for sheet in sheets {
        let ws = book.add_worksheet();
        ws.set_name(&sheet.name)?;
        let kept = kept_columns(&sheet.header);
        for (c, i) in kept.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, &sheet.header[*i], &bold)?;
        }
        let problems_col = kept.len() as u16;
        ws.write_string_with_format(0, problems_col, PROBLEMS_HEADER, &bold)?;
        ws.set_column_width(problems_col, 60)?;
        for (r, (cells, problems)) in sheet.rows.iter().enumerate() {
            let row = r as u32 + 1;
            for (c, i) in kept.iter().enumerate() {
                let col = c as u16;
                match cells.get(*i).unwrap_or(&Cell::Empty) {
                    Cell::Empty => {}
                    Cell::Text(t) => {
                        ws.write_string(row, col, t)?;
                    }
                    Cell::Number(n) => {
                        ws.write_number(row, col, *n)?;
                    }
                    Cell::Bool(b) => {
                        ws.write_boolean(row, col, *b)?;
                    }
                    Cell::Date(d) => {
                        let dt = ExcelDateTime::from_ymd(d.year as u16, d.month, d.day)?;
                        ws.write_datetime_with_format(row, col, &dt, &date)?;
                    }
                }
            }
            ws.write_string_with_format(row, problems_col, problems, &problem)?;
        }
        ws.set_freeze_panes(1, 0)?;
    }
    book.save_to_buffer()
}
