//! "Sync now": rounds of the engine until the queue is drained, the time
//! the official gave (`--timeout`) runs out, nothing has moved for a while
//! (the server is down), or an error needs a person. The same driver runs
//! in `hotich-agent sync` when no service is running and inside the service
//! when `sync` asks it, so both behave alike on a flaky link.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::JournalError;
use crate::sync::{RoundOutcome, SyncEngine, SyncEvent};

/// How long "sync now" keeps going by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// With nothing settled for this long, the server is taken to be down and
/// "sync now" stops rather than keeping the official waiting.
pub const STALL_LIMIT: Duration = Duration::from_secs(120);

/// The longest `--timeout` accepted: a week.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this long in all.
    pub timeout: Duration,
    /// Stop when nothing was settled for this long.
    pub stall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            stall: STALL_LIMIT,
        }
    }
}

/// How a "sync now" ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Nothing due is left in the queue.
    Drained,
    /// The time given ran out while the link was still failing now and then.
    TimedOut,
    /// Nothing could be sent for [`Limits::stall`]: the server looks down.
    Stalled,
    /// The server refuses this agent or its requests; retrying will not help
    /// until someone changes something (a token, the setup).
    NeedsPerson,
    /// Nobody is watching any more (the `sync` that asked went away).
    Cancelled,
}

/// Reports how the sync ended, with the queue as it now stands.
fn finish(
    engine: &SyncEngine,
    sink: &mut (dyn FnMut(SyncEvent) + Send),
    ending: Ending,
    sent: u64,
    error: Option<crate::client::ErrorInfo>,
) -> Result<Ending, JournalError> {
    let counts = engine.counts()?;
    sink(SyncEvent::Finished {
        ending: ending.clone(),
        sent,
        pending: counts.pending,
        parked: counts.parked,
        error: error.as_ref().map(|e| e.text.clone()),
        info: error,
    });
    Ok(ending)
}

/// Runs rounds until one of the [`Ending`]s. Between failed rounds it waits
/// what the engine's backoff says (never past the deadline), and stops if
/// `cancelled` says so. Journal failures end it with an error.
pub async fn drive(
    engine: &mut SyncEngine,
    limits: Limits,
    sink: &mut (dyn FnMut(SyncEvent) + Send),
    cancelled: &(dyn Fn() -> bool + Send + Sync),
) -> Result<Ending, JournalError> {
    let start = Instant::now();
    let deadline = start + limits.timeout;
    let mut last_progress = start;
    let mut sent = 0u64;
    // What made the last round fail: a round cut short by the deadline
    // (often inside its quick retries) ends with it, not a vague "no answer".
    let mut last_error: Option<crate::client::ApiError> = None;
    engine.force_now()?;
    loop {
        // The time given is a promise to the official: a round cut short
        // by it leaves its batch pending, which is safe.
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(report) = tokio::time::timeout(left, engine.round(sink)).await else {
            let why = last_error.as_ref().map_or_else(
                || crate::client::ErrorInfo {
                    kind: "no-answer-in-time".into(),
                    args: Default::default(),
                    text: "the server did not answer in time".into(),
                },
                crate::client::ApiError::info,
            );
            return finish(engine, sink, Ending::TimedOut, sent, Some(why));
        };
        let report = report?;
        sent += report.sent;
        if report.sent > 0 {
            last_progress = Instant::now();
        }
        let error = match report.outcome {
            // The records are through but a scan is still going up (a
            // round gives scans a bounded time): keep going, it is progress.
            RoundOutcome::Drained if engine.scans_left()? => {
                last_progress = Instant::now();
                if Instant::now() < deadline {
                    continue;
                }
                let why = crate::client::ErrorInfo {
                    kind: "scans-still-sending".into(),
                    args: Default::default(),
                    text: "page scans are still being sent".into(),
                };
                return finish(engine, sink, Ending::TimedOut, sent, Some(why));
            }
            RoundOutcome::Drained => return finish(engine, sink, Ending::Drained, sent, None),
            RoundOutcome::Failed(error) => error,
        };
        let now = Instant::now();
        let ending = if !error.is_transient() {
            Some(Ending::NeedsPerson)
        } else if now.duration_since(last_progress) >= limits.stall {
            Some(Ending::Stalled)
        } else if now >= deadline {
            Some(Ending::TimedOut)
        } else {
            None
        };
        if let Some(ending) = ending {
            return finish(engine, sink, ending, sent, Some(error.info()));
        }
        let stall_left = limits
            .stall
            .saturating_sub(now.duration_since(last_progress));
        let wait = engine
            .next_wakeup()?
            .min(deadline.saturating_duration_since(now))
            .min(stall_left);
        sink(SyncEvent::Retrying {
            error: error.to_string(),
            retry_in_ms: wait.as_millis() as u64,
            info: Some(error.info()),
        });
        last_error = Some(error);
        tokio::time::sleep(wait).await;
        if cancelled() {
            return Ok(Ending::Cancelled);
        }
    }
}
