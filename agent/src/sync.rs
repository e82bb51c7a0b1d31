//! The sync engine: uploads pending journal entries in order, in compressed
//! batches whose size adapts to the link, and turns the server's per-entry
//! answers into journal state. Used by the background service and by an
//! in-process `sync` alike.
//!
//! Delivery is at-least-once; the server's hash-keyed store makes it
//! exactly-once in effect. An entry becomes acked only on the server's answer
//! for it; a refused entry is parked with its reason and never blocks the
//! rest of the queue.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hotich_protocol::wire::{
    EntryStatus, HaveRequest, Heartbeat, UploadEntry, UploadRequest, UploadResponse,
};
use hotich_protocol::{ChainHash, Timestamp};
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::{debug, info, warn};

use crate::client::{ApiClient, ApiError, ErrorInfo, encode_upload};
use crate::config::SyncSettings;
use crate::error::JournalError;
use crate::journal::{EntryState, Journal, QueuedEntry, Resolution, SyncState};
use crate::retry::{Backoff, wait_after_failure, with_retries, with_retries_if};
use crate::sync_now::Ending;

/// What someone watching a round (the `sync` command) is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    Started {
        pending: u64,
    },
    /// What the have/lack exchange settled without sending.
    Reconciled {
        already_held: u64,
        to_resend: u64,
    },
    Progress {
        sent: u64,
        pending: u64,
        parked: u64,
    },
    Done {
        sent: u64,
        pending: u64,
        parked: u64,
    },
    Failed {
        error: String,
        pending: u64,
        next_retry_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<ErrorInfo>,
    },
    /// "Sync now" keeps going: the next round starts after this wait.
    Retrying {
        error: String,
        retry_in_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<ErrorInfo>,
    },
    /// "Sync now" ended (see [`Ending`]); the last event of a `sync`.
    Finished {
        ending: Ending,
        sent: u64,
        pending: u64,
        parked: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<ErrorInfo>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundOutcome {
    /// Nothing due is left.
    Drained,
    /// The round stopped on this error; the next try is scheduled.
    Failed(ApiError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub sent: u64,
    pub outcome: RoundOutcome,
}

/// An entry answered with a status this build does not know is asked about
/// again after this long (a newer server may be holding it for review).
pub const UNKNOWN_STATUS_RECHECK: Duration = Duration::from_secs(3600);

/// Hashes per have/lack question: 1,000 hex hashes are about 67 KB of JSON.
pub const RECONCILE_PAGE: usize = 1000;

/// Why an entry was refused, as kept in the journal (`state_reason`, JSON)
/// so that `status` can word it in the reader's language: the server's
/// problems with codes, or a local reason. `text` is the English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Refusal {
    /// `rejected`, `conflict`, `too-large`, `damaged`, `old-normal-form`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<hotich_protocol::FieldError>,
    /// For a conflict: the version the central database holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
    pub text: String,
}

impl Refusal {
    fn local(kind: &str, text: String) -> Refusal {
        Refusal {
            kind: kind.into(),
            errors: Vec::new(),
            existing: None,
            text,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.text.clone())
    }

    /// A stored reason: JSON from this version, plain text from older ones.
    pub fn parse(stored: &str) -> Refusal {
        serde_json::from_str(stored).unwrap_or_else(|_| Refusal::local("text", stored.to_string()))
    }
}

/// Whether a natural key has a book or entry with leading zeros, which
/// only normal form 1 (before protocol::record::NORMAL_FORM 2) kept.
fn written_before_normal_form_2(nat_key: &str) -> bool {
    let parts: Vec<&str> = nat_key.split('/').collect();
    parts
        .iter()
        .skip(3)
        .any(|p| p.len() > 1 && p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A batch ready to send: its entries and the compressed body.
type Prepared = (Vec<QueuedEntry>, Vec<u8>);

pub struct SyncEngine {
    journal: Journal,
    client: ApiClient,
    settings: SyncSettings,
    backoff: Backoff,
    jitter: fastrand::Rng,
    batch_size: usize,
    needs_reconcile: bool,
    last_reconcile: Option<Instant>,
    last_heartbeat: Option<Instant>,
    last_low_disk_warning: Option<Instant>,
    /// The journal holds entries in normal form 1 (see `prepare`).
    old_normal_form: bool,
    /// Scan uploads have their own backoff: a server that cannot take
    /// scans (none kept, its disk full) must not hold back the records.
    scan_failures: u32,
    scan_retry_at: Option<Instant>,
    /// The server did not know the record of some attachment last time:
    /// they wait for a later round rather than keep a sync now going.
    attachments_unplaced: bool,
    /// The server did not take keyings or closed books last time (an older
    /// server): not asked again until the agent restarts.
    book_news_unplaced: bool,
}

/// A round gives up after this many requests in a row broke mid-way, even
/// as the batch shrinks: the link is not delivering.
pub const MAX_BREAKS_PER_ROUND: u32 = 8;

/// Bytes of a page scan per request: a cut costs the chunk in flight, and
/// every chunk costs ~450 bytes of headers and a sync on the server. On a
/// link cut every 256 KB, 32 KB chunks put 1.13x the file's bytes on the
/// wire, 16 KB chunks 1.05x (`tests/tests/scans.rs`).
pub const SCAN_CHUNK: usize = 16 * 1024;

/// How long one round spends on scans after its records: records always
/// go first, and a big scan continues next round from the server's offset.
pub const SCAN_ROUND_BUDGET: Duration = Duration::from_secs(20);

/// Below this much free space on the journal's disk the service warns
/// (about 100,000 records' worth).
pub const LOW_DISK_BYTES: u64 = 100_000_000;
const LOW_DISK_WARN_EVERY: Duration = Duration::from_secs(600);

impl SyncEngine {
    pub fn new(
        journal: Journal,
        client: ApiClient,
        settings: SyncSettings,
    ) -> Result<Self, JournalError> {
        let saved = journal.sync_state()?;
        let journal_normal_form = journal.normal_form()?;
        let batch_size = saved
            .batch_size
            .unwrap_or(settings.batch_initial)
            .clamp(1, settings.batch_max);
        Ok(SyncEngine {
            backoff: Backoff::new(
                Duration::from_millis(settings.backoff_base_ms),
                Duration::from_secs(settings.backoff_cap_secs),
            ),
            journal,
            client,
            jitter: fastrand::Rng::new(),
            batch_size,
            settings,
            needs_reconcile: true,
            last_reconcile: None,
            last_heartbeat: None,
            last_low_disk_warning: None,
            old_normal_form: journal_normal_form < 2,
            scan_failures: 0,
            scan_retry_at: None,
            attachments_unplaced: false,
            book_news_unplaced: false,
        })
    }

    /// Gives back what a round used: the service then waits, often for
    /// hours, on a PC the office works on.
    pub fn release_memory(&self) {
        self.journal.release_memory();
        crate::memory::release();
    }

    /// "Sync now": the next round may start at once. The failure count is
    /// kept, so if this attempt fails too the schedule continues where it was.
    pub fn force_now(&mut self) -> Result<(), JournalError> {
        let mut state = self.journal.sync_state()?;
        state.next_attempt_at = Timestamp::now();
        self.journal.save_sync_state(&state)
    }

    /// The journal's counts (total, pending, acked, parked).
    pub fn counts(&self) -> Result<crate::journal::Counts, JournalError> {
        self.journal.counts()
    }

    /// When the next retry is due. A stored time further away than the
    /// backoff cap can only come from a clock that jumped; it is pulled in.
    fn retry_due_at(&self, state: &SyncState, now: Timestamp) -> Timestamp {
        let latest = now.plus_ms(self.backoff.cap.as_millis() as i64);
        state.next_attempt_at.min(latest)
    }

    /// Whether a retry is scheduled in the future (the link failed recently).
    pub fn in_backoff(&self) -> Result<bool, JournalError> {
        let state = self.journal.sync_state()?;
        let now = Timestamp::now();
        Ok(state.failures > 0 && self.retry_due_at(&state, now) > now)
    }

    /// Whether a round has work: entries due (and no retry pending), a
    /// scheduled retry that is due, or a periodic reconcile.
    pub fn wants_round(&self) -> Result<bool, JournalError> {
        let state = self.journal.sync_state()?;
        let now = Timestamp::now();
        if state.failures > 0 {
            return Ok(self.retry_due_at(&state, now) <= now);
        }
        let reconcile_every = Duration::from_secs(self.settings.reconcile_secs);
        Ok(self.needs_reconcile
            || self
                .last_reconcile
                .is_none_or(|t| t.elapsed() >= reconcile_every)
            || !self.journal.next_batch(now, 1, usize::MAX)?.is_empty()
            || (self.scans_due() && self.journal.next_scan()?.is_some())
            || (!self.attachments_unplaced && !self.journal.unsent_attachments(1)?.is_empty())
            || (!self.book_news_unplaced && self.journal.book_news_unsent()?))
    }

    /// Whether the last round failed without reaching the server (a link or
    /// server down, not a server that answered with an error): then a cheap
    /// probe may tell when it is back, before the backoff ends.
    pub fn link_down(&self) -> Result<bool, JournalError> {
        let state = self.journal.sync_state()?;
        Ok(state.failures > 0 && state.reachable == Some(false))
    }

    /// Whether the server answers again (see [`ApiClient::probe`]).
    pub async fn probe(&self) -> bool {
        self.client.probe().await
    }

    /// Whether the server answered at the last attempt (so a heartbeat may get through).
    pub fn server_answered(&self) -> Result<bool, JournalError> {
        Ok(self.journal.sync_state()?.reachable != Some(false))
    }

    /// How long the service may sleep before it has something to do.
    pub fn next_wakeup(&self) -> Result<Duration, JournalError> {
        let state = self.journal.sync_state()?;
        let now = Timestamp::now();
        let idle = Duration::from_secs(self.settings.idle_recheck_secs);
        if state.failures > 0 {
            let wait = self
                .retry_due_at(&state, now)
                .millis()
                .saturating_sub(now.millis())
                .max(0);
            return Ok(Duration::from_millis(wait as u64));
        }
        if !self.journal.next_batch(now, 1, usize::MAX)?.is_empty() {
            return Ok(Duration::ZERO);
        }
        let scans = self.journal.next_scan()?.map(|_| {
            self.scan_retry_at.map_or(Duration::ZERO, |t| {
                t.saturating_duration_since(Instant::now())
            })
        });

        if scans == Some(Duration::ZERO) {
            return Ok(Duration::ZERO);
        }
        let heartbeat = Duration::from_secs(self.settings.heartbeat_secs);
        let until_heartbeat = match self.last_heartbeat {
            None => Duration::ZERO,
            Some(t) => heartbeat.saturating_sub(t.elapsed()),
        };
        Ok(idle
            .min(until_heartbeat)
            .min(scans.unwrap_or(Duration::MAX)))
    }

    /// Retries one request a few times quickly when the failure is transient.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        with_retries(op, self.settings.call_attempts).await
    }

    /// One round: reconcile if needed, then upload until nothing is due or a
    /// failure. API failures are recorded and scheduled, not returned; only a
    /// journal failure (the disk) is an error.
    pub async fn round(
        &mut self,
        sink: &mut (dyn FnMut(SyncEvent) + Send),
    ) -> Result<RoundReport, JournalError> {
        let started = Timestamp::now();
        let counts = self.journal.counts()?;
        sink(SyncEvent::Started {
            pending: counts.pending,
        });
        let mut sent = 0u64;
        let result = match self.upload_all(&mut sent, sink).await {
            Ok(()) => match self.send_book_news().await {
                // Keyings and closed books a server does not take (an older
                // one) hold up neither records nor scans.
                Err(SyncError::Api(error)) if error.server_reached() => {
                    self.book_news_unplaced = true;
                    warn!(%error, "keyings and closed books not taken; records and scans go on");
                    self.after_records().await
                }
                Ok(()) => self.after_records().await,
                other => other,
            },
            other => other,
        };
        let mut state = self.journal.sync_state()?;
        state.last_attempt_at = Some(started);
        state.batch_size = Some(self.batch_size);
        let now = Timestamp::now();
        let report = match result {
            Ok(()) => {
                state.failures = 0;
                state.next_attempt_at = now;
                state.last_success_at = Some(now);
                state.reachable = Some(true);
                self.journal.save_sync_state(&state)?;
                let counts = self.journal.counts()?;
                if sent > 0 {
                    info!(
                        sent,
                        pending = counts.pending,
                        parked = counts.parked,
                        "sync round done"
                    );
                }
                sink(SyncEvent::Done {
                    sent,
                    pending: counts.pending,
                    parked: counts.parked,
                });
                RoundReport {
                    sent,
                    outcome: RoundOutcome::Drained,
                }
            }
            Err(SyncError::Journal(e)) => return Err(e),
            Err(SyncError::Api(error)) => {
                // A round that moved records before failing shows the link
                // works: the next try comes soon, not after a long backoff.
                state.failures = if sent > 0 {
                    1
                } else {
                    state.failures.saturating_add(1)
                };
                let wait =
                    wait_after_failure(&self.backoff, state.failures, &error, &mut self.jitter);
                state.next_attempt_at = now.plus_ms(wait.as_millis() as i64);
                state.last_error = Some(error.to_string());
                state.last_error_info = Some(error.info());
                state.last_error_at = Some(now);
                state.reachable = Some(error.server_reached());
                self.journal.save_sync_state(&state)?;
                self.needs_reconcile = true;
                let counts = self.journal.counts()?;
                warn!(%error, failures = state.failures, retry_in_s = wait.as_secs_f64(), pending = counts.pending, "sync failed");
                sink(SyncEvent::Failed {
                    error: error.to_string(),
                    pending: counts.pending,
                    next_retry_at: state.next_attempt_at,
                    info: Some(error.info()),
                });
                RoundReport {
                    sent,
                    outcome: RoundOutcome::Failed(error),
                }
            }
        };
        // Also after a failure the server may have answered (403, 5xx): then
        // the dashboard should hear about the error.
        let reachable = match &report.outcome {
            RoundOutcome::Drained => true,
            RoundOutcome::Failed(error) => error.server_reached(),
        };
        self.heartbeat_if_due(reachable).await;
        Ok(report)
    }

    /// Attachments, then scans, once the round's records are through.
    async fn after_records(&mut self) -> Result<(), SyncError> {
        match self.send_attachments().await {
            // A server that answers but takes no attachment (an older
            // one, or a refusal) holds up neither records nor scans.
            Err(SyncError::Api(error)) if error.server_reached() => {
                self.attachments_unplaced = true;
                warn!(%error, "attachments not taken; records and scans go on");
                if self.scans_due() {
                    self.scans_round().await
                } else {
                    Ok(())
                }
            }
            Ok(()) if self.scans_due() => self.scans_round().await,
            other => other,
        }
    }

    /// Sends second keyings, third looks and closed books. The centre judges
    /// keyings when asked, so one may go before its first keying.
    async fn send_book_news(&mut self) -> Result<(), SyncError> {
        loop {
            let waiting = self
                .journal
                .unsent_keyings(hotich_protocol::books::MAX_KEYINGS)?;
            if waiting.is_empty() {
                break;
            }
            let request = hotich_protocol::books::KeyingsRequest {
                keyings: waiting.iter().map(|(_, k)| k.clone()).collect(),
            };
            let response = self.call(|| self.client.keyings(&request)).await?;
            for ((_, k), result) in waiting.iter().zip(&response.results) {
                if let hotich_protocol::books::KeyingResult::Refused { reason } = result {
                    warn!(official = %k.official, %reason, "the server refused a keying");
                }
            }
            // Refused ones are not sent again; they stay in the journal.
            let ids: Vec<i64> = waiting
                .iter()
                .take(response.results.len())
                .map(|(id, _)| *id)
                .collect();
            if ids.is_empty() {
                break;
            }
            self.journal.mark_keyings_sent(&ids)?;
        }
        // One at a time: a declaration the server will never take (it says
        // so with a 4xx) is set aside, and holds up no other.
        for (id, closure) in self.journal.unsent_book_closures()? {
            let request = hotich_protocol::books::BooksRequest {
                books: vec![closure],
            };
            match self.call(|| self.client.close_books(&request)).await {
                Ok(_) => {}
                Err(
                    error @ (ApiError::Refused { .. }
                    | ApiError::Forbidden(_)
                    | ApiError::TooLarge(_)),
                ) => warn!(%error, "the server refused a closed book; not sent again"),
                Err(error) => return Err(error.into()),
            }
            self.journal.mark_book_closures_sent(&[id])?;
        }
        Ok(())
    }

    /// Sends the scans attached to records after they were entered, once
    /// their record is stored centrally. One the server does not know the
    /// record of (not there yet) waits for a later round.
    async fn send_attachments(&mut self) -> Result<(), SyncError> {
        loop {
            let waiting = self
                .journal
                .unsent_attachments(hotich_protocol::wire::MAX_ATTACHMENTS)?;
            if waiting.is_empty() {
                return Ok(());
            }
            let request = hotich_protocol::wire::AttachmentsRequest {
                attachments: waiting
                    .iter()
                    .map(|a| hotich_protocol::wire::Attachment {
                        record: a.record,
                        scan: a.scan.clone(),
                        attached_at: Some(a.attached_at),
                        seq: Some(a.seq),
                    })
                    .collect(),
            };
            let response = self.call(|| self.client.attachments(&request)).await?;
            // Refused ones (not a scan the server takes) are not sent again;
            // they stay in the journal.
            let stored: Vec<i64> = waiting
                .iter()
                .zip(&response.results)
                .filter(|(a, r)| match r {
                    hotich_protocol::wire::AttachmentResult::Stored => true,
                    hotich_protocol::wire::AttachmentResult::Refused => {
                        warn!(sha256 = %a.scan.sha256, "the server refused an attached scan");
                        true
                    }
                    hotich_protocol::wire::AttachmentResult::UnknownRecord => false,
                })
                .map(|(a, _)| a.id)
                .collect();
            self.journal.mark_attachments_sent(&stored)?;
            self.attachments_unplaced = stored.len() < waiting.len();
            if self.attachments_unplaced {
                warn!(
                    unknown = waiting.len() - stored.len(),
                    "the server does not hold the records of some attached scans yet"
                );
                return Ok(());
            }
        }
    }

    /// Whether page scans (or attachments) still wait and may be sent now.
    pub fn scans_left(&self) -> Result<bool, JournalError> {
        Ok((self.scans_due() && self.journal.next_scan()?.is_some())
            || (!self.attachments_unplaced && !self.journal.unsent_attachments(1)?.is_empty()))
    }

    /// Whether scans may be tried now (their backoff has passed).
    fn scans_due(&self) -> bool {
        self.scan_retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// The scans part of a round whose records went through: a failure the
    /// server answered backs off the scans alone, and the round still
    /// counts as a success.
    async fn scans_round(&mut self) -> Result<(), SyncError> {
        match self.upload_scans(SCAN_ROUND_BUDGET).await {
            Ok(()) => {
                self.scan_failures = 0;
                self.scan_retry_at = None;
                Ok(())
            }
            // The link itself failed: the round failed (records would too).
            Err(SyncError::Api(error)) if !error.server_reached() => Err(SyncError::Api(error)),
            // The server answered but takes no scan now (none kept, its disk
            // full, a scan refused): the scans back off, the records go on.
            Err(SyncError::Api(error)) => {
                self.scan_failures = self.scan_failures.saturating_add(1);
                let wait =
                    wait_after_failure(&self.backoff, self.scan_failures, &error, &mut self.jitter);
                self.scan_retry_at = Some(Instant::now() + wait);
                warn!(%error, failures = self.scan_failures, retry_in_s = wait.as_secs_f64(),
                      "scan upload failed; records go on");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Uploads waiting page scans, the oldest record's first, for at most
    /// `budget`. A scan whose file no longer hashes to its name is not sent:
    /// it is marked damaged (`status`, `verify` name it; importing its file
    /// again repairs it).
    async fn upload_scans(&mut self, budget: Duration) -> Result<(), SyncError> {
        let started = Instant::now();
        let Some(dir) = self
            .journal
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
        else {
            return Ok(());
        };
        let blobs = crate::blobs::BlobStore::new(&dir);
        // A damaged scan whose file was imported again is sent after all.
        for (sha, _) in self.journal.damaged_scans()? {
            let repaired = hotich_protocol::ContentHash::from_hex(&sha)
                .ok()
                .and_then(|h| blobs.check(&h).ok())
                == Some(crate::blobs::BlobState::Intact);
            if repaired {
                self.journal.clear_scan_problem(&sha)?;
            }
        }
        while started.elapsed() < budget {
            let Some(scan) = self.journal.next_scan()? else {
                return Ok(());
            };
            let damaged = |problem: String| {
                warn!(sha256 = %scan.sha256, entry = scan.first_seq, %problem, "scan not sent");
                problem
            };
            let hash = match hotich_protocol::ContentHash::from_hex(&scan.sha256) {
                Ok(h) => h,
                Err(e) => {
                    let problem = damaged(format!("not a SHA-256: {e}"));
                    self.journal.mark_scan_damaged(&scan.sha256, &problem)?;
                    continue;
                }
            };
            let problem = match blobs.check(&hash) {
                Ok(crate::blobs::BlobState::Intact) => None,
                Ok(crate::blobs::BlobState::Missing) => Some("missing".to_string()),
                Ok(crate::blobs::BlobState::Altered) => Some("altered".to_string()),
                Err(e) => Some(format!("unreadable: {e}")),
            };
            let sha = scan.sha256.as_str();
            let status = self.call(|| self.client.blob_status(sha)).await?;
            // Not on this PC (a recovered journal) but held centrally: done.
            if status.complete {
                self.journal.mark_scan_stored(sha)?;
                continue;
            }
            if let Some(problem) = problem {
                let problem = damaged(problem);
                self.journal.mark_scan_damaged(sha, &problem)?;
                continue;
            }
            let (mut offset, mut complete) = (status.offset, status.complete);
            let mut stalls = 0u32;
            let path = blobs.path_of(&hash);
            while !complete {
                if started.elapsed() >= budget {
                    return Ok(());
                }
                let chunk = match read_chunk(&path, offset, SCAN_CHUNK) {
                    Ok(c) if !c.is_empty() => c,
                    Ok(_) => {
                        let problem = damaged(format!(
                            "the server holds {offset} bytes, more than the file has"
                        ));
                        self.journal.mark_scan_damaged(sha, &problem)?;
                        break;
                    }
                    Err(e) => {
                        let problem = damaged(format!("unreadable: {e}"));
                        self.journal.mark_scan_damaged(sha, &problem)?;
                        break;
                    }
                };
                // Not retried blindly: after a break the server may have
                // committed the chunk (only the answer was lost), so ask
                // where it stands rather than send the chunk again.
                let answer = match self
                    .client
                    .blob_append(sha, offset, scan.bytes, chunk)
                    .await
                {
                    Ok(answer) => answer,
                    Err(error) if error.is_transient() && stalls < MAX_BREAKS_PER_ROUND => {
                        debug!(%error, offset, "scan chunk broke; asking the server's offset");
                        let now = self.call(|| self.client.blob_status(sha)).await?;
                        // Breaks that move nothing end the round (and back off).
                        stalls = if now.offset > offset { 0 } else { stalls + 1 };
                        now
                    }
                    Err(error) => return Err(error.into()),
                };
                offset = answer.offset;
                complete = answer.complete;
            }
            if complete {
                self.journal.mark_scan_stored(sha)?;
                info!(sha256 = %sha, bytes = scan.bytes, entry = scan.first_seq, "scan stored centrally");
            }
        }
        Ok(())
    }

    async fn upload_all(
        &mut self,
        sent: &mut u64,
        sink: &mut (dyn FnMut(SyncEvent) + Send),
    ) -> Result<(), SyncError> {
        let reconcile_every = Duration::from_secs(self.settings.reconcile_secs);
        if self.needs_reconcile
            || self
                .last_reconcile
                .is_none_or(|t| t.elapsed() >= reconcile_every)
        {
            self.reconcile(sink).await?;
        }
        let start = self.journal.counts()?;
        let mut settled = 0u64;
        let mut breaks = 0u32;
        let mut in_flight: Option<(Vec<QueuedEntry>, InFlight)> = None;
        loop {
            if in_flight.is_none() {
                // Nothing prepared (the start, the end of what was read, or
                // a smaller batch size): read again, from the first pending
                // entry, which also finds entries added meanwhile.
                let batch = self.journal.next_batch(
                    Timestamp::now(),
                    self.batch_size,
                    self.settings.batch_max_bytes,
                )?;
                match self.prepare(batch)? {
                    Some((batch, body)) => in_flight = Some((batch, self.spawn_upload(body))),
                    None => return Ok(()),
                }
            }
            let Some((batch, request)) = in_flight.take() else {
                return Ok(());
            };
            let (first_seq, last_seq) = match (batch.first(), batch.last()) {
                (Some(f), Some(l)) => (f.seq, l.seq),
                _ => return Ok(()),
            };
            // While a batch is in flight the next one is read and
            // compressed, and the answer to the previous one is written to
            // the journal, so the agent's work overlaps the server's.
            let next = self.journal.next_batch_after(
                last_seq,
                Timestamp::now(),
                self.batch_size,
                self.settings.batch_max_bytes,
            )?;
            let next = self.prepare(next)?;
            let (answer, took) = request.answer().await;
            match answer {
                Ok(response) => {
                    if let Some((next, body)) = next {
                        in_flight = Some((next, self.spawn_upload(body)));
                    }
                    self.apply(&batch, response)?;
                    breaks = 0;
                    *sent += batch.len() as u64;
                    settled += batch.len() as u64;
                    self.batch_size = next_batch_size(
                        self.batch_size,
                        batch.len(),
                        took,
                        self.settings.request_timeout(),
                        self.settings.batch_max,
                    );
                    sink(SyncEvent::Progress {
                        sent: *sent,
                        pending: start.pending.saturating_sub(settled),
                        parked: start.parked,
                    });
                }
                Err(ApiError::TooLarge(message)) if batch.len() > 1 => {
                    debug!(%message, size = batch.len(), "batch too large; halving");
                    self.batch_size = (batch.len() / 2).max(1);
                }
                Err(ApiError::TooLarge(message)) => {
                    self.journal.apply_results(&[(
                        first_seq,
                        Resolution::Parked {
                            reason: Refusal::local(
                                "too-large",
                                format!("the record is too large for the server: {message}"),
                            )
                            .to_json(),
                        },
                    )])?;
                }
                // The link delivers, but not this much at once: shrink the
                // batch and go on within the round.
                Err(error) if error.broke_mid_request() && breaks + 1 < MAX_BREAKS_PER_ROUND => {
                    breaks += 1;
                    self.journal.note_failed_send(first_seq, last_seq)?;
                    self.batch_size = (batch.len() / 2).max(1);
                    debug!(%error, breaks, batch = self.batch_size, "request broke; smaller batch");
                    // The break may have come after the server committed (the
                    // answer was lost): ask about this batch before sending
                    // it again, which costs 32 bytes a record, not 130.
                    let held = self.settle_if_held(&batch).await?;
                    settled += held;
                }
                Err(error) => {
                    self.journal.note_failed_send(first_seq, last_seq)?;
                    if error.is_link_failure() {
                        self.batch_size = (batch.len() / 2).max(1);
                    }
                    return Err(SyncError::Api(error));
                }
            }
        }
    }

    fn spawn_upload(&self, body: Vec<u8>) -> InFlight {
        InFlight {
            started: tokio::time::Instant::now(),
            paced: self.client.pacing_for(body.len()),
            task: tokio::spawn(upload(
                self.client.clone(),
                body,
                self.settings.call_attempts,
            )),
        }
    }

    /// Builds the compressed body of a batch. `prev` is sent only where the
    /// server cannot take it from the previous element. An entry damaged in
    /// the journal (its record is not JSON) is parked with the reason and
    /// left out, so the rest of the queue still flows; `verify` names it.
    fn prepare(&mut self, batch: Vec<QueuedEntry>) -> Result<Option<Prepared>, SyncError> {
        let mut entries = Vec::with_capacity(batch.len());
        let mut kept = Vec::with_capacity(batch.len());
        let mut damaged = Vec::new();
        let mut previous_seq: Option<u64> = None;
        for mut entry in batch {
            if self.old_normal_form && written_before_normal_form_2(&entry.nat_key) {
                // The server would compute another hash for it and refuse it
                // as altered: say plainly what it is instead.
                damaged.push((
                    entry.seq,
                    Resolution::Parked {
                        reason: Refusal::local(
                            "old-normal-form",
                            "this record was written by a test version of the agent before book \
                             numbers lost their leading zeros; import its source file again into a new \
                             data directory"
                                .into(),
                        )
                        .to_json(),
                    },
                ));
                continue;
            }
            // The text moves into the body; what stays for the answer is
            // the entry's seq and hash (a batch's records are not held twice).
            let record = match RawValue::from_string(std::mem::take(&mut entry.record)) {
                Ok(r) => r,
                Err(e) => {
                    warn!(seq = entry.seq, error = %e, "journal entry is damaged; parked");
                    damaged.push((
                        entry.seq,
                        Resolution::Parked {
                            reason: Refusal::local(
                                "damaged",
                                format!(
                                    "this entry is damaged in the journal (its record is not JSON: {e}); \
                                     run `hotich-agent verify` and tell the IT staff"
                                ),
                            )
                            .to_json(),
                        },
                    ));
                    continue;
                }
            };
            let prev = if previous_seq == Some(entry.seq - 1) {
                None
            } else {
                Some(self.prev_chain(entry.seq)?)
            };
            entries.push(UploadEntry {
                seq: entry.seq,
                hash: entry.hash,
                prev,
                entered_at: Some(entry.entered_at),
                record,
                official: entry.official.clone(),
                correction_reason: entry.correction_reason.clone(),
            });
            previous_seq = Some(entry.seq);
            kept.push(entry);
        }
        if !damaged.is_empty() {
            self.journal.apply_results(&damaged)?;
        }
        if kept.is_empty() {
            return Ok(None);
        }
        let body = encode_upload(&UploadRequest { entries })?;
        Ok(Some((kept, body)))
    }

    fn prev_chain(&self, seq: u64) -> Result<ChainHash, SyncError> {
        self.journal.chain_at(seq - 1)?.ok_or_else(|| {
            SyncError::Journal(JournalError::Corrupt {
                path: self.journal.path().to_path_buf(),
                seq: seq - 1,
                detail: "entry is missing".into(),
            })
        })
    }

    fn apply(&mut self, batch: &[QueuedEntry], response: UploadResponse) -> Result<(), SyncError> {
        let sent: HashSet<u64> = batch.iter().map(|e| e.seq).collect();
        let mut resolutions = Vec::with_capacity(response.results.len());
        for r in response.results {
            if !sent.contains(&r.seq) {
                warn!(
                    seq = r.seq,
                    "server answered for an entry that was not sent; ignored"
                );
                continue;
            }
            let resolution = match r.status {
                EntryStatus::Stored => Resolution::Held { note: None },
                EntryStatus::Duplicate => Resolution::Held {
                    note: Some("the server already held this record".into()),
                },
                EntryStatus::Rejected => Resolution::Parked {
                    reason: Refusal {
                        kind: "rejected".into(),
                        text: r
                            .reason
                            .unwrap_or_else(|| "refused by the server (no reason given)".into()),
                        errors: r.errors,
                        existing: None,
                    }
                    .to_json(),
                },
                EntryStatus::Conflict => Resolution::Parked {
                    reason: Refusal {
                        kind: "conflict".into(),
                        text: match r.existing {
                            Some(existing) => format!(
                                "conflict: the central database holds a different version of this book entry \
                                 ({existing}). If this record corrects it, import the corrected record with \
                                 \"supersedes\": \"{existing}\"; if it is another entry, from the book of a \
                                 former commune, import it again with that commune's code (column Mã xã cũ, or \
                                 --former-commune CODE){}",
                                r.reason.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
                            ),
                            None => r
                                .reason
                                .clone()
                                .unwrap_or_else(|| "conflict with a record the server holds".into()),
                        },
                        errors: Vec::new(),
                        existing: r.existing.map(|h| h.to_hex()),
                    }
                    .to_json(),
                },
                EntryStatus::Unknown => Resolution::RetryAt {
                    at: Timestamp::now().plus_ms(UNKNOWN_STATUS_RECHECK.as_millis() as i64),
                    reason:
                        "the server answered with a status this agent does not know; will ask again"
                            .into(),
                },
            };
            resolutions.push((r.seq, resolution));
        }
        let answered = resolutions
            .iter()
            .map(|(seq, _)| *seq)
            .collect::<HashSet<_>>()
            .len();
        self.journal
            .apply_answer(&resolutions, response.receipt.as_ref())?;
        if answered < batch.len() {
            // Unanswered entries stay pending; the round stops and retries.
            return Err(SyncError::Api(ApiError::BadAnswer(format!(
                "the server answered for {answered} of {} records",
                batch.len()
            ))));
        }
        Ok(())
    }

    /// Marks the entries of `batch` the server holds (with this agent's link)
    /// as sent; returns how many. A failure to ask is not an error here: the
    /// entries simply stay pending.
    async fn settle_if_held(&mut self, batch: &[QueuedEntry]) -> Result<u64, SyncError> {
        let request = HaveRequest {
            hashes: batch.iter().map(|e| e.hash).collect(),
            seqs: batch.iter().map(|e| e.seq).collect(),
        };
        let client = self.client.clone();
        let answer = match self.call(|| client.have(&request)).await {
            Ok(a) => a,
            Err(error) => {
                debug!(%error, "could not ask what the server holds");
                return Ok(0);
            }
        };
        let lacking: HashSet<_> = answer.lacking.into_iter().collect();
        let unlinked: HashSet<_> = answer.unlinked.into_iter().collect();
        let held: Vec<(u64, Resolution)> = batch
            .iter()
            .filter(|e| !lacking.contains(&e.hash) && !unlinked.contains(&e.seq))
            .map(|e| {
                (
                    e.seq,
                    Resolution::Held {
                        note: Some(
                            "the server already held this record (its answer was lost)".into(),
                        ),
                    },
                )
            })
            .collect();
        self.journal.apply_results(&held)?;
        Ok(held.len() as u64)
    }

    /// The have/lack exchange: entries the server already holds (the answer
    /// was lost) become acked without re-sending; acked entries the server
    /// lacks (it was restored from an old backup) are queued again.
    async fn reconcile(
        &mut self,
        sink: &mut (dyn FnMut(SyncEvent) + Send),
    ) -> Result<(), SyncError> {
        let client = self.client.clone();
        let chain = self.call(|| client.chain()).await?;
        let contiguous = chain.contiguous_seq;
        let mut state = self.journal.sync_state()?;
        state.server_contiguous = Some(contiguous);
        state.server_alerts = Some(chain.alerts);
        let (local_head, _) = self.journal.head()?;
        let diverged = if contiguous > local_head {
            Some(ApiError::JournalBehind {
                server: contiguous,
                local: local_head,
            })
        } else if contiguous > 0 && self.journal.chain_at(contiguous)? != chain.head {
            Some(ApiError::JournalDiffers { at: contiguous })
        } else {
            None
        };
        state.divergence = diverged.as_ref().map(ToString::to_string);
        self.journal.save_sync_state(&state)?;
        if let Some(error) = diverged {
            // Sending on would put new records under numbers the server
            // already holds from the lost journal: stop until someone looks.
            warn!(%error, "journal and server disagree; uploading stopped");
            return Err(SyncError::Api(error));
        }

        let (mut already_held, mut to_resend) = (0u64, 0u64);
        let mut after = 0u64;
        loop {
            let page = self
                .journal
                .entries_to_reconcile(contiguous, after, RECONCILE_PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.0;
            let request = HaveRequest {
                hashes: page.iter().map(|(_, h, _)| *h).collect(),
                seqs: page.iter().map(|(seq, _, _)| *seq).collect(),
            };
            let response = self.call(|| client.have(&request)).await?;
            let lacking: HashSet<_> = response.lacking.into_iter().collect();
            let unlinked: HashSet<_> = response.unlinked.into_iter().collect();
            let mut resolutions = Vec::new();
            for (seq, hash, state) in page {
                let held = !lacking.contains(&hash);
                let linked = !unlinked.contains(&seq);
                match state {
                    EntryState::Pending if held && linked => {
                        already_held += 1;
                        resolutions.push((
                            seq,
                            Resolution::Held {
                                note: Some(
                                    "the server already held this record (its answer was lost)"
                                        .into(),
                                ),
                            },
                        ));
                    }
                    // Lost by the server (restored from an old backup), or held
                    // without this agent's link (the agent was registered again):
                    // sending it again makes the server's copy of the chain whole.
                    EntryState::Acked if !held || !linked => {
                        to_resend += 1;
                        resolutions.push((seq, Resolution::Resend));
                    }
                    _ => {}
                }
            }
            self.journal.apply_results(&resolutions)?;
        }
        if already_held > 0 || to_resend > 0 {
            info!(
                already_held,
                to_resend, contiguous, "reconciled with the server"
            );
        }
        sink(SyncEvent::Reconciled {
            already_held,
            to_resend,
        });
        let mut state = self.journal.sync_state()?;
        state.last_reconcile_at = Some(Timestamp::now());
        self.journal.save_sync_state(&state)?;
        self.needs_reconcile = false;
        self.last_reconcile = Some(Instant::now());
        Ok(())
    }

    /// The agent's view, for the district dashboard.
    pub fn heartbeat(&self) -> Result<Heartbeat, JournalError> {
        let counts = self.journal.counts()?;
        let state: SyncState = self.journal.sync_state()?;
        let (journal_seq, _) = self.journal.head()?;
        Ok(Heartbeat {
            sent_at: Timestamp::now(),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            journal_seq,
            pending: counts.pending,
            acked: counts.acked,
            parked: counts.parked,
            oldest_pending_at: self.journal.oldest_pending_at()?,
            last_success_at: state.last_success_at,
            last_error: state.last_error,
            last_error_at: state.last_error_at,
            next_retry_at: (state.failures > 0).then_some(state.next_attempt_at),
            last_error_kind: state.last_error_info.map(|i| i.kind),
            warnings: crate::logbook::recent(),
            free_disk_bytes: crate::config::free_disk_bytes(self.journal.path()),
            journal_bytes: Some(self.journal.size_on_disk()),
            device: self.journal.journal_id().ok(),
            dismissed: self.journal.unreported_dismissals()?,
        })
    }

    /// Sends a heartbeat when one is due; failures only cost a log line.
    pub async fn heartbeat_if_due(&mut self, reachable: bool) {
        let every = Duration::from_secs(self.settings.heartbeat_secs);
        if !reachable || self.last_heartbeat.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        // A disk about to fill is said before an import fails on it: the
        // warning reaches the dashboard with this heartbeat.
        if let Some(free) = crate::config::free_disk_bytes(self.journal.path())
            && free < LOW_DISK_BYTES
            && self
                .last_low_disk_warning
                .is_none_or(|t| t.elapsed() >= LOW_DISK_WARN_EVERY)
        {
            self.last_low_disk_warning = Some(Instant::now());
            warn!(
                free_mb = free / 1_000_000,
                path = %self.journal.path().display(),
                "the disk holding the journal is almost full: new records cannot be saved once it is"
            );
        }
        let beat = match self.heartbeat() {
            Ok(b) => b,
            Err(error) => {
                warn!(%error, "cannot read the journal for a heartbeat");
                return;
            }
        };
        // Counted as sent even if it fails: the next one is due a period later
        // either way, which keeps a failing heartbeat from waking the service.
        self.last_heartbeat = Some(Instant::now());
        match self.client.heartbeat(&beat).await {
            Ok(_) if !beat.dismissed.is_empty() => {
                let seqs: Vec<u64> = beat.dismissed.iter().map(|d| d.seq).collect();
                if let Err(error) = self.journal.dismissals_reported(&seqs) {
                    // Reported again next time: the server's history says it twice.
                    warn!(%error, "cannot note the dismissals as reported");
                }
            }
            Ok(_) => {}
            Err(error) => debug!(%error, "heartbeat not delivered"),
        }
    }
}

/// An upload running on its own task. If the round ends early (an error, a
/// stop) the upload is cancelled rather than left running unobserved: at
/// most one request is in flight, and its entries simply stay pending.
struct InFlight {
    task: tokio::task::JoinHandle<Result<UploadResponse, ApiError>>,
    started: tokio::time::Instant,
    /// The time the upload limit adds to this request on purpose.
    paced: Duration,
}

impl InFlight {
    /// The answer, and how long the request took beyond the upload limit's
    /// pacing: what the link and the server took, which is what the batch
    /// size must fit in the request timeout (the client lengthens the
    /// timeout by the pacing). Counting the pacing would shrink batches on
    /// an office-hours limit the link has plenty of room under.
    async fn answer(mut self) -> (Result<UploadResponse, ApiError>, Duration) {
        let answer = (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(ApiError::Internal(format!("upload task failed: {e}"))));
        (answer, self.started.elapsed().saturating_sub(self.paced))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The next batch size after a batch of `sent` entries (the size asked
/// being `size`) was answered in `took`. Batches grow while a request takes
/// under a quarter of the request timeout and shrink once one takes over
/// half of it: on a fast link they reach `max` (fewer pages and fsyncs per
/// record on the server), on a slow one they stay small enough to finish
/// well inside the timeout rather than time out and be sent again.
fn next_batch_size(
    size: usize,
    sent: usize,
    took: Duration,
    timeout: Duration,
    max: usize,
) -> usize {
    if took > timeout / 2 {
        (sent / 2).max(1)
    } else if sent >= size && took < timeout / 4 {
        (size * 2).min(max)
    } else {
        size
    }
}

/// One upload, with quick retries for a busy server; a request that broke
/// mid-way is not sent again at the same size (the round shrinks it).
async fn upload(
    client: ApiClient,
    body: Vec<u8>,
    attempts: usize,
) -> Result<UploadResponse, ApiError> {
    with_retries_if(
        || client.upload(body.clone()),
        attempts,
        |e| e.is_transient() && !e.broke_mid_request(),
    )
    .await
}

/// Bytes `offset..offset + max` of a scan file (fewer at its end).
fn read_chunk(path: &std::path::Path, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut chunk = Vec::with_capacity(max);
    file.take(max as u64).read_to_end(&mut chunk)?;
    Ok(chunk)
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[cfg(test)]
mod tests {
    use super::{InFlight, next_batch_size};
    use crate::client::ApiError;
    use std::time::Duration;

    const TIMEOUT: Duration = Duration::from_secs(60);

    #[test]
    fn batches_grow_on_a_fast_link_up_to_the_cap() {
        let mut size = 250;
        for _ in 0..10 {
            size = next_batch_size(size, size, Duration::from_secs(2), TIMEOUT, 6000);
        }
        assert_eq!(size, 6000);
    }

    #[test]
    fn batches_stay_small_on_a_slow_link_instead_of_timing_out() {
        // 2,000 records took 20 s (between a quarter and half the timeout):
        // no growth; 40 s: halved before the next one times out.
        assert_eq!(
            next_batch_size(2000, 2000, Duration::from_secs(20), TIMEOUT, 6000),
            2000
        );
        assert_eq!(
            next_batch_size(2000, 2000, Duration::from_secs(40), TIMEOUT, 6000),
            1000
        );
        // A short batch (the end of the queue) does not grow the size.
        assert_eq!(
            next_batch_size(2000, 10, Duration::from_millis(5), TIMEOUT, 6000),
            2000
        );
        assert_eq!(
            next_batch_size(1, 1, Duration::from_secs(59), TIMEOUT, 6000),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_limits_pacing_does_not_count_as_a_slow_link() {
        // Under an office-hours limit a 6,000-record body is held back 50 s
        // on purpose (the client lengthens its timeout by that); the link
        // and the server took 1 s of the request. That is a fast request.
        let in_flight = InFlight {
            task: tokio::spawn(async {
                tokio::time::sleep(Duration::from_secs(51)).await;
                Err(ApiError::Internal("answer".into()))
            }),
            started: tokio::time::Instant::now(),
            paced: Duration::from_secs(50),
        };
        let (_, took) = in_flight.answer().await;
        assert_eq!(took, Duration::from_secs(1));
        assert_eq!(next_batch_size(3000, 3000, took, TIMEOUT, 6000), 6000);
    }
}
