//! `doctor`: the checks `init` makes, run again later, plus what goes wrong
//! on a commune PC over time (a clock that drifts, a disk filling up, a
//! service that stopped).

use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

use super::setup::{Confirmation, ask_server, clock_skew_secs, confirmed_line};
use crate::config::{AgentConfig, DataDir, free_disk_bytes};
use crate::control::ControlInfo;
use crate::error::{AgentError, EXIT_PROBLEMS};
use crate::journal::Access;
use crate::tr;

/// A clock further off than this makes dates on the dashboard misleading.
const CLOCK_WARN_SECS: i64 = 300;
/// Free space under this is worth a warning; under the second, a failure
/// (SQLite needs room for its WAL and for checkpoints).
const DISK_WARN_BYTES: u64 = 1024 * 1024 * 1024;
const DISK_FAIL_BYTES: u64 = 100 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    status: Verdict,
    detail: String,
}

pub(super) fn doctor(data_dir: &DataDir, as_json: bool) -> Result<ExitCode, AgentError> {
    let mut checks = Vec::new();
    let mut add = |check: &'static str, status: Verdict, detail: String| {
        checks.push(Check {
            check,
            status,
            detail,
        })
    };
    match AgentConfig::load(data_dir) {
        Err(e) => add("config", Verdict::Fail, AgentError::from(e).message()),
        Ok(config) => {
            add(
                "config",
                Verdict::Ok,
                tr!(
                    "doctor-config",
                    path = data_dir.config_path().display().to_string(),
                    commune = config.commune.as_str(),
                    server = config.server.as_str()
                ),
            );
            match ask_server(&config) {
                Ok(Confirmation::Confirmed(me)) => {
                    add("server", Verdict::Ok, confirmed_line(&me));
                    let skew = clock_skew_secs(&me);
                    if skew.abs() > CLOCK_WARN_SECS {
                        add("clock", Verdict::Warn, tr!("doctor-clock-off", skew = skew));
                    } else {
                        add("clock", Verdict::Ok, tr!("doctor-clock-ok", skew = skew));
                    }
                }
                Ok(Confirmation::OtherCommune(me)) => add(
                    "server",
                    Verdict::Fail,
                    tr!(
                        "doctor-wrong-commune",
                        token_commune = me.commune.as_str(),
                        commune = config.commune.as_str()
                    ),
                ),
                Ok(Confirmation::Failed(e)) => {
                    add("server", Verdict::Fail, AgentError::Api(e).message())
                }
                Err(e) => add("server", Verdict::Fail, e.message()),
            }
        }
    }
    match free_disk_bytes(data_dir.path()) {
        None => add("disk", Verdict::Warn, tr!("doctor-disk-unknown")),
        Some(free) => {
            let mb = free / (1024 * 1024);
            let verdict = if free < DISK_FAIL_BYTES {
                Verdict::Fail
            } else if free < DISK_WARN_BYTES {
                Verdict::Warn
            } else {
                Verdict::Ok
            };
            add("disk", verdict, tr!("doctor-disk", mb = mb));
        }
    }
    match data_dir
        .open_journal(Access::ReadOnly)
        .and_then(|j| j.counts())
    {
        Ok(counts) => add(
            "journal",
            if counts.parked > 0 {
                Verdict::Warn
            } else {
                Verdict::Ok
            },
            tr!(
                "doctor-journal",
                total = counts.total,
                pending = counts.pending,
                parked = counts.parked
            ),
        ),
        Err(e) => add("journal", Verdict::Fail, AgentError::from(e).message()),
    }
    let service = ControlInfo::read(&data_dir.control_path()).filter(|info| {
        std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], info.port)),
            std::time::Duration::from_secs(2),
        )
        .is_ok()
    });
    match service {
        Some(info) => add(
            "service",
            Verdict::Ok,
            tr!("doctor-service-running", pid = info.pid),
        ),
        None => add("service", Verdict::Warn, tr!("doctor-service-stopped")),
    }

    let failed = checks.iter().any(|c| c.status == Verdict::Fail);
    if as_json {
        println!("{}", json!({"ok": !failed, "checks": checks}));
    } else {
        for c in &checks {
            let mark = match c.status {
                Verdict::Ok => "✓",
                Verdict::Warn => "!",
                Verdict::Fail => "✗",
            };
            println!(
                "{mark} {}: {}",
                crate::i18n::message(&format!("doctor-check-{}", c.check), &[]),
                c.detail
            );
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}
