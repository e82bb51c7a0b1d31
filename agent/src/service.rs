//! `run`: the background service, and the in-process round behind `sync`
//! when no service is running.
//!
//! The service sleeps until something is due: a scheduled retry, new entries
//! (an importer pokes it, and it re-checks every `idle_recheck_secs`), a
//! heartbeat, or "sync now". Offline it wakes only on its backoff schedule.

use std::time::Duration;
use tokio::sync::{mpsc, watch};

use tracing::{error, info};

use crate::client::ApiClient;
use crate::config::{AgentConfig, DataDir};
use crate::control::{self, ControlRequest};
use crate::error::AgentError;
use crate::journal::Journal;
use crate::lock::SyncLock;
use crate::sync::{RoundReport, SyncEngine, SyncEvent};

/// After a journal error (disk full, a lock held too long) the service waits
/// this long and tries again.
pub const JOURNAL_RETRY: Duration = Duration::from_secs(30);

/// Runs until `shutdown` turns true. Holds the data directory's sync lock.
pub async fn run_service(
    data_dir: &DataDir,
    config: AgentConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let _lock = SyncLock::acquire(data_dir.path())?;
    let journal = Journal::open(&data_dir.journal_path())?;
    let client = ApiClient::new(&config)?;
    let mut engine = SyncEngine::new(journal, client, config.sync.clone())?;
    let (requests_tx, mut requests) = mpsc::channel(16);
    let control = control::start(data_dir, requests_tx, shutdown.clone())
        .await
        .map_err(|e| AgentError::io("cannot start the control endpoint", e))?;
    info!(
        server = %config.server,
        commune = %config.commune,
        data_dir = %data_dir.path().display(),
        control = %control.addr,
        "service started"
    );
    // The journal failing (disk full, a long lock, antivirus) must not end the
    // service: it says so, waits, and tries again.
    let journal_trouble = |error: crate::error::JournalError| {
        error!(%error, retry_in_s = JOURNAL_RETRY.as_secs(), "journal error");
        JOURNAL_RETRY
    };
    let mut pause = Duration::ZERO;
    loop {
        let wait = if pause > Duration::ZERO {
            std::mem::take(&mut pause)
        } else {
            match engine.next_wakeup() {
                Ok(w) => w,
                Err(e) => journal_trouble(e),
            }
        };
        let request = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            // A closed channel (control endpoint gone) disables this branch.
            Some(request) = requests.recv() => Some(request),
            () = tokio::time::sleep(wait) => None,
        };
        let events = match request {
            Some(ControlRequest::SyncNow { events }) => {
                if let Err(e) = engine.force_now() {
                    pause = journal_trouble(e);
                }
                Some(events)
            }
            // New entries wait for a scheduled retry like the others: imports
            // must not turn a backoff into a storm.
            Some(ControlRequest::Poke) if engine.in_backoff().unwrap_or(true) => continue,
            Some(ControlRequest::Poke) => None,
            None => match engine.wants_round() {
                Ok(true) => None,
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
        };
        let mut sink = move |event: SyncEvent| {
            if let Some(tx) = &events {
                let _ = tx.send(event);
            }
        };
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
    }
    info!("service stopped");
    Ok(())
}

/// One round in this process, for `sync` when no service runs. The caller
/// holds the sync lock.
pub async fn sync_in_process(
    data_dir: &DataDir,
    config: &AgentConfig,
    sink: &mut (dyn FnMut(SyncEvent) + Send),
) -> Result<RoundReport, AgentError> {
    let journal = Journal::open(&data_dir.journal_path())?;
    let client = ApiClient::new(config)?;
    let mut engine = SyncEngine::new(journal, client, config.sync.clone())?;
    engine.force_now()?;
    Ok(engine.round(sink).await?)
}
