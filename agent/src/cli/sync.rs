//! "Sync now" from the command line: through the running service, or in
//! this process when none runs; progress as it happens, and one line at
//! the end saying what was sent, what waits, and what to do next.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use hotich_protocol::Timestamp;

use super::runtime;
use crate::config::{AgentConfig, DataDir};
use crate::control::{self, ControlInfo};
use crate::error::{AgentError, LockError};
use crate::lock::SyncLock;
use crate::sync::SyncEvent;
use crate::{i18n, tr};

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
                    eprint!("\r  {}      ", tr!("sync-waiting", count = *pending));
                }
            }
            SyncEvent::Reconciled {
                already_held,
                to_resend,
            } => {
                self.clear_line();
                if *already_held > 0 {
                    println!("  {}", tr!("sync-already-held", count = *already_held));
                }
                if *to_resend > 0 {
                    println!("  {}", tr!("sync-resend", count = *to_resend));
                }
            }
            SyncEvent::Progress { sent, pending, .. } => {
                if self.tty {
                    eprint!(
                        "\r  {}      ",
                        tr!("sync-progress", sent = *sent, pending = *pending)
                    );
                }
            }
            SyncEvent::Retrying {
                error,
                retry_in_ms,
                info,
            } => {
                self.clear_line();
                println!(
                    "  {}",
                    tr!(
                        "sync-retrying",
                        error = i18n::error_info(info.as_ref(), error),
                        wait = i18n::duration_text((*retry_in_ms / 1000).max(1) as i64)
                    )
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
fn how_to_continue(service_running: bool) -> String {
    if service_running {
        tr!("continue-service")
    } else {
        tr!("continue-no-service")
    }
}

/// The one line a sync ends with, and its exit code: 1 when the server
/// refused a record during this sync (it is parked, not stored, and needs a
/// person), even though everything else went through.
fn sync_result(
    finished: Option<SyncEvent>,
    outcome: Outcome,
    limits: crate::sync_now::Limits,
    service_running: bool,
    json: bool,
) -> Result<ExitCode, AgentError> {
    use crate::sync_now::Ending;
    let Some(SyncEvent::Finished {
        ending,
        sent,
        pending,
        parked: _,
        error,
        info,
    }) = finished
    else {
        return Err(AgentError::Failed(tr!(
            "sync-no-result",
            time = i18n::time_text(Timestamp::now())
        )));
    };
    let error = i18n::error_info(info.as_ref(), &error.unwrap_or_default());
    let hint = how_to_continue(service_running);
    let Outcome { stored, refused } = outcome;
    let refused_exit = if refused > 0 {
        ExitCode::from(crate::error::EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    };
    match ending {
        // A script reads the `finished` event already printed.
        Ending::Drained if json => Ok(refused_exit),
        Ending::Drained => {
            println!(
                "{}",
                tr!(
                    "sync-complete",
                    stored = stored,
                    refused = refused,
                    pending = pending
                )
            );
            if refused > 0 {
                println!("{}", tr!("sync-refused-some", count = refused));
            }
            Ok(refused_exit)
        }
        Ending::TimedOut => Err(AgentError::Failed(tr!(
            "sync-timed-out",
            after = i18n::duration_text(limits.timeout.as_secs() as i64),
            sent = sent,
            pending = pending,
            error = error,
            hint = hint
        ))),
        Ending::Stalled => Err(AgentError::Failed(tr!(
            "sync-stalled",
            after = i18n::duration_text(limits.stall.as_secs() as i64),
            sent = sent,
            pending = pending,
            error = error,
            hint = hint
        ))),
        Ending::NeedsPerson => Err(AgentError::Failed(tr!(
            "sync-needs-person",
            error = error,
            pending = pending
        ))),
        Ending::Cancelled => Err(AgentError::Failed(tr!(
            "sync-cancelled",
            pending = pending,
            hint = hint
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
        _ => Err(AgentError::Usage(tr!(
            "sync-bad-timeout",
            value = secs.to_string(),
            max = max.as_secs()
        ))),
    }
}

pub(super) fn sync(
    data_dir: &DataDir,
    timeout: Option<f64>,
    json: bool,
) -> Result<ExitCode, AgentError> {
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
    // What was sent or refused before this sync is not this sync's news.
    let before = journal_counts(data_dir);
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
                let info = ControlInfo::read(&data_dir.control_path())
                    .ok_or_else(|| AgentError::Failed(tr!("sync-other-running")))?;
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
                    Err(_) => Err(AgentError::Failed(tr!(
                        "sync-service-silent",
                        after = i18n::duration_text(wait.as_secs() as i64)
                    ))),
                }
            }
            Err(e) => Err(e.into()),
        }
    })?;
    let after = journal_counts(data_dir);
    let outcome = Outcome {
        stored: after.0.saturating_sub(before.0),
        refused: after.1.saturating_sub(before.1),
    };
    sync_result(finished, outcome, limits, service_running, json)
}

/// Entries sent (acked) and refused (parked) in the journal now.
fn journal_counts(data_dir: &DataDir) -> (u64, u64) {
    data_dir
        .open_journal(crate::journal::Access::ReadOnly)
        .and_then(|j| j.counts())
        .map_or((0, 0), |c| (c.acked, c.parked))
}

/// What one sync did: records newly stored centrally, and newly refused.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    stored: u64,
    refused: u64,
}

/// How long past its own timeout `sync` waits for the service to report.
const SERVICE_ANSWER_GRACE: Duration = Duration::from_secs(60);
