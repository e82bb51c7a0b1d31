//! `run`: the background service, and the in-process round behind `sync`
//! when no service is running.
//!
//! The service sleeps until something is due: a scheduled retry, new entries
//! (an importer pokes it, and it re-checks every `idle_recheck_secs`), a
//! heartbeat, or "sync now". Offline it wakes on its backoff schedule, when
//! new records arrive (at most every [`POKE_ROUND_EVERY`]), and every
//! `probe_secs` for a bare request that tells whether the server can be
//! reached again — only when the last failure did not reach it, so a server
//! that is up but refusing (busy, 5xx) is left to the backoff.

use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use tracing::{error, info};

use crate::client::ApiClient;
use crate::config::{AgentConfig, DataDir};
use crate::control::{self, ControlRequest};
use crate::error::AgentError;
use crate::journal::Access;
use crate::lock::SyncLock;
use crate::sync::{SyncEngine, SyncEvent};

/// After a journal error (disk full, a lock held too long) the service waits
/// this long and tries again.
pub const JOURNAL_RETRY: Duration = Duration::from_secs(30);

/// During a backoff, an importer's poke starts a round at most this often.
pub const POKE_ROUND_EVERY: Duration = Duration::from_secs(10);

/// Runs until `shutdown` turns true. Holds the data directory's sync lock.
pub async fn run_service(
    data_dir: &DataDir,
    config: AgentConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let _lock = SyncLock::acquire(data_dir.path())?;
    let journal = data_dir.open_journal(Access::ReadWrite)?;
    let client = ApiClient::new(&config)?;
    let mut engine = SyncEngine::new(journal, client, config.sync.clone())?;
    let (requests_tx, mut requests) = mpsc::channel(16);
    // Without its control endpoint (control.json cannot be written: a full
    // disk) the service still uploads; only "sync now" must wait for it.
    let control = match control::start(data_dir, &config, requests_tx, shutdown.clone()).await {
        Ok(control) => Some(control),
        Err(error) => {
            error!(%error, "cannot start the control endpoint; uploading without it");
            None
        }
    };
    info!(
        server = %config.server,
        commune = %config.commune,
        data_dir = %data_dir.path().display(),
        control = %control.as_ref().map(|c| c.addr.to_string()).unwrap_or_default(),
        "service started"
    );
    // systemd (Type=notify): started now, and alive while the runtime runs.
    let notifier = crate::notify::Notifier::from_env().map(std::sync::Arc::new);
    if let Some(n) = &notifier {
        n.send(&format!(
            "READY=1\nSTATUS=uploading to {} for commune {}",
            config.server, config.commune
        ));
        if let Some(every) = crate::notify::Notifier::watchdog_every() {
            let n = n.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    n.send("WATCHDOG=1");
                }
            });
        }
    }
    // The journal failing (disk full, a long lock, antivirus) must not end the
    // service: it says so, waits, and tries again.
    let journal_trouble = |error: crate::error::JournalError| {
        error!(%error, retry_in_s = JOURNAL_RETRY.as_secs(), "journal error");
        JOURNAL_RETRY
    };
    let mut pause = Duration::ZERO;
    let mut last_poke_round: Option<Instant> = None;
    let probe_every = config.sync.probe_every();
    loop {
        let (wait, probing) = if pause > Duration::ZERO {
            (std::mem::take(&mut pause), false)
        } else {
            match engine.next_wakeup() {
                Ok(w) if w > probe_every && engine.link_down().unwrap_or(false) => {
                    (probe_every, true)
                }
                Ok(w) => (w, false),
                Err(e) => (journal_trouble(e), false),
            }
        };
        let request = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            // A closed channel (control endpoint gone) disables this branch.
            Some(request) = requests.recv() => Some(request),
            () = tokio::time::sleep(wait) => None,
        };
        match request {
            Some(ControlRequest::SyncNow { events, limits }) => {
                let limits = crate::sync_now::Limits {
                    stall: config.sync.sync_now_stall(),
                    ..limits
                };
                let watcher = events.clone();
                let mut sink = move |event: SyncEvent| {
                    let _ = events.send(event);
                };
                // The official's `sync` is watching: keep going through a
                // flaky link as the in-process `sync` does, until it is done
                // or the watcher leaves.
                let cancelled = move || watcher.is_closed();
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    ended = crate::sync_now::drive(&mut engine, limits, &mut sink, &cancelled) => {
                        if let Err(e) = ended {
                            pause = journal_trouble(e);
                        }
                    }
                }
                engine.release_memory();
                continue;
            }
            // New records wake the service even during a backoff (the link
            // may be back), but a busy importer does not turn the backoff
            // into a storm: at most one such round per POKE_ROUND_EVERY.
            Some(ControlRequest::Poke) => {
                let in_backoff = engine.in_backoff().unwrap_or(true);
                if in_backoff && last_poke_round.is_some_and(|t| t.elapsed() < POKE_ROUND_EVERY) {
                    continue;
                }
                if in_backoff {
                    last_poke_round = Some(Instant::now());
                }
            }
            None if probing => {
                let answers = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    answers = engine.probe() => answers,
                };
                if !answers {
                    continue;
                }
                info!("the server answers again; sending without waiting out the backoff");
            }
            None => match engine.wants_round() {
                Ok(true) => {}
                Ok(false) => {
                    let answered = engine.server_answered().unwrap_or(false);
                    tokio::select! {
                        _ = shutdown.wait_for(|stop| *stop) => break,
                        () = engine.heartbeat_if_due(answered) => {}
                    }
                    continue;
                }
                Err(e) => {
                    pause = journal_trouble(e);
                    continue;
                }
            },
        }
        let mut sink = |_: SyncEvent| {};
        tokio::select! {
            // Stopping mid-request is safe: the batch stays pending and the
            // server's answer, if it committed, is found by the next reconcile.
            _ = shutdown.wait_for(|stop| *stop) => break,
            round = engine.round(&mut sink) => {
                if let Err(e) = round {
                    pause = journal_trouble(e);
                }
            }
        }
        engine.release_memory();
    }
    if let Some(n) = &notifier {
        n.send("STOPPING=1");
    }
    info!("service stopped");
    Ok(())
}

/// "Sync now" in this process, for `sync` when no service runs. The caller
/// holds the sync lock.
pub async fn sync_in_process(
    data_dir: &DataDir,
    config: &AgentConfig,
    limits: crate::sync_now::Limits,
    sink: &mut (dyn FnMut(SyncEvent) + Send),
) -> Result<crate::sync_now::Ending, AgentError> {
    let journal = data_dir.open_journal(Access::ReadWrite)?;
    let client = ApiClient::new(config)?;
    let mut engine = SyncEngine::new(journal, client, config.sync.clone())?;
    Ok(crate::sync_now::drive(&mut engine, limits, sink, &|| false).await?)
}
