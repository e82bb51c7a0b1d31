//! Command-line interface: argument definitions and what each command does.
//! `main.rs` only parses, sets up logging and the language, and maps errors
//! to exit codes. What an official reads is worded by the message catalog
//! (`crate::i18n`), Vietnamese unless `--lang en`.
//!
//! - `setup`: `init`;
//! - `files`: `import`, `validate`, `template`, `convert`, `hash`;
//! - `sync`: "sync now" and its display;
//! - here: `run`, `status`, `verify`, `requeue`.

mod backup;
mod books;
mod doctor;
mod files;
mod open;
mod receipts;
mod setup;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hotich_protocol::RecordKind;
use serde_json::json;

use crate::config::{AgentConfig, DataDir};
use crate::control;
use crate::error::{AgentError, EXIT_PROBLEMS};
use crate::journal::Access;
use crate::status;
use crate::tr;

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

    /// Language of messages: vi (Vietnamese, the default) or en.
    #[arg(long, global = true, env = "HOTICH_LANG", value_name = "LANG")]
    pub lang: Option<String>,

    /// Log detail: error, warn, info, debug (RUST_LOG overrides).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Change a setting for this run only, over config.toml and the
    /// HOTICH_* variables, e.g. `--set sync.probe_secs=2` (repeatable;
    /// `config show` lists the settings).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,

    #[command(subcommand)]
    pub command: Command,
}

/// A kind of register, as `--kind` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Birth,
    Marriage,
    Death,
}

impl From<KindArg> for RecordKind {
    fn from(k: KindArg) -> RecordKind {
        match k {
            KindArg::Birth => RecordKind::Birth,
            KindArg::Marriage => RecordKind::Marriage,
            KindArg::Death => RecordKind::Death,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SheetFormat {
    Xlsx,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LegacyArg {
    Tcvn3,
    Vni,
    Cp1258,
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
        /// Do not ask the server to confirm the token and commune now (no
        /// network at install time); `hotich-agent doctor` checks later.
        #[arg(long)]
        offline: bool,
    },
    /// The agent's configuration as it is used: config.toml with the
    /// environment applied, every setting with its value, the token hidden.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check this PC's setup: the server, the token and commune, the clock,
    /// the disk, the journal and the service.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Add records from .xlsx, .csv, .jsonl or .json files to the journal.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The kind of register for rows with no Loại column or kind-named sheet.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// The books are those of this former commune (5-digit code, before
        /// the July 2025 merger), for rows with no Mã xã cũ column of their own.
        #[arg(long, value_name = "CODE", value_parser = parse_commune_code)]
        former_commune: Option<String>,
        /// Who is entering these records, from the office's list
        /// (`hotich-agent official add`); not needed when the list has one name.
        #[arg(long, value_name = "NAME")]
        official: Option<String>,
        /// The file is a second typing of entries already entered, by another
        /// official, to check the first: compared with it, never a new record.
        #[arg(long)]
        second_keying: bool,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check records without importing them: one line per problem.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long)]
        json: bool,
    },
    /// Write an empty spreadsheet with the Vietnamese column headers of a register.
    Template {
        #[arg(long, value_enum)]
        kind: KindArg,
        #[arg(long, value_enum, default_value = "xlsx")]
        format: SheetFormat,
        /// The file to write.
        #[arg(value_name = "OUT")]
        out: PathBuf,
    },
    /// Convert a file typed in a legacy Vietnamese encoding (TCVN3/ABC, VNI, Windows-1258) to UTF-8.
    Convert {
        #[arg(long, value_enum)]
        from: LegacyArg,
        #[arg(value_name = "IN")]
        input: PathBuf,
        #[arg(value_name = "OUT")]
        output: PathBuf,
    },
    /// Run the background service that uploads the journal.
    Run,
    /// Install, remove or look at the background service (Linux, systemd).
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Sync now: upload everything waiting, with progress.
    Sync {
        /// Keep trying through a flaky link for at most this many seconds
        /// (default 1800: half an hour).
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Open the official's page (the queue, "Đồng bộ ngay", importing files)
    /// in the browser, through a one-time login link.
    Open {
        /// Print the link instead of opening a browser (it works once, for 5 minutes).
        #[arg(long)]
        print: bool,
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
    /// The office's officials: each entry records who entered it.
    Official {
        #[command(subcommand)]
        command: OfficialCommand,
    },
    /// Paper books: declare one done (`book close`), see each book's
    /// completeness and checks (`book report`).
    Book {
        #[command(subcommand)]
        command: BookCommand,
    },
    /// Entries a second keying typed differently from the first, as the
    /// centre sees every PC of the commune; `review confirm` records a third look.
    Review {
        #[command(subcommand)]
        command: Option<ReviewCommand>,
        #[arg(long)]
        json: bool,
    },
    /// The centre's signed receipts of what it stored.
    Receipts {
        #[command(subcommand)]
        command: ReceiptsCommand,
    },
    /// Put records the server refused back in the queue (after fixing the cause).
    Requeue {
        /// Entry numbers to requeue (see `status`); all refused entries if none given.
        #[arg(value_name = "SEQ")]
        seqs: Vec<u64>,
    },
    /// Copy the journal to FILE, consistently, even while the service runs.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Put a journal backup in place on this PC (set up with `init` first);
    /// the service then sends only what the server lacks.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Replace a journal that already holds records (kept as journal.db.before-restore).
        #[arg(long)]
        force: bool,
    },
    /// Rebuild this PC's journal from the server's copy after a lost disk,
    /// with a one-time code from the IT staff (`hotich-server agent recovery-code`).
    Recover {
        #[arg(long)]
        code: String,
    },
    /// Close a refused record that should never have been entered (it stays
    /// in the journal and the server is told it was dismissed).
    Dismiss {
        /// The entry number (see `status`).
        #[arg(value_name = "SEQ")]
        seq: u64,
        /// Why, for the record kept centrally.
        #[arg(long)]
        reason: String,
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

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// The service's own account.
    #[arg(long, default_value = crate::install::SERVICE_USER)]
    user: String,
    /// The local group whose members (the officials) may use the agent.
    #[arg(long, default_value = crate::install::OFFICIALS_GROUP)]
    group: String,
    /// Where the systemd unit goes.
    #[arg(long, default_value = crate::install::UNIT_DIR, value_name = "DIR")]
    unit_dir: PathBuf,
    /// Where the desktop shortcut to the official's page goes (every
    /// user's application menu and desktop).
    #[arg(long, default_value = crate::install::DESKTOP_DIR, value_name = "DIR")]
    desktop_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum OfficialCommand {
    /// Add an official to the office's list (in config.toml).
    Add { name: String },
    /// The office's officials.
    List,
}

#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Declare a paper book done: how many entries it holds, and those lost
    /// from the paper (with why).
    Close {
        #[arg(long, value_enum)]
        kind: KindArg,
        #[arg(long)]
        year: i64,
        /// The book's code (Quyển số).
        #[arg(long)]
        book: String,
        /// How many entries the paper book holds.
        #[arg(long)]
        entries: u32,
        /// Entry numbers lost from the paper, e.g. 12,13.
        #[arg(long, value_delimiter = ',', value_name = "N,N")]
        missing: Vec<u32>,
        /// Why those entries are lost (needed with --missing).
        #[arg(long)]
        reason: Option<String>,
        /// The book is a former commune's (5-digit code, before July 2025).
        #[arg(long, value_name = "CODE", value_parser = parse_commune_code)]
        former_commune: Option<String>,
        #[arg(long, value_name = "NAME")]
        official: Option<String>,
    },
    /// Each book: entries captured against the count declared, entry
    /// numbers never captured, verified by a second keying, discrepancies,
    /// refused, corrected.
    Report {
        #[arg(long)]
        json: bool,
        /// From this PC's journal only, without asking the centre.
        #[arg(long)]
        local: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// A third look: the first keying of this entry is right as it is.
    Confirm {
        /// The entry's key as `review` shows it (00004/birth/1998/1/5).
        key: String,
        #[arg(long, value_name = "NAME")]
        official: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// Check every receipt against this journal and the centre's public key:
    /// proof of what the centre acknowledged.
    Verify {
        /// The centre's public key (hex), to check without asking the server.
        #[arg(long, value_name = "HEX")]
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create the service's account, its data directory and the systemd
    /// unit, and start it (needs sudo).
    Install {
        #[command(flatten)]
        service: ServiceArgs,
        /// Print the unit and what would be created, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Let this local user use the agent (adds them to the group; repeatable).
        #[arg(long, value_name = "USER")]
        official: Vec<String>,
    },
    /// Stop and remove the service; the data directory and its journal stay.
    Uninstall {
        #[command(flatten)]
        service: ServiceArgs,
        /// Also delete the service's account and group.
        #[arg(long)]
        remove_account: bool,
    },
    /// Whether the service is installed and running, and where its data and logs are.
    Status {
        #[command(flatten)]
        service: ServiceArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (TOML, or JSON with --json).
    Show {
        #[arg(long)]
        json: bool,
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
            // Their findings are the output; a library's log line would
            // only repeat one of them, worse worded.
            Command::Init { .. } | Command::Doctor { .. } => "off",
            _ => "warn",
        }
    }
}

fn parse_commune_code(text: &str) -> Result<String, String> {
    let code = text.trim();
    if hotich_protocol::is_commune_code(code) {
        Ok(code.to_string())
    } else {
        Err(format!("\"{text}\" is not a 5-digit commune code"))
    }
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("\"{text}\": write KEY=VALUE, e.g. sync.probe_secs=2"))?;
    Ok((key.trim().to_string(), value.to_string()))
}

pub fn run(cli: Cli) -> Result<ExitCode, AgentError> {
    crate::config::set_flag_overrides(cli.settings.clone());
    let resolve = || DataDir::resolve(cli.data_dir.clone());
    match cli.command {
        Command::Hash { file, record } => files::hash(&file, record),
        Command::Validate { files, kind, json } => {
            files::validate(cli.data_dir.clone(), &files, kind.map(Into::into), json)
        }
        Command::Template { kind, format, out } => files::template(kind.into(), format, &out),
        Command::Convert {
            from,
            input,
            output,
        } => files::convert(from, &input, &output),
        Command::Init {
            server,
            token,
            commune,
            ca_cert,
            force,
            allow_insecure_http,
            offline,
        } => setup::init(
            &resolve()?,
            setup::InitArgs {
                server,
                token,
                commune,
                ca_cert,
                force,
                allow_insecure_http,
                offline,
            },
        ),
        Command::Doctor { json } => doctor::doctor(&resolve()?, json),
        Command::Config {
            command: ConfigCommand::Show { json },
        } => {
            let data_dir = resolve()?;
            let config = AgentConfig::load(&data_dir)?;
            let mut shown = serde_json::to_value(&config)
                .map_err(|e| AgentError::Failed(format!("the configuration: {e}")))?;
            shown["token"] = config.token.redacted().into();
            if json {
                println!("{shown}");
            } else {
                let text = toml::to_string_pretty(&shown)
                    .map_err(|e| AgentError::Failed(format!("the configuration: {e}")))?;
                println!(
                    "{}",
                    tr!(
                        "config-show-header",
                        path = data_dir.config_path().display().to_string()
                    )
                );
                for (key, _, source) in crate::config::overrides() {
                    println!(
                        "{}",
                        tr!(
                            "config-show-override",
                            key = key.as_str(),
                            source = source.as_str()
                        )
                    );
                }
                print!("{text}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            files,
            kind,
            former_commune,
            official,
            second_keying,
            json,
        } => files::import(
            &resolve()?,
            &files,
            files::ImportArgs {
                kind: kind.map(Into::into),
                former_commune,
                official,
                second_keying,
            },
            json,
        ),
        Command::Official { command } => {
            let data_dir = resolve()?;
            match command {
                OfficialCommand::Add { name } => {
                    let added = crate::config::add_official(&data_dir, &name)?;
                    let name = name.trim();
                    if added {
                        println!("{}", crate::tr!("official-added", name = name));
                    } else {
                        println!("{}", crate::tr!("official-known", name = name));
                    }
                }
                OfficialCommand::List => {
                    let config = AgentConfig::load(&data_dir)?;
                    if config.officials.is_empty() {
                        println!("{}", crate::tr!("official-none"));
                    }
                    for name in &config.officials {
                        println!("{name}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
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
        Command::Sync { timeout, json } => sync::sync(&resolve()?, timeout, json),
        Command::Open { print } => open::open(&resolve()?, print),
        Command::Service { command } => {
            let spec = |args: ServiceArgs| -> Result<crate::install::ServiceSpec, AgentError> {
                let data_dir = cli
                    .data_dir
                    .clone()
                    .or_else(crate::config::system_data_dir)
                    .ok_or(crate::error::ConfigError::NoDataDir)?;
                let exe = std::env::current_exe()
                    .and_then(|p| p.canonicalize())
                    .map_err(|e| AgentError::io("cannot find this program's path", e))?;
                Ok(crate::install::ServiceSpec {
                    exe,
                    data_dir,
                    user: args.user,
                    group: args.group,
                    unit_dir: args.unit_dir,
                    desktop_dir: args.desktop_dir,
                })
            };
            match command {
                ServiceCommand::Install {
                    service,
                    dry_run,
                    official,
                } => crate::install::install(&spec(service)?, &official, dry_run),
                ServiceCommand::Uninstall {
                    service,
                    remove_account,
                } => crate::install::uninstall(&spec(service)?, remove_account),
                ServiceCommand::Status { service, json } => {
                    crate::install::status(&spec(service)?, json)
                }
            }
        }
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
        Command::Book {
            command:
                BookCommand::Close {
                    kind,
                    year,
                    book,
                    entries,
                    missing,
                    reason,
                    former_commune,
                    official,
                },
        } => books::close(
            &resolve()?,
            books::CloseArgs {
                kind: kind.into(),
                year,
                book,
                entries,
                missing,
                reason,
                former_commune,
                official,
            },
        ),
        Command::Book {
            command: BookCommand::Report { json, local },
        } => books::report(&resolve()?, json, local),
        Command::Review {
            command: Some(ReviewCommand::Confirm { key, official }),
            ..
        } => books::confirm(&resolve()?, &key, official),
        Command::Review {
            command: None,
            json,
        } => books::review(&resolve()?, json),
        Command::Receipts {
            command: ReceiptsCommand::Verify { key, json },
        } => receipts::verify(&resolve()?, key, json),
        Command::Verify { json } => {
            let data_dir = resolve()?;
            AgentConfig::load(&data_dir)?;
            let journal = data_dir.open_journal(Access::ReadOnly)?;
            let report = journal.verify()?;
            let blobs = crate::blobs::BlobStore::new(data_dir.path());
            let mut scan_problems = Vec::new();
            for (seq, hash) in &report.scans {
                let state = blobs
                    .check(hash)
                    .map_err(|e| AgentError::io(format!("cannot read the scan {hash}"), e))?;
                if state != crate::blobs::BlobState::Intact {
                    scan_problems.push((*seq, hash.to_hex(), state));
                }
            }
            if json {
                println!(
                    "{}",
                    json!({"entries": report.entries,
                    "intact": report.first_broken.is_none() && scan_problems.is_empty(),
                    "first_broken": report.first_broken.as_ref().map(|(seq, why)| json!({"seq": seq, "problem": why})),
                    "scans": report.scans.len(),
                    "scan_problems": scan_problems.iter().map(|(seq, hash, state)| json!({
                        "seq": seq, "sha256": hash,
                        "problem": if *state == crate::blobs::BlobState::Missing { "missing" } else { "altered" }
                    })).collect::<Vec<_>>()})
                );
            }
            if let Some((seq, why)) = report.first_broken {
                return Err(AgentError::Failed(tr!(
                    "verify-altered",
                    path = journal.path().display().to_string(),
                    seq = seq,
                    detail = why
                )));
            }
            if !scan_problems.is_empty() {
                let lines: Vec<String> = scan_problems
                    .iter()
                    .map(|(seq, hash, state)| match state {
                        crate::blobs::BlobState::Missing => {
                            tr!("verify-scan-missing", seq = *seq, hash = hash.as_str())
                        }
                        _ => tr!("verify-scan-altered", seq = *seq, hash = hash.as_str()),
                    })
                    .collect();
                return Err(AgentError::Failed(tr!(
                    "verify-scans-broken",
                    count = scan_problems.len(),
                    list = lines.join("; ")
                )));
            }
            if !json {
                println!("{}", tr!("verify-intact", entries = report.entries));
                if !report.scans.is_empty() {
                    println!("{}", tr!("verify-scans-intact", count = report.scans.len()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file } => backup::backup(&resolve()?, &file),
        Command::Recover { code } => backup::recover(&resolve()?, code.trim()),
        Command::Restore { file, force } => backup::restore(&resolve()?, &file, force),
        Command::Dismiss { seq, reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(AgentError::Usage(tr!("dismiss-no-reason")));
            }
            let data_dir = resolve()?;
            AgentConfig::load(&data_dir)?;
            let mut journal = data_dir.open_journal(Access::ReadWrite)?;
            if !journal.dismiss(seq, reason)? {
                return Err(AgentError::Failed(tr!("dismiss-not-refused", seq = seq)));
            }
            drop(journal);
            control::poke(&data_dir);
            println!("{}", tr!("dismiss-done", seq = seq));
            Ok(ExitCode::SUCCESS)
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
            println!("{}", tr!("requeue-done", count = n));
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
        .on_thread_park(crate::memory::on_thread_park)
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("cannot start the async runtime", e))
}
