//! `import` and `validate`: read files, validate every record, and (for
//! import) append the valid ones to the journal in durable batches. Every
//! refused record is written, with its reasons, to a rejects file next to its
//! input (see `rejects`), so nothing the official gave is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hotich_protocol::{
    CivilDate, FieldError, PreparedRecord, RecordKind, Timestamp, prepare_record,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

use crate::blobs::{self, BlobStore};
use crate::error::JournalError;
use crate::input::{self, Format, Item, Options, Raw, RowRef};
use crate::journal::{AppendOutcome, Journal, NewKeying, Origin};
use crate::legacy;
use crate::rejects::Rejects;
use crate::{i18n, tr};

/// Records per durable commit: large enough to amortize the fsync, small
/// enough that a kill loses little work in progress (it is simply re-read).
pub const COMMIT_BATCH: usize = 2000;

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
    /// Nothing printed: the caller shows the summary (the local page).
    Quiet,
}

/// Problems shown per file on a terminal before the rest go only to the rejects file.
const SHOWN_PROBLEMS: usize = 30;

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportSummary {
    pub accepted: u64,
    pub already_present: u64,
    /// Records already in the journal that got scans attached (a page
    /// scanned later); their content hash is unchanged.
    pub attached: u64,
    pub rejected: u64,
    /// A second keying (`import --second-keying`): entries typed the same
    /// as the first keying on this PC, typed differently, and not typed
    /// here before (the centre compares those).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_keying: Option<SecondKeying>,
    pub files_refused: u64,
    pub rejects_files: Vec<PathBuf>,
    /// The first [`KEPT_PROBLEMS`] refused rows, worded for the official
    /// (the local page shows them; all are in the rejects file).
    pub problems: Vec<RowProblem>,
    /// Why whole files were refused, worded for the official.
    pub files_problems: Vec<String>,
}

/// How a second keying compares with the first, on this PC.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct SecondKeying {
    pub agree: u64,
    pub differ: u64,
    pub first_not_here: u64,
}

/// Refused rows kept in an [`ImportSummary`].
pub const KEPT_PROBLEMS: usize = 200;

/// A refused row: where it is and what is wrong with it.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    pub line: u64,
    pub sheet: Option<String>,
    /// The fields at fault, as the record names them.
    pub fields: Vec<String>,
    pub message: String,
}

impl ImportSummary {
    pub fn clean(&self) -> bool {
        self.rejected == 0 && self.files_refused == 0
    }

    /// The counts in the reader's language: `message` (records accepted,
    /// present, rejected), or for a second keying how it compares.
    pub fn counts_text(&self, message: &str) -> String {
        match self.second_keying {
            Some(k) => tr!(
                "import-second-keying",
                keyed = self.accepted,
                present = self.already_present,
                agree = k.agree,
                differ = k.differ,
                elsewhere = k.first_not_here,
                rejected = self.rejected
            ),
            None => i18n::message(
                message,
                &[
                    ("accepted", i18n::Arg::from(self.accepted)),
                    ("present", i18n::Arg::from(self.already_present)),
                    ("rejected", i18n::Arg::from(self.rejected)),
                ],
            ),
        }
    }
}

fn emit(output: Output, event: Value) {
    if output == Output::Json {
        println!("{event}");
    }
}

fn say(output: Output, progress: &ProgressBar, line: &str) {
    if output == Output::Human {
        progress.suspend(|| println!("{line}"));
    }
}

fn progress_bar(output: Output, path: &Path, format: &Format, total: u64) -> ProgressBar {
    let rows = *format == Format::Xlsx;
    if output != Output::Human || (!rows && total < 256 * 1024) || (rows && total < 2000) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = if rows {
        "{msg} [{bar:30}] {pos}/{len} ({eta})"
    } else {
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(path.display().to_string());
    bar
}

/// The problems of one record, worded for the official, on one line.
pub fn problems_text(errors: &[FieldError], kind: Option<RecordKind>) -> String {
    errors
        .iter()
        .map(|e| i18n::problem(e, kind))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Per-file bookkeeping while importing.
struct FileRun {
    input_name: String,
    rejects: Rejects,
    shown: usize,
    output: Output,
    progress: ProgressBar,
    summary: ImportSummary,
    /// Who is entering the records.
    official: Option<String>,
    second_keying: bool,
}

impl FileRun {
    fn reject(&mut self, at: &RowRef, raw: &Raw, errors: &[FieldError]) {
        self.summary.rejected += 1;
        let kind = kind_of_raw(raw);
        let problems = problems_text(errors, kind);
        if self.summary.problems.len() < KEPT_PROBLEMS {
            self.summary.problems.push(RowProblem {
                line: at.line,
                sheet: at.sheet.clone(),
                fields: errors.iter().map(|e| e.field.clone()).collect(),
                message: problems.clone(),
            });
        }
        match self.output {
            Output::Json => {
                for e in errors {
                    emit(
                        self.output,
                        json!({"event": "problem", "file": self.input_name, "line": at.line,
                               "sheet": at.sheet, "field": e.field, "code": e.code,
                               "reason": e.reason, "message": i18n::problem(e, kind)}),
                    );
                }
            }
            Output::Quiet => {}
            Output::Human => {
                if self.shown < SHOWN_PROBLEMS {
                    say(
                        self.output,
                        &self.progress,
                        &format!("{}:{at}: {problems}", self.input_name),
                    );
                    self.shown += 1;
                }
            }
        }
        if let Err(e) = self.rejects.write(at, raw, errors, &problems) {
            say(
                self.output,
                &self.progress,
                &tr!(
                    "import-rejects-unwritable",
                    file = self.input_name.as_str(),
                    rejects = self.rejects.path().display().to_string(),
                    detail = e.to_string()
                ),
            );
        }
    }
}

/// The kind a raw record says it is, for naming its fields.
fn kind_of_raw(raw: &Raw) -> Option<RecordKind> {
    match raw {
        Raw::Json(text) => serde_json::from_str::<Value>(text).ok().and_then(|v| {
            v.get("kind")
                .and_then(Value::as_str)
                .and_then(RecordKind::parse)
        }),
        Raw::Row(_) => None,
    }
}

/// Imports files into the journal. Returns the totals; problems with records
/// are in the totals, not errors. Only a journal failure is an error.
pub fn import_files(
    journal: &mut Journal,
    options: &Options,
    files: &[PathBuf],
    data_dir: &Path,
    output: Output,
) -> Result<ImportSummary, JournalError> {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut total = ImportSummary::default();
    for path in files {
        let name = path.display().to_string();
        let summary = import_file(journal, options, path, &name, today, data_dir, output)?;
        total.accepted += summary.accepted;
        total.already_present += summary.already_present;
        total.attached += summary.attached;
        if let Some(k) = summary.second_keying {
            let t = total.second_keying.get_or_insert_default();
            t.agree += k.agree;
            t.differ += k.differ;
            t.first_not_here += k.first_not_here;
        }
        total.rejected += summary.rejected;
        total.files_refused += summary.files_refused;
        total.rejects_files.extend(summary.rejects_files);
        total.problems.extend(summary.problems);
        total.files_problems.extend(summary.files_problems);
    }
    Ok(total)
}

/// What the reading thread hands to the committing one.
enum FromReader {
    Opened {
        format: Format,
        sheets: Vec<(Option<String>, Vec<String>)>,
        total: u64,
    },
    Chunk {
        items: Vec<(RowRef, Raw, Result<Prepared, Vec<FieldError>>)>,
        progress: u64,
    },
    Refused(input::FileError),
}

/// Text typed in a legacy Vietnamese encoding and read as Windows-1252
/// (`NguyÔn V¨n An`): the first such value, as a problem.
fn legacy_text(value: &Value) -> Option<FieldError> {
    // The path is built only for the value found: this runs on every record.
    fn walk<'v>(v: &'v Value, path: &mut Vec<&'v str>) -> Option<(String, legacy::Legacy)> {
        match v {
            Value::String(s) => legacy::looks_like_legacy(s).map(|e| (s.clone(), e)),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                path.push(k);
                let found = walk(v, path);
                if found.is_none() {
                    path.pop();
                }
                found
            }),
            Value::Array(items) => items.iter().find_map(|v| walk(v, path)),
            _ => None,
        }
    }
    let mut path = Vec::new();
    let (text, encoding) = walk(value, &mut path)?;
    let fixed = legacy::repair(&text, encoding).unwrap_or_default();
    let shown = hotich_protocol::validate::shown(&text).into_owned();
    Some(FieldError::coded(
        path.join("."),
        "legacy-encoding",
        BTreeMap::from([
            ("value".to_string(), shown.clone()),
            ("encoding".to_string(), encoding.to_string()),
            ("from".to_string(), encoding.name().to_string()),
            ("fixed".to_string(), fixed.clone()),
        ]),
        format!(
            "\"{shown}\" looks typed in the old {encoding} encoding (it reads \"{fixed}\"); \
             convert the file with: hotich-agent convert --from {} FILE NEWFILE",
            encoding.name()
        ),
    ))
}

/// Sets `register.former_commune_code` where the row has none (an import
/// with `--former-commune`).
fn with_former_commune(mut value: Value, former: Option<&str>) -> Value {
    if let Some(code) = former
        && let Some(register) = value.get_mut("register").and_then(Value::as_object_mut)
        && !register.contains_key("former_commune_code")
    {
        register.insert("former_commune_code".into(), Value::String(code.into()));
    }
    value
}

/// A valid record and what its entry carries besides it.
#[derive(Debug)]
struct Prepared {
    record: PreparedRecord,
    /// Why, for a correction (`correction_reason`, a `Lý do cải chính`
    /// column): kept with the entry, not in the record or its hash.
    correction_reason: Option<String>,
}

impl Prepared {
    /// A correction that does not say why. Refused when it would be added;
    /// one already in the journal (an older file imported again) is simply
    /// present.
    fn reason_missing(&self) -> Option<FieldError> {
        (self.record.supersedes.is_some() && self.correction_reason.is_none()).then(|| {
            FieldError::coded(
                "correction_reason",
                "correction-reason-missing",
                BTreeMap::new(),
                "a correction (supersedes) must say why: fill in Lý do cải chính (\"correction_reason\")"
                    .to_string(),
            )
        })
    }
}

/// Validates one read record for this office: normal form, the model's
/// rules, the commune, no legacy-encoded text.
fn prepare(
    mut value: Value,
    commune: Option<&str>,
    today: CivilDate,
) -> Result<Prepared, Vec<FieldError>> {
    let correction_reason = value
        .as_object_mut()
        .and_then(|m| m.remove("correction_reason"))
        .and_then(|v| v.as_str().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty());
    if let Some(problem) = legacy_text(&value) {
        return Err(vec![problem]);
    }
    let p = prepare_record(value, today)?;
    if let Some(own) = commune
        && p.commune_code() != own
    {
        return Err(vec![FieldError::coded(
            "commune_code",
            "other-commune",
            BTreeMap::from([
                ("commune".to_string(), p.commune_code().to_string()),
                ("own".to_string(), own.to_string()),
            ]),
            format!(
                "{} is not this office's commune ({own}); this agent uploads for {own} only",
                p.commune_code()
            ),
        )]);
    }
    Ok(Prepared {
        record: p,
        correction_reason,
    })
}

/// A record's scans named by file (`{"path": "trang-12.jpg"}`, or an
/// `Ảnh trang sổ` cell "trang-12.jpg; trang-13.jpg"), relative to the input
/// file: each is checked, stored when there is a `store` (import; validate
/// only checks), and replaced by what the record keeps: its hash, size and
/// type. Scans already given by hash pass through for the model to check.
fn attach_scans(
    mut value: Value,
    base: &Path,
    store: Option<&BlobStore>,
) -> Result<Value, Vec<FieldError>> {
    let Some(scans) = value.get_mut("scans") else {
        return Ok(value);
    };
    if let Value::String(text) = scans {
        let named: Vec<Value> = text
            .split([';', '|', '\n'])
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| json!({ "path": name }))
            .collect();
        *scans = Value::Array(named);
    }
    let Value::Array(items) = scans else {
        return Ok(value);
    };
    let mut errors = Vec::new();
    for item in items.iter_mut() {
        let Some(name) = item.get("path").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        let file = base.join(&name);
        let taken = match store {
            Some(store) => store.put_file(&file),
            None => blobs::inspect(&file),
        };
        match taken {
            Ok(scan) => {
                *item = json!({"sha256": scan.sha256.to_hex(), "bytes": scan.bytes,
                               "media_type": scan.media_type});
            }
            Err(e) => errors.push(FieldError::coded(
                "scans",
                e.code(),
                BTreeMap::from([("file".to_string(), name.clone())]),
                e.to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors)
    }
}

/// Reads, parses, validates and hashes on its own thread, so that this CPU
/// work overlaps the journal's writes and fsyncs on a two-core PC.
fn read_and_prepare(
    path: &Path,
    options: &Options,
    today: CivilDate,
    blobs: &BlobStore,
    tx: std::sync::mpsc::SyncSender<FromReader>,
) {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut input = match input::open(path, options) {
        Ok(i) => i,
        Err(e) => {
            let _ = tx.send(FromReader::Refused(e));
            return;
        }
    };
    let opened = FromReader::Opened {
        format: input.format.clone(),
        sheets: input.sheets.clone(),
        total: input.total,
    };
    if tx.send(opened).is_err() {
        return;
    }
    let commune = options.commune.as_deref();
    let mut items = Vec::with_capacity(COMMIT_BATCH);
    loop {
        let item = input.next();
        let done = match item {
            None => true,
            Some(Err(e)) => {
                let _ = tx.send(FromReader::Chunk {
                    items: std::mem::take(&mut items),
                    progress: input.progress(),
                });
                let _ = tx.send(FromReader::Refused(e));
                return;
            }
            Some(Ok(Item { at, value, raw })) => {
                let prepared = value
                    .map(|v| with_former_commune(v, options.former_commune.as_deref()))
                    .and_then(|v| attach_scans(v, base, Some(blobs)))
                    .and_then(|v| prepare(v, commune, today));
                items.push((at, raw, prepared));
                false
            }
        };
        if (done && !items.is_empty()) || items.len() >= COMMIT_BATCH {
            let chunk = FromReader::Chunk {
                items: std::mem::replace(&mut items, Vec::with_capacity(COMMIT_BATCH)),
                progress: input.progress(),
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

/// Imports one file that the journal and the messages call `name` (a file
/// uploaded through the local page is kept under a name of the agent's).
pub fn import_named(
    journal: &mut Journal,
    options: &Options,
    path: &Path,
    name: &str,
    data_dir: &Path,
    output: Output,
) -> Result<ImportSummary, JournalError> {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    import_file(journal, options, path, name, today, data_dir, output)
}

fn import_file(
    journal: &mut Journal,
    options: &Options,
    path: &Path,
    input_name: &str,
    today: CivilDate,
    data_dir: &Path,
    output: Output,
) -> Result<ImportSummary, JournalError> {
    let input_name = input_name.to_string();
    std::thread::scope(|scope| {
        // A chunk changes hands only when the committer is ready for it:
        // one chunk read ahead, one being committed (some 7 MB each), not
        // two more waiting in between (measured: as fast as one waiting).
        let (tx, rx) = std::sync::mpsc::sync_channel(0);
        // The reader words a refused file's message: in the caller's language.
        let lang = i18n::lang();
        let blobs = BlobStore::new(data_dir);
        scope.spawn(move || {
            i18n::with_lang(lang, || read_and_prepare(path, options, today, &blobs, tx))
        });
        let mut run: Option<FileRun> = None;
        let mut refused = None;
        for message in rx {
            match message {
                FromReader::Opened {
                    format,
                    sheets,
                    total,
                } => {
                    run = Some(FileRun {
                        input_name: input_name.clone(),
                        progress: progress_bar(output, path, &format, total),
                        rejects: Rejects::new(path, format, sheets, data_dir),
                        shown: 0,
                        output,
                        summary: ImportSummary::default(),
                        official: options.official.clone(),
                        second_keying: options.second_keying,
                    });
                }
                FromReader::Chunk { items, progress } => {
                    let Some(run) = run.as_mut() else { continue };
                    let through = items.last().map(|(at, _, _)| at.clone());
                    let mut batch = Vec::with_capacity(items.len());
                    for (at, raw, prepared) in items {
                        match prepared {
                            Ok(p) => batch.push((p, at, raw)),
                            Err(errors) => run.reject(&at, &raw, &errors),
                        }
                    }
                    // On a journal error the receiver is dropped, which stops the reader.
                    commit(journal, &mut batch, run, through)?;
                    run.progress.set_position(progress);
                }
                FromReader::Refused(e) => refused = Some(e),
            }
        }
        let Some(mut run) = run else {
            let files_problems = refused
                .map(|e| {
                    report_file_error(output, &e);
                    vec![file_problem(&e)]
                })
                .unwrap_or_default();
            return Ok(ImportSummary {
                files_refused: 1,
                files_problems,
                ..ImportSummary::default()
            });
        };
        run.progress.finish_and_clear();
        if let Some(e) = refused {
            run.summary.files_refused += 1;
            report_file_error(output, &e);
            run.summary.files_problems.push(file_problem(&e));
        }
        let rejects_file = match run.rejects.finish() {
            Ok(p) => p,
            Err(e) => {
                say(
                    output,
                    &run.progress,
                    &tr!(
                        "import-rejects-unwritable",
                        file = input_name.as_str(),
                        rejects = run.rejects.path().display().to_string(),
                        detail = e.to_string()
                    ),
                );
                None
            }
        };
        let s = &run.summary;
        if s.rejected > run.shown as u64 && output == Output::Human {
            println!(
                "{input_name}: {}",
                tr!(
                    "import-more-problems",
                    count = s.rejected - run.shown as u64
                )
            );
        }
        let rejects = rejects_file
            .as_ref()
            .map(|p| tr!("import-rejects-written", path = p.display().to_string()))
            .unwrap_or_default();
        let attached = if s.attached > 0 {
            tr!("import-attached", records = s.attached)
        } else {
            String::new()
        };
        say(
            output,
            &run.progress,
            &format!(
                "{input_name}: {}{rejects}",
                s.counts_text("import-file-summary"),
            ),
        );
        if !attached.is_empty() {
            say(output, &run.progress, &format!("{input_name}: {attached}"));
        }
        let mut summary = run.summary;
        summary.rejects_files.extend(rejects_file);
        Ok(summary)
    })
}

/// Why a file was refused, without its path (the reader knows which file).
fn file_problem(e: &input::FileError) -> String {
    match &e.at {
        Some(at) => format!("{at}: {}", e.message),
        None => e.message.clone(),
    }
}

fn report_file_error(output: Output, e: &input::FileError) {
    match output {
        Output::Json => emit(
            output,
            json!({"event": "file_refused", "file": e.path.display().to_string(),
                   "line": e.at.as_ref().map(|a| a.line), "sheet": e.at.as_ref().and_then(|a| a.sheet.clone()),
                   "message": e.message}),
        ),
        Output::Human => println!("{e}"),
        Output::Quiet => {}
    }
}

/// How a row is remembered in the journal: its file and line, and for a
/// workbook its sheet (`so.xlsx:Khai sinh!17`).
fn origin_file(name: &str, at: &RowRef) -> String {
    match &at.sheet {
        Some(sheet) => format!("{name}:{sheet}!"),
        None => name.to_string(),
    }
}

fn commit(
    journal: &mut Journal,
    batch: &mut Vec<(Prepared, RowRef, Raw)>,
    run: &mut FileRun,
    through: Option<RowRef>,
) -> Result<(), JournalError> {
    if run.second_keying {
        return commit_second_keying(journal, batch, run);
    }
    let mut kept = Vec::with_capacity(batch.len());
    for (p, at, raw) in batch.drain(..) {
        match p.reason_missing() {
            Some(_) if journal.holds(&p.record.storage_key, &p.record.hash)? => {
                run.summary.already_present += 1
            }
            Some(problem) => run.reject(&at, &raw, &[problem]),
            None => kept.push((p, at, raw)),
        }
    }
    *batch = kept;
    if batch.is_empty() {
        return Ok(());
    }
    let name = run.input_name.clone();
    let files: Vec<String> = batch
        .iter()
        .map(|(_, at, _)| origin_file(&name, at))
        .collect();
    let refs: Vec<(&PreparedRecord, Option<Origin<'_>>)> = batch
        .iter()
        .zip(&files)
        .map(|((p, at, _), file)| {
            (
                &p.record,
                Some(Origin {
                    file,
                    line: at.line,
                    official: run.official.as_deref(),
                    correction_reason: p.correction_reason.as_deref(),
                }),
            )
        })
        .collect();
    let outcomes = journal.append_batch(&refs)?;
    let mut accepted = 0u64;
    for ((_, at, raw), outcome) in batch.iter().zip(outcomes) {
        match outcome {
            AppendOutcome::Accepted { .. } => accepted += 1,
            AppendOutcome::AlreadyPresent { .. } => run.summary.already_present += 1,
            AppendOutcome::Attached { .. } => run.summary.attached += 1,
            AppendOutcome::Conflict { problem, .. } => run.reject(at, raw, &[problem]),
        }
    }
    run.summary.accepted += accepted;
    emit(
        run.output,
        json!({"event": "committed", "file": name,
               "through_line": through.as_ref().map(|a| a.line),
               "through_sheet": through.as_ref().and_then(|a| a.sheet.clone()),
               "accepted": run.summary.accepted, "already_present": run.summary.already_present,
               "attached": run.summary.attached,
               "rejected": run.summary.rejected}),
    );
    batch.clear();
    Ok(())
}

/// Keeps a second keying of each row (not a record: never a conflict),
/// comparing it with the first where this PC holds it. An official cannot
/// check their own typing.
fn commit_second_keying(
    journal: &mut Journal,
    batch: &mut Vec<(Prepared, RowRef, Raw)>,
    run: &mut FileRun,
) -> Result<(), JournalError> {
    let official = run.official.clone().unwrap_or_default();
    let mut tally = run.summary.second_keying.unwrap_or_default();
    let mut kept = Vec::with_capacity(batch.len());
    for (p, at, raw) in batch.drain(..) {
        let first = journal.first_keying(&p.record.storage_key)?;
        match &first {
            Some(f) if hotich_protocol::books::same_official(&official, f.official.as_deref()) => {
                run.reject(
                    &at,
                    &raw,
                    &[FieldError::coded(
                        "(record)",
                        "second-keying-own",
                        BTreeMap::from([("official".to_string(), official.clone())]),
                        format!(
                            "{official} typed this entry the first time: a second keying must be by another official"
                        ),
                    )],
                );
                continue;
            }
            Some(f) => {
                let typed_first: Value = serde_json::from_str(&f.record).unwrap_or(Value::Null);
                let typed_now: Value =
                    serde_json::from_str(&p.record.canonical).unwrap_or(Value::Null);
                if hotich_protocol::books::differences(&typed_first, &typed_now).is_empty() {
                    tally.agree += 1;
                } else {
                    tally.differ += 1;
                }
            }
            None => tally.first_not_here += 1,
        }
        kept.push((p, at));
    }
    run.summary.second_keying = Some(tally);
    let name = run.input_name.clone();
    let files: Vec<String> = kept.iter().map(|(_, at)| origin_file(&name, at)).collect();
    let keyings: Vec<NewKeying<'_>> = kept
        .iter()
        .zip(&files)
        .map(|((p, at), file)| NewKeying {
            kind: hotich_protocol::books::KeyingKind::Second,
            nat_key: &p.record.storage_key,
            hash: p.record.hash,
            record: Some(&p.record.canonical),
            official: &official,
            file: Some(file),
            line: Some(at.line),
        })
        .collect();
    for added in journal.add_keyings(&keyings)? {
        if added {
            run.summary.accepted += 1;
        } else {
            run.summary.already_present += 1;
        }
    }
    Ok(())
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ValidateSummary {
    pub records: u64,
    pub invalid: u64,
    pub files_refused: u64,
}

/// `validate`: one line per problem, `file:line: field: reason`.
pub fn validate_files(files: &[PathBuf], options: &Options, output: Output) -> ValidateSummary {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut summary = ValidateSummary::default();
    for path in files {
        let name = path.display().to_string();
        let base = path.parent().unwrap_or(Path::new("."));
        let input = match input::open(path, options) {
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
            if let Err(errors) = item
                .value
                .map(|v| with_former_commune(v, options.former_commune.as_deref()))
                .and_then(|v| attach_scans(v, base, None))
                .and_then(|v| prepare(v, options.commune.as_deref(), today))
                .and_then(|p| match p.reason_missing() {
                    Some(problem) => Err(vec![problem]),
                    None => Ok(p),
                })
            {
                summary.invalid += 1;
                let kind = kind_of_raw(&item.raw);
                for e in errors {
                    match output {
                        Output::Human => {
                            println!("{name}:{}: {}", item.at, i18n::problem(&e, kind))
                        }
                        Output::Json => emit(
                            output,
                            json!({"event": "problem", "file": name, "line": item.at.line,
                                   "sheet": item.at.sheet, "field": e.field, "code": e.code,
                                   "reason": e.reason, "message": i18n::problem(&e, kind)}),
                        ),
                        Output::Quiet => {}
                    }
                }
            }
        }
    }
    summary
}
