//! Command-line interface: argument definitions and what each command does.
//! `main.rs` only parses, sets up logging and maps errors to exit codes.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hotich_protocol::{Timestamp, content_hash, parse_strict};
use serde_json::json;

use crate::config::{
    AgentConfig, DataDir, Secret, SyncSettings, check_commune, check_server_url,
    insecure_http_message, is_cleartext_to_another_host,
};
use crate::control::{self, ControlInfo};
use crate::error::{AgentError, ConfigError, EXIT_PROBLEMS, LockError};
use crate::import::{self, Output};
use crate::journal::{Access, Journal};
use crate::lock::SyncLock;
use crate::status;
use crate::sync::SyncEvent;

#[derive(Debug, Parser)]
#[command(
    name = "hotich-agent",
    version,
    about = "Keeps civil-status records in a durable local journal and uploads them to the central database whenever the network allows."
)]
pub struct Cli {
    /// The agent's data directory (default: the platform's data directory).
    #[arg(long, global = true, env = "HOTICH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log detail: error, warn, info, debug (RUST_LOG overrides).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up this PC's agent: server, token and commune.
    Init {
        /// The central server, e.g. https://hotich.example.vn
        #[arg(long)]
        server: String,
        /// The agent's secret token from `hotich-server agent add`.
        #[arg(long, env = "HOTICH_TOKEN", hide_env_values = true)]
        token: String,
        /// The 5-digit code of this commune office.
        #[arg(long)]
        commune: String,
        /// A PEM file with the district server's own CA certificate.
        #[arg(long, value_name = "PEM")]
        ca_cert: Option<PathBuf>,
        /// Set up again over an existing agent (the journal is kept).
        #[arg(long)]
        force: bool,
        /// Allow a plain http:// server on another computer (the token and
        /// records then cross the network unencrypted).
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Add records from .jsonl, .json or .csv files to the journal.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check records without importing them: one line per problem.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run the background service that uploads the journal.
    Run,
    /// Sync now: upload everything waiting, with progress.
    Sync {
        /// Keep trying through a flaky link for at most this many seconds
        /// (default 1800: half an hour).
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// What is waiting, the last success and error, and the next retry.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Recompute every entry's hash and the chain; fails if anything was altered.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Put records the server refused back in the queue (after fixing the cause).
    Requeue {
        /// Entry numbers to requeue (see `status`); all refused entries if none given.
        #[arg(value_name = "SEQ")]
        seqs: Vec<u64>,
    },
    /// Print the content hash (sha256 of the canonical form) of a JSON document.
    Hash {
        /// A JSON file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
        /// Treat the document as a record: normalize and validate it first, and
        /// print the hash it is stored under (the value `supersedes` needs).
        #[arg(long)]
        record: bool,
    },
}

impl Command {
    /// The log level a command uses unless told otherwise.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Run => "info",
            // The official watches `sync`: its own lines say what happens;
            // the engine's warnings would say it twice.
            Command::Sync { .. } => "error",
            _ => "warn",
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, AgentError> {
    let resolve = || DataDir::resolve(cli.data_dir.clone());
    match cli.command {
        Command::Hash { file, record } => hash(&file, record),
        Command::Validate { files, json } => {
            let output = if json { Output::Json } else { Output::Human };
            let summary = import::validate_files(&files, output);
            if output == Output::Json {
                println!(
                    "{}",
                    json!({"event": "summary", "records": summary.records, "invalid": summary.invalid, "files_refused": summary.files_refused})
                );
            } else {
                println!(
                    "{} records checked: {} valid, {} with problems{}",
                    summary.records,
                    summary.records - summary.invalid,
                    summary.invalid,
                    if summary.files_refused > 0 {
                        format!(", {} file(s) could not be read", summary.files_refused)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(exit(summary.invalid == 0 && summary.files_refused == 0))
        }
        Command::Init {
            server,
            token,
            commune,
            ca_cert,
            force,
            allow_insecure_http,
        } => init(
            &resolve()?,
            InitArgs {
                server,
                token,
                commune,
                ca_cert,
                force,
                allow_insecure_http,
            },
        ),
        Command::Import { files, json } => {
            let data_dir = resolve()?;
            let config = AgentConfig::load(&data_dir)?;
            let mut journal = data_dir.open_journal(Access::ReadWrite)?;
            journal.tune_for_bulk_import()?;
            let output = if json { Output::Json } else { Output::Human };
            let summary = import::import_files(
                &mut journal,
                &config.commune,
                &files,
                data_dir.path(),
                output,
            )?;
            journal.checkpoint()?;
            journal.remember(data_dir.path())?;
            drop(journal);
            if summary.accepted > 0 {
                control::poke(&data_dir);
            }
            match output {
                Output::Json => println!(
                    "{}",
                    json!({"event": "summary", "accepted": summary.accepted, "already_present": summary.already_present, "rejected": summary.rejected, "files_refused": summary.files_refused, "rejects_files": summary.rejects_files})
                ),
                Output::Human => {
                    let rejects = if summary.rejects_files.is_empty() {
                        String::new()
                    } else {
                        let names: Vec<String> = summary
                            .rejects_files
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect();
                        format!(" (see {})", names.join(", "))
                    };
                    let refused = if summary.files_refused > 0 {
                        format!(", {} file(s) refused", summary.files_refused)
                    } else {
                        String::new()
                    };
                    println!(
                        "Import finished: {} accepted, {} already present, {} rejected{rejects}{refused}",
                        summary.accepted, summary.already_present, summary.rejected
                    );
                }
            }
            Ok(exit(summary.clean()))
        }
        Command::Run => {
            let data_dir = resolve()?;
            let config = AgentConfig::load(&data_dir)?;
            let runtime = runtime()?;
            runtime.block_on(async {
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let signal = hotich_protocol::signals::shutdown_signal();
                tokio::spawn(async move {
                    signal.await;
                    let _ = stop_tx.send(true);
                });
                crate::service::run_service(&data_dir, config, stop_rx).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { timeout, json } => sync(&resolve()?, timeout, json),
        Command::Status { json } => {
            let data_dir = resolve()?;
            let config = AgentConfig::load(&data_dir)?;
            let report = status::gather(&data_dir, &config)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                println!("{}", status::render(&report));
            }
            match &report.journal_problem {
                None => Ok(ExitCode::SUCCESS),
                Some(problem) => Err(AgentError::Failed(problem.clone())),
            }
        }
        Command::Verify { json } => {
            let data_dir = resolve()?;
            AgentConfig::load(&data_dir)?;
            let journal = data_dir.open_journal(Access::ReadOnly)?;
            let report = journal.verify()?;
            if json {
                println!(
                    "{}",
                    json!({"entries": report.entries, "intact": report.first_broken.is_none(),
                    "first_broken": report.first_broken.as_ref().map(|(seq, why)| json!({"seq": seq, "problem": why}))})
                );
            }
            match report.first_broken {
                None => {
                    if !json {
                        println!(
                            "Journal intact: {} entries, every hash and the chain check out.",
                            report.entries
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some((seq, why)) => Err(AgentError::Failed(format!(
                    "journal {} was altered: entry #{seq}: {why}",
                    journal.path().display()
                ))),
            }
        }
        Command::Requeue { seqs } => {
            let data_dir = resolve()?;
            AgentConfig::load(&data_dir)?;
            let mut journal = data_dir.open_journal(Access::ReadWrite)?;
            let n = journal.requeue(if seqs.is_empty() { None } else { Some(&seqs) })?;
            drop(journal);
            if n > 0 {
                control::poke(&data_dir);
            }
            println!(
                "{n} refused record(s) put back in the queue; they will be sent at the next sync."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AgentError> {
    // Two threads: enough for an upload in flight while the next batch is
    // prepared, and no more on a PC the official works on.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("cannot start the async runtime", e))
}

struct InitArgs {
    server: String,
    token: String,
    commune: String,
    ca_cert: Option<PathBuf>,
    force: bool,
    allow_insecure_http: bool,
}

fn init(data_dir: &DataDir, args: InitArgs) -> Result<ExitCode, AgentError> {
    let InitArgs {
        server,
        token,
        commune,
        ca_cert,
        force,
        allow_insecure_http,
    } = args;
    let server = server.trim().trim_end_matches('/').to_string();
    check_server_url(&server).map_err(ConfigError::Value)?;
    if !allow_insecure_http && is_cleartext_to_another_host(&server) {
        return Err(ConfigError::Value(insecure_http_message(&server)).into());
    }
    check_commune(commune.trim()).map_err(ConfigError::Value)?;
    if token.trim().is_empty() {
        return Err(ConfigError::Value("the token is empty".into()).into());
    }
    if data_dir.config_path().exists() && !force {
        return Err(ConfigError::AlreadyInitialized(data_dir.path().to_path_buf()).into());
    }
    if let Some(ca) = &ca_cert
        && !ca.is_file()
    {
        return Err(
            ConfigError::Value(format!("CA certificate {} is not a file", ca.display())).into(),
        );
    }
    let previous = AgentConfig::load(data_dir).ok();
    // A journal holds one commune's records; the server refuses others'.
    if let Some(old) = previous.as_ref().filter(|c| c.commune != commune.trim())
        && data_dir.journal_path().exists()
        && Journal::open(&data_dir.journal_path())?.counts()?.total > 0
    {
        return Err(ConfigError::Value(format!(
            "the journal in {} holds records of commune {}; set up commune {} in a new data directory (--data-dir)",
            data_dir.path().display(),
            old.commune,
            commune.trim()
        ))
        .into());
    }
    data_dir.create()?;
    // Keep tuning a previous config carried, if any.
    let sync: SyncSettings = previous.map(|c| c.sync).unwrap_or_default();
    let config = AgentConfig {
        server,
        token: Secret::new(token.trim()),
        commune: commune.trim().to_string(),
        ca_cert,
        allow_insecure_http,
        sync,
    };
    config.save(data_dir)?;
    let journal = Journal::create(data_dir.path(), &data_dir.journal_path())?;
    let entries = journal.counts()?.total;
    println!(
        "Agent set up for commune {} in {}\nServer: {}\nJournal: {} ({entries} entries)",
        config.commune,
        data_dir.path().display(),
        config.server,
        journal.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn hash(file: &str, as_record: bool) -> Result<ExitCode, AgentError> {
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

/// Shows sync events as a person or a script wants them.
struct SyncDisplay {
    json: bool,
    tty: bool,
}

impl SyncDisplay {
    fn show(&self, event: &SyncEvent) {
        if self.json {
            println!("{}", serde_json::to_string(event).unwrap_or_default());
            return;
        }
        match event {
            SyncEvent::Started { pending } => {
                if self.tty {
                    eprint!("\r  {pending} record(s) waiting      ");
                }
            }
            SyncEvent::Reconciled {
                already_held,
                to_resend,
            } => {
                self.clear_line();
                if *already_held > 0 {
                    println!(
                        "  {already_held} record(s) were already at the server (marked as sent)"
                    );
                }
                if *to_resend > 0 {
                    println!("  {to_resend} record(s) the server no longer has will be sent again");
                }
            }
            SyncEvent::Progress { sent, pending, .. } => {
                if self.tty {
                    eprint!("\r  sent {sent}, {pending} waiting      ");
                }
            }
            SyncEvent::Retrying { error, retry_in_ms } => {
                self.clear_line();
                println!(
                    "  {error}; trying again in {}",
                    crate::status::human_duration((*retry_in_ms / 1000).max(1) as i64)
                );
            }
            SyncEvent::Done { .. } | SyncEvent::Failed { .. } | SyncEvent::Finished { .. } => {
                self.clear_line();
            }
        }
    }

    fn clear_line(&self) {
        if self.tty {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// What to do next when a sync stopped with records still waiting: only the
/// service retries by itself.
fn how_to_continue(service_running: bool) -> &'static str {
    if service_running {
        "The service keeps trying by itself; `hotich-agent status` shows its progress."
    } else {
        "Nothing retries by itself while no service runs: run `hotich-agent sync` again when the \
         network is back, or start the service (`hotich-agent run`) so it keeps trying."
    }
}

/// The one line a sync ends with, and its exit code.
fn sync_result(
    finished: Option<SyncEvent>,
    limits: crate::sync_now::Limits,
    service_running: bool,
    json: bool,
) -> Result<ExitCode, AgentError> {
    use crate::sync_now::Ending;
    let Some(SyncEvent::Finished {
        ending,
        sent,
        pending,
        parked,
        error,
    }) = finished
    else {
        return Err(AgentError::Failed(format!(
            "the sync ended without a result at {}; see `hotich-agent status`",
            Timestamp::now().to_vietnam_local()
        )));
    };
    let error = error.unwrap_or_default();
    let hint = how_to_continue(service_running);
    match ending {
        // A script reads the `finished` event already printed.
        Ending::Drained if json => Ok(ExitCode::SUCCESS),
        Ending::Drained => {
            println!("Sync complete: {sent} record(s) sent, {pending} waiting.");
            if parked > 0 {
                println!(
                    "{parked} record(s) were refused by the server; see `hotich-agent status`."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Ending::TimedOut => Err(AgentError::Failed(format!(
            "stopped after {}: {sent} record(s) sent; {pending} record(s) are still waiting safely \
             in the journal (the link kept failing: {error}). {hint}",
            crate::status::human_duration(limits.timeout.as_secs() as i64)
        ))),
        Ending::Stalled => Err(AgentError::Failed(format!(
            "nothing could be sent for {} ({error}); {sent} record(s) sent; {pending} record(s) are \
             waiting safely in the journal. {hint}",
            crate::status::human_duration(limits.stall.as_secs() as i64)
        ))),
        Ending::NeedsPerson => Err(AgentError::Failed(format!(
            "{error}. {pending} record(s) are waiting safely in the journal."
        ))),
        Ending::Cancelled => Err(AgentError::Failed(format!(
            "the sync was stopped; {pending} record(s) are waiting safely in the journal. {hint}"
        ))),
    }
}

/// `--timeout` as a duration: positive, at most a week.
fn sync_timeout(timeout: Option<f64>) -> Result<Duration, AgentError> {
    let Some(secs) = timeout else {
        return Ok(crate::sync_now::DEFAULT_TIMEOUT);
    };
    let max = crate::sync_now::MAX_TIMEOUT;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d > Duration::ZERO && d <= max => Ok(d),
        _ => Err(AgentError::Usage(format!(
            "--timeout {secs}: give a number of seconds above 0 and at most {} (a week)",
            max.as_secs()
        ))),
    }
}

fn sync(data_dir: &DataDir, timeout: Option<f64>, json: bool) -> Result<ExitCode, AgentError> {
    let timeout = sync_timeout(timeout)?;
    let config = AgentConfig::load(data_dir)?;
    let limits = crate::sync_now::Limits {
        timeout,
        stall: config.sync.sync_now_stall(),
    };
    let display = SyncDisplay {
        json,
        tty: !json && std::io::stderr().is_terminal(),
    };
    let runtime = runtime()?;
    let (finished, service_running) = runtime.block_on(async {
        match SyncLock::acquire(data_dir.path()) {
            Ok(_lock) => {
                let mut last = None;
                let mut sink = |event: SyncEvent| {
                    display.show(&event);
                    last = Some(event);
                };
                crate::service::sync_in_process(data_dir, &config, limits, &mut sink).await?;
                Ok::<_, AgentError>((last, false))
            }
            Err(LockError::Held { .. }) => {
                // A service (or another sync) holds the lock: ask it to do the work.
                let info = ControlInfo::read(&data_dir.control_path()).ok_or_else(|| {
                    AgentError::Failed(
                        "another `hotich-agent sync` is already running for this data directory; wait for it to finish".into(),
                    )
                })?;
                let mut sink = |event: &SyncEvent| display.show(event);
                // The service keeps to the same limits; this is only a
                // backstop if it stops answering.
                let wait = limits.timeout + SERVICE_ANSWER_GRACE;
                match tokio::time::timeout(
                    wait,
                    control::sync_via_service(&info, limits.timeout, &mut sink),
                )
                .await
                {
                    Ok(Ok(last)) => Ok((last, true)),
                    Ok(Err(e)) => Err(AgentError::Failed(e.to_string())),
                    Err(_) => Err(AgentError::Failed(format!(
                        "the service did not finish within {}; the records stay in the journal and \
                         the service keeps trying",
                        crate::status::human_duration(wait.as_secs() as i64)
                    ))),
                }
            }
            Err(e) => Err(e.into()),
        }
    })?;
    sync_result(finished, limits, service_running, json)
}

/// How long past its own timeout `sync` waits for the service to report.
const SERVICE_ANSWER_GRACE: Duration = Duration::from_secs(60);
