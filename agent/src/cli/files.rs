//! The official's files: `import`, `validate`, `template` (an empty sheet
//! with the register's columns), `convert` (legacy encodings to UTF-8), and
//! `hash`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hotich_protocol::{RecordKind, Timestamp, content_hash, parse_strict};
use serde_json::json;

use super::{LegacyArg, SheetFormat, exit};
use crate::columns;
use crate::config::{AgentConfig, DataDir};
use crate::control;
use crate::error::AgentError;
use crate::import::{self, Output};
use crate::input::Options;
use crate::journal::Access;
use crate::legacy::{self, Legacy};
use crate::tr;

/// What `import` was asked besides its files.
pub(super) struct ImportArgs {
    pub kind: Option<RecordKind>,
    pub former_commune: Option<String>,
    pub official: Option<String>,
    pub second_keying: bool,
}

pub(super) fn import(
    data_dir: &DataDir,
    files: &[PathBuf],
    args: ImportArgs,
    json: bool,
) -> Result<ExitCode, AgentError> {
    let ImportArgs {
        kind,
        former_commune,
        official,
        second_keying,
    } = args;
    let config = AgentConfig::load(data_dir)?;
    let official =
        crate::config::choose_official(&config, official.as_deref()).map_err(AgentError::Usage)?;
    if second_keying && official.is_none() {
        // A check by nobody in particular checks nothing.
        return Err(AgentError::Usage(tr!("second-keying-needs-official")));
    }
    let mut journal = data_dir.open_journal(Access::ReadWrite)?;
    journal.tune_for_bulk_import()?;
    let output = if json { Output::Json } else { Output::Human };
    let options = Options {
        kind,
        commune: Some(config.commune.clone()),
        former_commune,
        official,
        second_keying,
    };
    let before = journal.counts()?.total;
    let summary = match import::import_files(&mut journal, &options, files, data_dir.path(), output)
    {
        Ok(summary) => summary,
        Err(e) if e.is_disk_full() => {
            // What was committed before the disk filled stays; importing the
            // same file again after freeing space skips it as already present.
            let saved = journal.counts().map(|c| c.total - before).unwrap_or(0);
            let _ = journal.remember(data_dir.path());
            drop(journal);
            if saved > 0 {
                control::poke(data_dir);
            }
            return Err(AgentError::Failed(tr!(
                "import-disk-full",
                full = crate::error::disk_full_text(&data_dir.journal_path()),
                saved = saved
            )));
        }
        Err(e) => return Err(e.into()),
    };
    journal.checkpoint()?;
    journal.remember(data_dir.path())?;
    drop(journal);
    if summary.accepted + summary.attached > 0 {
        control::poke(data_dir);
    }
    match output {
        Output::Json => println!(
            "{}",
            json!({"event": "summary", "accepted": summary.accepted, "already_present": summary.already_present,
                   "attached": summary.attached, "second_keying": summary.second_keying,
                   "rejected": summary.rejected, "files_refused": summary.files_refused,
                   "rejects_files": summary.rejects_files})
        ),
        Output::Quiet => {}
        Output::Human => {
            let rejects = if summary.rejects_files.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = summary
                    .rejects_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                tr!("import-see-rejects", files = names.join(", "))
            };
            let refused = if summary.files_refused > 0 {
                tr!("import-files-refused", count = summary.files_refused)
            } else {
                String::new()
            };
            let attached = if summary.attached > 0 {
                format!("; {}", tr!("import-attached", records = summary.attached))
            } else {
                String::new()
            };
            let finished = summary.counts_text("import-finished");
            println!("{finished}{attached}{rejects}{refused}");
        }
    }
    Ok(exit(summary.clean()))
}

pub(super) fn validate(
    data_dir: Option<PathBuf>,
    files: &[PathBuf],
    kind: Option<RecordKind>,
    json: bool,
) -> Result<ExitCode, AgentError> {
    // With an agent set up here, rows without a Mã xã column are its commune's.
    let commune = DataDir::resolve(data_dir)
        .ok()
        .and_then(|d| AgentConfig::load(&d).ok())
        .map(|c| c.commune);
    let output = if json { Output::Json } else { Output::Human };
    let summary = import::validate_files(
        files,
        &Options {
            kind,
            commune,
            former_commune: None,
            official: None,
            second_keying: false,
        },
        output,
    );
    if output == Output::Json {
        println!(
            "{}",
            json!({"event": "summary", "records": summary.records, "invalid": summary.invalid, "files_refused": summary.files_refused})
        );
    } else {
        let refused = if summary.files_refused > 0 {
            tr!("validate-files-refused", count = summary.files_refused)
        } else {
            String::new()
        };
        println!(
            "{}{refused}",
            tr!(
                "validate-summary",
                records = summary.records,
                valid = summary.records - summary.invalid,
                invalid = summary.invalid
            )
        );
    }
    Ok(exit(summary.invalid == 0 && summary.files_refused == 0))
}

pub(super) fn template(
    kind: RecordKind,
    format: SheetFormat,
    out: &Path,
) -> Result<ExitCode, AgentError> {
    let write_err = |e: String| {
        AgentError::Input(tr!(
            "template-unwritable",
            path = out.display().to_string(),
            detail = e
        ))
    };
    match format {
        SheetFormat::Csv => {
            std::fs::write(out, columns::template_csv(kind))
                .map_err(|e| write_err(e.to_string()))?;
        }
        SheetFormat::Xlsx => {
            let bytes = columns::template_xlsx(kind).map_err(|e| write_err(e.to_string()))?;
            std::fs::write(out, bytes).map_err(|e| write_err(e.to_string()))?;
        }
    }
    println!(
        "{}",
        tr!(
            "template-written",
            path = out.display().to_string(),
            kind = columns::kind_name(kind)
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn convert(
    from: LegacyArg,
    input: &Path,
    output: &Path,
) -> Result<ExitCode, AgentError> {
    let encoding = match from {
        LegacyArg::Tcvn3 => Legacy::Tcvn3,
        LegacyArg::Vni => Legacy::Vni,
        LegacyArg::Cp1258 => Legacy::Cp1258,
    };
    let bytes = std::fs::read(input).map_err(|e| {
        AgentError::Input(tr!(
            "file-cannot-read-named",
            path = input.display().to_string(),
            detail = e.to_string()
        ))
    })?;
    let text = legacy::decode(&bytes, encoding);
    let mut out = String::with_capacity(text.len() + 3);
    // A BOM, so that Excel opens a converted CSV as UTF-8.
    if output
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        out.push('\u{feff}');
    }
    out.push_str(&text);
    std::fs::write(output, out).map_err(|e| {
        AgentError::Input(tr!(
            "template-unwritable",
            path = output.display().to_string(),
            detail = e.to_string()
        ))
    })?;
    println!(
        "{}",
        tr!(
            "convert-written",
            input = input.display().to_string(),
            output = output.display().to_string(),
            encoding = encoding.to_string()
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn hash(file: &str, as_record: bool) -> Result<ExitCode, AgentError> {
    let (name, bytes) = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| AgentError::io("cannot read standard input", e))?;
        ("<stdin>".to_string(), buf)
    } else {
        let bytes =
            std::fs::read(file).map_err(|e| AgentError::io(format!("cannot read {file}"), e))?;
        (file.to_string(), bytes)
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        AgentError::Input(format!(
            "{name}:{line}: not UTF-8 text (byte 0x{:02X}); save the file as UTF-8",
            bytes[e.valid_up_to()]
        ))
    })?;
    if text.trim().is_empty() {
        return Err(AgentError::Input(format!("{name}: the file is empty")));
    }
    let value = parse_strict(text).map_err(|e| {
        AgentError::Input(format!(
            "{name}:{}:{}: invalid JSON: {}",
            e.line, e.column, e.message
        ))
    })?;
    let hash = if as_record {
        let today = hotich_protocol::CivilDate::today_in_vietnam(Timestamp::now());
        match hotich_protocol::prepare_record(value, today) {
            Ok(p) => p.hash,
            Err(errors) => {
                let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return Err(AgentError::Input(format!(
                    "{name}: not a valid record: {}",
                    listed.join("; ")
                )));
            }
        }
    } else {
        content_hash(&value).map_err(|e| AgentError::Input(format!("{name}: {e}")))?
    };
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}
