//! The `hotich-server` command line: argument definitions and what each
//! command does. `main.rs` only parses, sets up logging and maps the
//! [`ServerError`] to an exit code ([`ServerError::exit_code`]).

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::chaos::{ChaosConfig, FailMode};
use crate::commands;
use crate::config::{Database, ServerConfig, TlsFiles};
use crate::error::ServerError;

#[derive(Debug, Parser)]
#[command(
    name = "hotich-server",
    version,
    about = "The central side of hotich-sync: stores records from commune agents idempotently, authenticates agents, checks their journals' chains."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// A file path (SQLite) or postgres://user@host/db.
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// Where page scans are kept (default: beside the SQLite file, as
        /// NAME.blobs; with PostgreSQL a path every replica shares).
        #[arg(long, value_name = "DIR")]
        blobs: Option<std::path::PathBuf>,
        /// Largest request body, after decompression, in MiB.
        #[arg(long, default_value_t = 16)]
        max_body_mb: usize,
        /// Client connections open at once, at most.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Uploads processed at once; more wait their turn.
        #[arg(long, default_value_t = 8)]
        upload_slots: usize,
        /// A client must send a request's headers within this many seconds
        /// (idle keep-alive connections are closed after it too).
        #[arg(long, default_value_t = 20)]
        header_timeout_secs: u64,
        /// Largest number of entries in one upload.
        #[arg(long, default_value_t = 10_000)]
        max_batch: usize,
        /// TLS certificate chain (PEM); with --tls-key, serves HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Seed of the fault injector (same seed, same faults).
        #[arg(long, default_value_t = 1)]
        chaos_seed: u64,
        /// Probability that a request fails before it is processed.
        #[arg(long, default_value_t = 0.0)]
        chaos_fail_before: f64,
        /// How such a request fails.
        #[arg(long, value_enum, default_value = "503")]
        chaos_fail_mode: FailMode,
        /// Probability that a request is processed and committed but never answered.
        #[arg(long, default_value_t = 0.0)]
        chaos_drop_after_commit: f64,
        /// Probability of an added delay before processing.
        #[arg(long, default_value_t = 0.0)]
        chaos_delay: f64,
        /// The added delay in milliseconds.
        #[arg(long, default_value_t = 0)]
        chaos_delay_ms: u64,
        /// The Retry-After (seconds) of an injected 503.
        #[arg(long, default_value_t = 1)]
        chaos_retry_after: u64,
        /// Probability that a committed upload is answered for its first half only.
        #[arg(long, default_value_t = 0.0)]
        chaos_truncate_answer: f64,
        /// Probability that a committed upload is answered with a status the agent does not know.
        #[arg(long, default_value_t = 0.0)]
        chaos_unknown_status: f64,
        /// The dashboard calls a commune silent after this many hours without contact.
        #[arg(long, default_value_t = 24.0)]
        silent_after_hours: f64,
        /// The dashboard calls a commune behind when a record has waited this many minutes.
        #[arg(long, default_value_t = 60.0)]
        behind_after_minutes: f64,
        /// The dashboard fetches a fresh list this often (seconds).
        #[arg(long, default_value_t = 30)]
        dashboard_refresh_secs: u64,
        /// Refuse agents older than this version (e.g. 0.2.0), telling them
        /// which version to install; their heartbeats are still taken.
        #[arg(long, value_name = "VERSION")]
        min_agent_version: Option<String>,
    },
    /// Dashboard logins for IT staff: add, list, revoke.
    Viewer {
        #[command(subcommand)]
        command: ViewerCommand,
    },
    /// Register, list and revoke commune agents.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Stored records still missing page scans (named by the record or
    /// attached later, not yet uploaded whole), oldest first.
    Scans {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// Only records of this commune.
        #[arg(long)]
        commune: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// One JSON object per record instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Corrections (cải chính) stored: which record each replaces, who
    /// entered it and why.
    Corrections {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// Only records of this commune.
        #[arg(long)]
        commune: Option<String>,
        /// One JSON object per correction instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Each paper book: entries captured against the count declared when it
    /// was closed, entry numbers never captured, entries verified by a
    /// second keying, discrepancies, refused, corrected.
    Books {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// Only books of this commune.
        #[arg(long)]
        commune: Option<String>,
        /// One JSON object per book instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print stored records as JSON Lines (content hash, commune, agent, received time, record).
    Export {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// Only records of this commune.
        #[arg(long)]
        commune: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register an agent and print its secret token (once; only its hash is stored).
    Add {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        #[arg(long)]
        commune: String,
        #[arg(long)]
        name: Option<String>,
        /// One of the 34 provinces, by code (66) or name (Đắk Lắk, Dak Lak).
        #[arg(long)]
        province: Option<String>,
        /// A group of communes within the province that IT staff look after
        /// (a former district, say). Needs --province.
        #[arg(long, requires = "province")]
        area: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List registered agents.
    List {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an agent's token: its requests are refused from now on.
    Revoke {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// The agent's id (see `agent list`).
        id: i64,
    },
    /// Print a one-time code with which the agent's PC may download its
    /// journal (`hotich-agent recover --code CODE`) after losing its disk.
    RecoveryCode {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// The agent's id (see `agent list`).
        id: i64,
        /// The code expires after this many hours unless used.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ViewerCommand {
    /// Create a dashboard login and print its password (once; only a hash is stored).
    Add {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// The login name.
        #[arg(long)]
        name: String,
        /// Sees this province only (code or name); without it, the whole country.
        #[arg(long)]
        province: Option<String>,
        /// Sees this area of the province only.
        #[arg(long, requires = "province")]
        area: Option<String>,
        /// May also register and revoke agents in its scope from the dashboard.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List dashboard logins.
    List {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a login; its sessions end at once.
    Revoke {
        #[arg(long, env = "HOTICH_DATABASE")]
        database: String,
        /// The viewer's id (see `viewer list`).
        id: i64,
    },
}

/// A province as typed, checked against the 34 (accents and case ignored).
fn province_code(text: Option<String>) -> Result<Option<String>, ServerError> {
    text.map(|p| {
        crate::provinces::find(&p)
            .map(|p| p.code.to_string())
            .map_err(|e| ServerError::Usage(format!("--province: {e}")))
    })
    .transpose()
}

fn scope_text(province: Option<&str>, area: Option<&str>) -> String {
    let province = province
        .map(|c| crate::provinces::by_code(c).map_or_else(|| c.to_string(), ToString::to_string));
    match (province, area) {
        (None, _) => "the whole country".into(),
        (Some(p), None) => format!("province {p}"),
        (Some(p), Some(a)) => format!("area {a} of province {p}"),
    }
}

fn database(text: &str) -> Result<Database, ServerError> {
    Database::parse(text).map_err(ServerError::Usage)
}

/// Runs one command to its end.
pub async fn run(cli: Cli) -> Result<(), ServerError> {
    match cli.command {
        Command::Serve {
            listen,
            database: db,
            max_body_mb,
            max_connections,
            upload_slots,
            header_timeout_secs,
            max_batch,
            tls_cert,
            tls_key,
            chaos_seed,
            chaos_fail_before,
            chaos_fail_mode,
            chaos_drop_after_commit,
            chaos_delay,
            chaos_delay_ms,
            chaos_retry_after,
            chaos_truncate_answer,
            chaos_unknown_status,
            silent_after_hours,
            behind_after_minutes,
            dashboard_refresh_secs,
            min_agent_version,
            blobs,
        } => {
            let mut config = ServerConfig::new(database(&db)?);
            config.blobs = blobs;
            let positive = |name: &str, v: f64, max: f64| {
                if v.is_finite() && v > 0.0 && v <= max {
                    Ok(v)
                } else {
                    Err(ServerError::Usage(format!(
                        "--{name} must be above 0 and at most {max}"
                    )))
                }
            };
            config.thresholds.silent_after = std::time::Duration::from_secs_f64(
                positive("silent-after-hours", silent_after_hours, 24.0 * 365.0)? * 3600.0,
            );
            config.thresholds.behind_after = std::time::Duration::from_secs_f64(
                positive(
                    "behind-after-minutes",
                    behind_after_minutes,
                    60.0 * 24.0 * 365.0,
                )? * 60.0,
            );
            config.thresholds.refresh =
                std::time::Duration::from_secs(dashboard_refresh_secs.clamp(1, 3600));
            config.limits.max_body_bytes = max_body_mb.clamp(1, 1024) * 1024 * 1024;
            config.limits.upload_slots = upload_slots.max(1);
            config.conn.max_connections = max_connections.max(1);
            config.conn.header_timeout =
                std::time::Duration::from_secs(header_timeout_secs.clamp(1, 3600));
            config.limits.max_entries = max_batch.max(1);
            config.limits.min_agent_version = min_agent_version
                .map(|text| {
                    hotich_protocol::wire::Version::parse(&text).ok_or_else(|| {
                        ServerError::Usage(format!(
                            "--min-agent-version \"{text}\": write a version as MAJOR.MINOR.PATCH, e.g. 0.2.0"
                        ))
                    })
                })
                .transpose()?;
            config.tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| TlsFiles { cert, key });
            config.chaos = ChaosConfig {
                seed: chaos_seed,
                fail_before: chaos_fail_before,
                fail_mode: chaos_fail_mode,
                drop_after_commit: chaos_drop_after_commit,
                delay: chaos_delay,
                delay_ms: chaos_delay_ms,
                retry_after_secs: chaos_retry_after,
                truncate_answer: chaos_truncate_answer,
                unknown_status: chaos_unknown_status,
            };
            config.chaos.check().map_err(ServerError::Usage)?;
            let shutdown = hotich_protocol::signals::shutdown_signal();
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| ServerError::Io {
                    context: format!("cannot listen on {listen}"),
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| ServerError::Io {
                context: "listener".into(),
                source,
            })?;
            let store = crate::open_store(&config.database, config.max_connections).await?;
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            // The first line on stdout is the address, for scripts and tests.
            println!(
                "hotich-server listening on {scheme}://{addr} ({})",
                config.database
            );
            let _ = std::io::stdout().flush();
            tracing::info!(%addr, database = %config.database, "serving");
            crate::run_store(store, config, listener, shutdown).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Agent { command } => match command {
            AgentCommand::Add {
                database: db,
                commune,
                name,
                province,
                area,
                json,
            } => {
                let province = province_code(province)?;
                let area = area.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
                let added =
                    commands::add_agent(&database(&db)?, commune.trim(), name, province, area)
                        .await?;
                if json {
                    let mut v = commands::agent_json(&added.agent);
                    v["token"] = serde_json::Value::String(added.token);
                    println!("{v}");
                } else {
                    println!(
                        "Agent {} registered for commune {}{}.",
                        added.agent.id,
                        added.agent.commune,
                        added
                            .agent
                            .name
                            .as_ref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    );
                    println!(
                        "Its token is shown only this once; give it to the commune PC for `hotich-agent init --token`:"
                    );
                    println!("{}", added.token);
                }
                Ok(())
            }
            AgentCommand::List { database: db, json } => {
                let agents = commands::list_agents(&database(&db)?).await?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&agents).unwrap_or_default()
                    );
                } else {
                    println!(
                        "{:>4}  {:<7} {:<24} {:<28} {:>10}  {:<24} status",
                        "id", "commune", "name", "province / area", "entries", "last seen (UTC)"
                    );
                    for a in agents {
                        let province = a.province.as_deref().map(|code| {
                            crate::provinces::by_code(code)
                                .map_or_else(|| code.to_string(), |p| p.name.to_string())
                        });
                        let place = match (province, &a.area) {
                            (Some(p), Some(area)) => format!("{p} / {area}"),
                            (Some(p), None) => p,
                            _ => String::new(),
                        };
                        println!(
                            "{:>4}  {:<7} {:<24} {:<28} {:>10}  {:<24} {}",
                            a.id,
                            a.commune,
                            a.name.unwrap_or_default(),
                            place,
                            a.contiguous_seq,
                            a.last_seen_at
                                .map(|t| t.to_rfc3339())
                                .unwrap_or_else(|| "never".into()),
                            if a.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                        );
                    }
                }
                Ok(())
            }
            AgentCommand::RecoveryCode {
                database: db,
                id,
                hours,
            } => {
                let code =
                    commands::recovery_code(&database(&db)?, id, hours.clamp(1, 24 * 30)).await?;
                println!("{code}");
                eprintln!(
                    "One-time recovery code for agent {id}, valid {hours} h: on the commune's new PC, \
                     `hotich-agent recover --code {code}`. Give it to the commune in person or by phone."
                );
                Ok(())
            }
            AgentCommand::Revoke { database: db, id } => {
                if commands::revoke_agent(&database(&db)?, id).await? {
                    println!("Agent {id} revoked: its token is refused from now on.");
                    Ok(())
                } else {
                    Err(ServerError::Usage(format!("no agent with id {id}")))
                }
            }
        },
        Command::Viewer { command } => viewer(command).await,
        Command::Scans {
            database: db,
            commune,
            limit,
            json,
        } => {
            let missing =
                commands::missing_scans(&database(&db)?, commune.as_deref(), limit).await?;
            for record in &missing {
                if json {
                    println!("{}", serde_json::json!(record));
                    continue;
                }
                let absent: Vec<String> = record
                    .scans
                    .iter()
                    .filter(|s| !s.stored)
                    .map(|s| {
                        let later = if s.attached { " (attached later)" } else { "" };
                        format!("{}{later}", s.sha256)
                    })
                    .collect();
                println!(
                    "{} {} ({}): {} of {} scans missing: {}",
                    record.commune_code,
                    record.nat_key,
                    record.content_hash,
                    absent.len(),
                    record.scans.len(),
                    absent.join(", ")
                );
            }
            if !json {
                if missing.len() as i64 >= limit {
                    println!("the first {limit} records missing scans (more with --limit)");
                } else {
                    println!("{} records missing scans", missing.len());
                }
            }
            Ok(())
        }
        Command::Corrections {
            database: db,
            commune,
            json,
        } => {
            let listed = commands::corrections(&database(&db)?, commune.as_deref()).await?;
            for c in &listed {
                if json {
                    println!("{c}");
                    continue;
                }
                let text = |key: &str| c[key].as_str().unwrap_or("-").to_string();
                println!(
                    "{} {} {} replaces {}: by {}; reason: {}",
                    text("commune_code"),
                    text("received_at"),
                    text("content_hash"),
                    text("supersedes"),
                    text("official"),
                    text("correction_reason")
                );
            }
            if !json {
                println!("{} corrections", listed.len());
            }
            Ok(())
        }
        Command::Books {
            database: db,
            commune,
            json,
        } => {
            let books = commands::books(&database(&db)?, commune.as_deref()).await?;
            for b in &books {
                if json {
                    println!("{}", serde_json::json!(b));
                } else {
                    println!("{}", commands::book_line(b));
                }
            }
            if !json {
                println!("{} books", books.len());
            }
            Ok(())
        }
        Command::Export {
            database: db,
            commune,
            output,
        } => {
            let db = database(&db)?;
            let written = match output {
                Some(path) => {
                    let file =
                        crate::store::create_private(&path).map_err(|source| ServerError::Io {
                            context: format!("cannot create {}", path.display()),
                            source,
                        })?;
                    commands::export(&db, commune.as_deref(), &mut BufWriter::new(file)).await?
                }
                None => {
                    let stdout = std::io::stdout();
                    commands::export(&db, commune.as_deref(), &mut BufWriter::new(stdout.lock()))
                        .await?
                }
            };
            tracing::info!(written, "export finished");
            Ok(())
        }
    }
}

async fn viewer(command: ViewerCommand) -> Result<(), ServerError> {
    match command {
        ViewerCommand::Add {
            database: db,
            name,
            province,
            area,
            admin,
            json,
        } => {
            let province = province_code(province)?;
            let area = area.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
            let (viewer, password) =
                commands::add_viewer(&database(&db)?, name.trim(), province, area, admin).await?;
            if json {
                let mut v = serde_json::to_value(&viewer).unwrap_or_default();
                v["password"] = serde_json::Value::String(password);
                println!("{v}");
            } else {
                println!(
                    "Viewer {} \"{}\" created; sees {}{}.",
                    viewer.id,
                    viewer.name,
                    scope_text(viewer.province.as_deref(), viewer.area.as_deref()),
                    if viewer.admin {
                        ", and may register and revoke its agents"
                    } else {
                        ""
                    }
                );
                println!("Its password is shown only this once:");
                println!("{password}");
            }
            Ok(())
        }
        ViewerCommand::List { database: db, json } => {
            let viewers = commands::list_viewers(&database(&db)?).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&viewers).unwrap_or_default()
                );
            } else {
                println!("{:>4}  {:<20} {:<40} status", "id", "name", "sees");
                for v in viewers {
                    println!(
                        "{:>4}  {:<20} {:<40} {}{}",
                        v.id,
                        v.name,
                        scope_text(v.province.as_deref(), v.area.as_deref()),
                        if v.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        if v.admin { ", admin" } else { "" }
                    );
                }
            }
            Ok(())
        }
        ViewerCommand::Revoke { database: db, id } => {
            if commands::revoke_viewer(&database(&db)?, id).await? {
                println!("Viewer {id} revoked: its password and sessions no longer work.");
                Ok(())
            } else {
                Err(ServerError::Usage(format!("no viewer with id {id}")))
            }
        }
    }
}

impl Command {
    /// The log level a command uses unless `RUST_LOG` says otherwise.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve { .. } => "info",
            _ => "warn",
        }
    }
}
