//! `import` and `validate`: read files, validate every record, and (for
//! import) append the valid ones to the journal in durable batches. Every
//! refused record is written, with its reasons, to a rejects file next to its
//! input, so nothing the official gave is lost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hotich_protocol::{CivilDate, FieldError, PreparedRecord, Timestamp, prepare_record};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use crate::error::JournalError;
use crate::input::{self, ERRORS_COLUMN, Format, Item, Raw};
use crate::journal::{AppendOutcome, Journal, Origin};

/// Records per durable commit: large enough to amortize the fsync, small
/// enough that a kill loses little work in progress (it is simply re-read).
pub const COMMIT_BATCH: usize = 4000;

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
}

/// Problems shown per file on a terminal before the rest go only to the rejects file.
const SHOWN_PROBLEMS: usize = 30;

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportSummary {
    pub accepted: u64,
    pub already_present: u64,
    pub rejected: u64,
    pub files_refused: u64,
    pub rejects_files: Vec<PathBuf>,
}

impl ImportSummary {
    pub fn clean(&self) -> bool {
        self.rejected == 0 && self.files_refused == 0
    }
}

fn emit(output: Output, event: serde_json::Value) {
    if output == Output::Json {
        println!("{event}");
    }
}

fn say(output: Output, progress: &ProgressBar, line: &str) {
    if output == Output::Human {
        progress.suspend(|| println!("{line}"));
    }
}

fn progress_bar(output: Output, path: &Path, total_bytes: u64) -> ProgressBar {
    if output == Output::Json || total_bytes < 256 * 1024 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(path.display().to_string());
    bar
}

/// Where the refused records of `input` go.
pub fn rejects_path(input: &Path, format: Format) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "records".into());
    let ext = if format == Format::Csv {
        "csv"
    } else {
        "jsonl"
    };
    input.with_file_name(format!("{stem}.rejects.{ext}"))
}

enum RejectsWriter {
    Jsonl(BufWriter<File>),
    Csv(Box<csv::Writer<File>>),
}

/// Created on the first refused record of a file. Written to a new
/// temporary file beside its final name and renamed over it at the end: an
/// existing rejects file (or a link planted in its place) is replaced, never
/// written through, and a half-written file never carries the final name.
struct Rejects {
    path: PathBuf,
    tmp: Option<PathBuf>,
    writer: Option<RejectsWriter>,
    fallback_dir: PathBuf,
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

impl Rejects {
    fn new(input: &Path, format: Format, fallback_dir: &Path) -> Self {
        Rejects {
            path: rejects_path(input, format),
            tmp: None,
            writer: None,
            fallback_dir: fallback_dir.to_path_buf(),
        }
    }

    fn open(&mut self, header: Option<&[String]>) -> std::io::Result<&mut RejectsWriter> {
        if self.writer.is_none() {
            let file = match create_new(&temp_beside(&self.path)) {
                Ok(f) => f,
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
                    create_new(&temp_beside(&self.path))?
                }
            };
            self.tmp = Some(temp_beside(&self.path));
            self.writer = Some(match header {
                Some(h) => {
                    let mut w = csv::Writer::from_writer(file);
                    let mut row: Vec<&str> = h
                        .iter()
                        .map(String::as_str)
                        .filter(|c| *c != ERRORS_COLUMN)
                        .collect();
                    row.push(ERRORS_COLUMN);
                    w.write_record(&row)?;
                    RejectsWriter::Csv(Box::new(w))
                }
                None => RejectsWriter::Jsonl(BufWriter::new(file)),
            });
        }
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("rejects file is not open"))
    }

    fn write(
        &mut self,
        header: Option<&[String]>,
        line: u64,
        raw: &Raw,
        errors: &[FieldError],
    ) -> std::io::Result<()> {
        let joined = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let errors_column = header.and_then(|h| h.iter().position(|c| c == ERRORS_COLUMN));
        match (self.open(header)?, raw) {
            (RejectsWriter::Csv(w), Raw::Csv(cells)) => {
                let mut row: Vec<&str> = cells
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != errors_column)
                    .map(|(_, c)| c.as_str())
                    .collect();
                row.push(&joined);
                w.write_record(&row)?;
            }
            (RejectsWriter::Jsonl(w), Raw::Json(text)) => {
                let record = serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
                let line = json!({"line": line, "errors": errors, "record": record});
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

    fn finish(&mut self) -> std::io::Result<Option<PathBuf>> {
        let file = match self.writer.take() {
            None => return Ok(None),
            Some(RejectsWriter::Jsonl(w)) => w.into_inner().map_err(|e| e.into_error())?,
            Some(RejectsWriter::Csv(w)) => w
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?,
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

/// Per-file bookkeeping while importing.
struct FileRun {
    input_name: String,
    header: Option<Vec<String>>,
    rejects: Rejects,
    shown: usize,
    output: Output,
    progress: ProgressBar,
    summary: ImportSummary,
}

impl FileRun {
    fn reject(&mut self, line: u64, raw: &Raw, errors: &[FieldError]) {
        self.summary.rejected += 1;
        for e in errors {
            if self.output == Output::Json {
                emit(
                    self.output,
                    json!({"event": "problem", "file": self.input_name, "line": line, "field": e.field, "reason": e.reason}),
                );
            } else if self.shown < SHOWN_PROBLEMS {
                say(
                    self.output,
                    &self.progress,
                    &format!("{}:{line}: {e}", self.input_name),
                );
                self.shown += 1;
            }
        }
        if let Err(e) = self
            .rejects
            .write(self.header.as_deref(), line, raw, errors)
        {
            say(
                self.output,
                &self.progress,
                &format!(
                    "{}: cannot write rejects file {}: {e}",
                    self.input_name,
                    self.rejects.path.display()
                ),
            );
        }
    }
}

/// Imports files into the journal. Returns the totals; problems with records
/// are in the totals, not errors. Only a journal failure is an error.
pub fn import_files(
    journal: &mut Journal,
    commune: &str,
    files: &[PathBuf],
    data_dir: &Path,
    output: Output,
) -> Result<ImportSummary, JournalError> {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut total = ImportSummary::default();
    for path in files {
        let summary = import_file(journal, commune, path, today, data_dir, output)?;
        total.accepted += summary.accepted;
        total.already_present += summary.already_present;
        total.rejected += summary.rejected;
        total.files_refused += summary.files_refused;
        total.rejects_files.extend(summary.rejects_files);
    }
    Ok(total)
}

/// What the reading thread hands to the committing one.
enum FromReader {
    Opened {
        format: Format,
        csv_header: Option<Vec<String>>,
        total_bytes: u64,
    },
    Chunk {
        items: Vec<(u64, Raw, Result<PreparedRecord, Vec<FieldError>>)>,
        bytes_read: u64,
    },
    Refused(input::FileError),
}

/// Reads, parses, validates and hashes on its own thread, so that this CPU
/// work overlaps the journal's writes and fsyncs on a two-core PC.
fn read_and_prepare(
    path: &Path,
    commune: &str,
    today: CivilDate,
    tx: std::sync::mpsc::SyncSender<FromReader>,
) {
    let mut input = match input::open(path) {
        Ok(i) => i,
        Err(e) => {
            let _ = tx.send(FromReader::Refused(e));
            return;
        }
    };
    let opened = FromReader::Opened {
        format: input.format,
        csv_header: input.csv_header.clone(),
        total_bytes: input.total_bytes,
    };
    if tx.send(opened).is_err() {
        return;
    }
    let mut items = Vec::with_capacity(COMMIT_BATCH);
    loop {
        let item = input.next();
        let done = match item {
            None => true,
            Some(Err(e)) => {
                let _ = tx.send(FromReader::Chunk {
                    items: std::mem::take(&mut items),
                    bytes_read: input.bytes_read(),
                });
                let _ = tx.send(FromReader::Refused(e));
                return;
            }
            Some(Ok(Item { line, value, raw })) => {
                let prepared = value.and_then(|v| prepare_record(v, today)).and_then(|p| {
                    if p.commune_code() == commune {
                        Ok(p)
                    } else {
                        Err(vec![FieldError::new(
                            "commune_code",
                            format!(
                                "{} is not this office's commune ({commune}); this agent uploads for {commune} only",
                                p.commune_code()
                            ),
                        )])
                    }
                });
                items.push((line, raw, prepared));
                false
            }
        };
        if (done && !items.is_empty()) || items.len() >= COMMIT_BATCH {
            let chunk = FromReader::Chunk {
                items: std::mem::replace(&mut items, Vec::with_capacity(COMMIT_BATCH)),
                bytes_read: input.bytes_read(),
            };
            if tx.send(chunk).is_err() {
                return;
            }
        }
        if done {
            return;
        }
    }
}

fn import_file(
    journal: &mut Journal,
    commune: &str,
    path: &Path,
    today: CivilDate,
    data_dir: &Path,
    output: Output,
) -> Result<ImportSummary, JournalError> {
    let input_name = path.display().to_string();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        scope.spawn(move || read_and_prepare(path, commune, today, tx));
        let mut run: Option<FileRun> = None;
        let mut refused = None;
        for message in rx {
            match message {
                FromReader::Opened {
                    format,
                    csv_header,
                    total_bytes,
                } => {
                    run = Some(FileRun {
                        input_name: input_name.clone(),
                        header: csv_header,
                        rejects: Rejects::new(path, format, data_dir),
                        shown: 0,
                        output,
                        progress: progress_bar(output, path, total_bytes),
                        summary: ImportSummary::default(),
                    });
                }
                FromReader::Chunk { items, bytes_read } => {
                    let Some(run) = run.as_mut() else { continue };
                    let through_line = items.last().map_or(0, |(line, _, _)| *line);
                    let mut batch = Vec::with_capacity(items.len());
                    for (line, raw, prepared) in items {
                        match prepared {
                            Ok(p) => batch.push((p, line, raw)),
                            Err(errors) => run.reject(line, &raw, &errors),
                        }
                    }
                    // On a journal error the receiver is dropped, which stops the reader.
                    commit(journal, &mut batch, run, through_line)?;
                    run.progress.set_position(bytes_read);
                }
                FromReader::Refused(e) => refused = Some(e),
            }
        }
        let Some(mut run) = run else {
            if let Some(e) = refused {
                report_file_error(output, &e);
            }
            return Ok(ImportSummary {
                files_refused: 1,
                ..ImportSummary::default()
            });
        };
        run.progress.finish_and_clear();
        if let Some(e) = refused {
            run.summary.files_refused += 1;
            report_file_error(output, &e);
        }
        let rejects_file = match run.rejects.finish() {
            Ok(p) => p,
            Err(e) => {
                say(
                    output,
                    &run.progress,
                    &format!("{input_name}: cannot finish rejects file: {e}"),
                );
                None
            }
        };
        let s = &run.summary;
        let where_rejects = rejects_file
            .as_ref()
            .map(|p| format!(" (written to {})", p.display()))
            .unwrap_or_default();
        if s.rejected > run.shown as u64 && output == Output::Human {
            println!(
                "{input_name}: … {} more problems, see the rejects file",
                s.rejected - run.shown as u64
            );
        }
        say(
            output,
            &run.progress,
            &format!(
                "{input_name}: {} accepted, {} already present, {} rejected{where_rejects}",
                s.accepted, s.already_present, s.rejected
            ),
        );
        let mut summary = run.summary;
        summary.rejects_files.extend(rejects_file);
        Ok(summary)
    })
}

fn report_file_error(output: Output, e: &input::FileError) {
    match output {
        Output::Json => emit(
            output,
            json!({"event": "file_refused", "file": e.path.display().to_string(), "line": e.line, "message": e.message}),
        ),
        Output::Human => println!("{e}"),
    }
}

fn commit(
    journal: &mut Journal,
    batch: &mut Vec<(PreparedRecord, u64, Raw)>,
    run: &mut FileRun,
    through_line: u64,
) -> Result<(), JournalError> {
    if batch.is_empty() {
        return Ok(());
    }
    let name = run.input_name.clone();
    let refs: Vec<(&PreparedRecord, Option<Origin<'_>>)> = batch
        .iter()
        .map(|(p, line, _)| {
            (
                p,
                Some(Origin {
                    file: &name,
                    line: *line,
                }),
            )
        })
        .collect();
    let outcomes = journal.append_batch(&refs)?;
    let mut accepted = 0u64;
    for ((_, line, raw), outcome) in batch.iter().zip(outcomes) {
        match outcome {
            AppendOutcome::Accepted { .. } => accepted += 1,
            AppendOutcome::AlreadyPresent { .. } => run.summary.already_present += 1,
            AppendOutcome::Conflict { reason, .. } => {
                run.reject(*line, raw, &[FieldError::new("register", reason)]);
            }
        }
    }
    run.summary.accepted += accepted;
    emit(
        run.output,
        json!({"event": "committed", "file": name, "through_line": through_line,
               "accepted": run.summary.accepted, "already_present": run.summary.already_present,
               "rejected": run.summary.rejected}),
    );
    batch.clear();
    Ok(())
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ValidateSummary {
    pub records: u64,
    pub invalid: u64,
    pub files_refused: u64,
}

/// `validate`: one line per problem, `file:line: field: reason`.
pub fn validate_files(files: &[PathBuf], output: Output) -> ValidateSummary {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut summary = ValidateSummary::default();
    for path in files {
        let name = path.display().to_string();
        let input = match input::open(path) {
            Ok(i) => i,
            Err(e) => {
                summary.files_refused += 1;
                report_file_error(output, &e);
                continue;
            }
        };
        for item in input {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    summary.files_refused += 1;
                    report_file_error(output, &e);
                    break;
                }
            };
            summary.records += 1;
            if let Err(errors) = item.value.and_then(|v| prepare_record(v, today)) {
                summary.invalid += 1;
                for e in errors {
                    match output {
                        Output::Human => println!("{name}:{}: {e}", item.line),
                        Output::Json => emit(
                            output,
                            json!({"event": "problem", "file": name, "line": item.line, "field": e.field, "reason": e.reason}),
                        ),
                    }
                }
            }
        }
    }
    summary
}
