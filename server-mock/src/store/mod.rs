//! Storage: one interface ([`Storage`]), two backends (SQLite, PostgreSQL).
//!
//! The decisions about a batch (stored, duplicate, conflict; chain alerts)
//! are made once, in [`plan_batch`], over a [`Snapshot`] of what the store
//! holds for the keys the batch touches. Each backend only fetches the
//! snapshot and writes the plan, inside one transaction that also serializes
//! batches of the same commune, so two copies of a batch arriving at once
//! cannot both store a record. Unique constraints (record hash, natural-key
//! head, agent+seq link) back that up: a violation fails the batch (the
//! agent retries) rather than storing twice.

pub mod books;
pub mod monitor;
pub mod postgres;
mod postgres_monitor;
pub mod scans;
pub mod sqlite;
mod sqlite_monitor;

use std::collections::{HashMap, HashSet};
use std::future::Future;

use crate::wording::{counts, english};
use hotich_protocol::validate::summarize;
use hotich_protocol::wire::{ChainState, EntryResult, EntryStatus, Heartbeat};
use hotich_protocol::{ChainHash, ContentHash, FieldError, GENESIS, PreparedRecord, Timestamp};
use serde::Serialize;

/// A registered agent (one commune PC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentInfo {
    pub id: i64,
    pub commune: String,
    pub name: Option<String>,
    pub province: Option<String>,
    pub area: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_seen_at: Option<Timestamp>,
    pub contiguous_seq: u64,
    pub highest_seq: u64,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub commune: String,
    pub name: Option<String>,
    pub province: Option<String>,
    pub area: Option<String>,
    pub token_hash: [u8; 32],
}

/// An uploaded entry after the server's own checks.
#[derive(Debug, Clone)]
pub struct CheckedEntry {
    pub seq: u64,
    /// The content hash the agent's chain is built on.
    pub claimed_hash: ContentHash,
    pub prev: ChainHash,
    pub chain: ChainHash,
    pub entered_at: Option<Timestamp>,
    pub verdict: Verdict,
    /// The record as sent, kept for a refused one (see [`NewLink::record`]).
    pub raw: Option<String>,
    pub envelope: Envelope,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Valid(PreparedRecord),
    /// Refused, with each problem (codes and values for the agent to word).
    Invalid(Vec<FieldError>),
}

/// What the store holds for the keys one batch touches.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Chain hashes of this agent's links for the batch's seqs and their predecessors.
    pub links: HashMap<u64, ChainHash>,
    /// Which of the batch's content hashes are stored.
    pub stored: HashSet<ContentHash>,
    /// Current head hash per natural key (storage form) the batch touches.
    pub heads: HashMap<String, ContentHash>,
}

impl Snapshot {
    /// The keys to fetch for a batch: (lowest and highest seq whose link
    /// matters, natural keys).
    pub fn keys(entries: &[CheckedEntry]) -> (u64, u64, Vec<String>) {
        let low = entries
            .iter()
            .map(|e| e.seq.saturating_sub(1).max(1))
            .min()
            .unwrap_or(1);
        let high = entries.iter().map(|e| e.seq).max().unwrap_or(0);
        let mut keys: Vec<String> = entries
            .iter()
            .filter_map(|e| match &e.verdict {
                Verdict::Valid(r) => Some(r.storage_key.clone()),
                Verdict::Invalid(_) => None,
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        (low, high, keys)
    }

    /// The (natural key, content hash) pairs worth looking up once heads are
    /// known: identical content has an identical natural key, so a record
    /// whose key has no head cannot be stored already. Records are indexed
    /// by the pair, key first: a commune's new records then land at the end
    /// of the index (keys grow as books are entered), where a content hash
    /// alone would put each on a random page of it.
    pub fn hashes_to_check(&self, entries: &[CheckedEntry]) -> Vec<(String, ContentHash)> {
        let mut out: Vec<(String, ContentHash)> = entries
            .iter()
            .filter_map(|e| match &e.verdict {
                Verdict::Valid(r) if self.heads.contains_key(&r.storage_key) => {
                    Some((r.storage_key.clone(), r.hash))
                }
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub seq: u64,
    pub content_hash: ContentHash,
    pub chain: ChainHash,
    /// The content of an entry not stored as a record (refused): part of
    /// the agent's chain all the same, so `recover` can rebuild it whole.
    pub record: Option<String>,
    /// Its content is stored (by this entry or before): the link names that
    /// record, so the agent's journal and what it holds are read from the
    /// link without looking the content hash up.
    pub held: bool,
}

/// One of an agent's links, as the have/lack exchange reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLink {
    pub content_hash: ContentHash,
    /// Its content is stored as a record (not refused).
    pub held: bool,
}

/// One entry of an agent's journal as the server holds it, for `recover`.
#[derive(Debug, Clone)]
pub struct JournalRow {
    pub seq: u64,
    pub content_hash: ContentHash,
    pub chain: ChainHash,
    /// Stored as a record (or held from another agent), or refused.
    pub stored: bool,
    pub record: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub seq: Option<u64>,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct NewRecord {
    pub seq: u64,
    pub entered_at: Option<Timestamp>,
    pub record: PreparedRecord,
    pub envelope: Envelope,
}

/// What an entry carries besides its record: who entered it and, for a
/// correction, why. Not part of the record's hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub official: Option<String>,
    pub correction_reason: Option<String>,
}

/// Everything one batch writes, and the answer to send.
#[derive(Debug, Default)]
pub struct Plan {
    pub results: Vec<EntryResult>,
    pub links: Vec<NewLink>,
    pub records: Vec<NewRecord>,
    /// Natural key (storage form) -> new head hash.
    pub heads: Vec<(String, ContentHash)>,
    pub alerts: Vec<Alert>,
    pub highest_seq: u64,
    /// Links already held for entries whose content is stored now (sent
    /// again): (seq, content hash), to name their record if they do not yet.
    pub relinks: Vec<(u64, ContentHash)>,
}

/// Decides each entry's fate. Entries are taken in order, each seeing the
/// effects of the ones before it (a batch may hold a record and its correction).
pub fn plan_batch(entries: Vec<CheckedEntry>, mut snap: Snapshot) -> Plan {
    let mut plan = Plan::default();
    for e in entries {
        let mut new_link = None;
        let mut same_link = false;
        plan.highest_seq = plan.highest_seq.max(e.seq);
        // The chain: record the link once, never overwrite it, and say when
        // it does not fit what came before.
        match snap.links.get(&e.seq) {
            Some(existing) if *existing == e.chain => same_link = true,
            Some(_) => plan.alerts.push(Alert {
                seq: Some(e.seq),
                kind: "rewrite".into(),
                detail: english("alert-rewrite", &[("seq", &e.seq)]),
            }),
            None => {
                if e.seq == 1 {
                    if e.prev != GENESIS {
                        plan.alerts.push(Alert {
                            seq: Some(1),
                            kind: "fork".into(),
                            detail: english("alert-fork-first", &[]),
                        });
                    }
                } else {
                    match snap.links.get(&(e.seq - 1)) {
                        Some(p) if *p != e.prev => plan.alerts.push(Alert {
                            seq: Some(e.seq),
                            kind: "fork".into(),
                            detail: english(
                                "alert-fork",
                                &[("seq", &e.seq), ("prev", &(e.seq - 1))],
                            ),
                        }),
                        Some(_) => {}
                        None => plan.alerts.push(Alert {
                            seq: Some(e.seq),
                            kind: "gap".into(),
                            detail: english(
                                "alert-gap",
                                &[("seq", &e.seq), ("prev", &(e.seq - 1))],
                            ),
                        }),
                    }
                }
                snap.links.insert(e.seq, e.chain);
                new_link = Some(plan.links.len());
                plan.links.push(NewLink {
                    seq: e.seq,
                    content_hash: e.claimed_hash,
                    chain: e.chain,
                    record: None,
                    held: false,
                });
            }
        }
        let refused_content = match &e.verdict {
            Verdict::Invalid(_) => e.raw.clone(),
            Verdict::Valid(r) => Some(r.canonical.clone()),
        };
        let result = match e.verdict {
            Verdict::Invalid(errors) => EntryResult {
                reason: Some(summarize(&errors)),
                errors,
                ..EntryResult::new(e.seq, EntryStatus::Rejected)
            },
            Verdict::Valid(record) => {
                let key = record.storage_key.clone();
                if snap.stored.contains(&record.hash) {
                    EntryResult::new(e.seq, EntryStatus::Duplicate)
                } else if let Some(head) = snap
                    .heads
                    .get(&key)
                    .filter(|h| record.supersedes != Some(**h))
                {
                    EntryResult {
                        existing: Some(*head),
                        reason: Some(match record.supersedes {
                            Some(other) => format!(
                                "it corrects {other}, but the current version of {} is {head}",
                                record.key
                            ),
                            None => format!("{} already holds different content", record.key),
                        }),
                        ..EntryResult::new(e.seq, EntryStatus::Conflict)
                    }
                } else {
                    snap.stored.insert(record.hash);
                    snap.heads.insert(key.clone(), record.hash);
                    plan.heads.push((key, record.hash));
                    plan.records.push(NewRecord {
                        seq: e.seq,
                        entered_at: e.entered_at,
                        record,
                        envelope: e.envelope.clone(),
                    });
                    EntryResult::new(e.seq, EntryStatus::Stored)
                }
            }
        };
        let held = matches!(result.status, EntryStatus::Stored | EntryStatus::Duplicate);
        match new_link {
            Some(i) if held => plan.links[i].held = true,
            Some(i) => plan.links[i].record = refused_content,
            None if held && same_link => plan.relinks.push((e.seq, e.claimed_hash)),
            None => {}
        }
        plan.results.push(result);
    }
    // A key corrected twice in one batch needs only its last head.
    let mut last: HashMap<String, ContentHash> = HashMap::new();
    for (k, h) in plan.heads.drain(..) {
        last.insert(k, h);
    }
    plan.heads = last.into_iter().collect();
    plan
}

/// Alert rows one batch may write; the rest are summed up in one more row,
/// so a hostile or broken agent cannot flood the table (and the dashboard).
/// The backends apply it to a whole batch, after its last chunk.
pub const MAX_ALERTS_PER_BATCH: usize = 10;

pub(crate) fn cap_alerts(alerts: &mut Vec<Alert>) {
    if alerts.len() <= MAX_ALERTS_PER_BATCH {
        return;
    }
    let rest = alerts.split_off(MAX_ALERTS_PER_BATCH);
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for a in &rest {
        match kinds.iter_mut().find(|(k, _)| *k == a.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((a.kind.clone(), 1)),
        }
    }
    let seqs = rest.iter().filter_map(|a| a.seq);
    let n = rest.len();
    let counts = counts(&kinds);
    let detail = match (seqs.clone().min(), seqs.max()) {
        (Some(low), Some(high)) => english(
            "alert-more-range",
            &[
                ("n", &n),
                ("counts", &counts),
                ("low", &low),
                ("high", &high),
            ],
        ),
        _ => english("alert-more", &[("n", &n), ("counts", &counts)]),
    };
    alerts.push(Alert {
        seq: rest.first().and_then(|a| a.seq),
        kind: "more".into(),
        detail,
    });
}

/// One stored record as `export` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportRow {
    #[serde(skip)]
    pub id: i64,
    pub content_hash: ContentHash,
    pub commune_code: String,
    pub agent_id: i64,
    pub agent: Option<String>,
    pub seq: u64,
    pub received_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_at: Option<Timestamp>,
    pub record: Box<serde_json::value::RawValue>,
    /// Who entered it (from the office's list of officials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub official: Option<String>,
    /// Why, for a correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_reason: Option<String>,
    /// All the record's page scans, whichever way they came (named by the
    /// record or attached later), and whether the server holds each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scans: Vec<scans::RecordScanInfo>,
}

/// Creates (or truncates) a file only its owner can read and write: the
/// database and exports hold citizens' names and ID numbers.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates a new empty file only its owner can read, failing if it exists
/// (so two processes starting at once never truncate each other's database).
pub fn create_new_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the database holds damaged data: {0}")]
    Corrupt(String),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Io(String),
    #[error(
        "the database was set up by a newer hotich-server (schema {found}, this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    /// The request clashes with what is stored (a viewer name taken).
    #[error("{0}")]
    Conflict(String),
}

/// Text an agent sent, cut to what a dashboard line shows.
pub(crate) fn cap_text(text: &str) -> String {
    const MAX: usize = hotich_protocol::wire::HEARTBEAT_WARNING_CHARS;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// What checking hands the store, in order: chunks of checked entries, then
/// `Done` once the whole batch was checked; or a refusal of the batch.
#[derive(Debug)]
pub enum Checked<E> {
    Chunk(Vec<CheckedEntry>),
    Refused(E),
    Done,
}

/// The stream of a batch as it comes out of checking.
pub type Chunks<E> = tokio::sync::mpsc::Receiver<Checked<E>>;

/// Why a batch was not committed.
#[derive(Debug)]
pub enum BatchError<E> {
    /// Checking refused it (nothing was stored).
    Refused(E),
    /// Checking stopped before `Done` (it failed or was cancelled): a batch
    /// commits whole or not at all, so nothing was stored.
    Incomplete,
    Store(StoreError),
}

impl<E> From<StoreError> for BatchError<E> {
    fn from(e: StoreError) -> Self {
        BatchError::Store(e)
    }
}

impl<E> From<rusqlite::Error> for BatchError<E> {
    fn from(e: rusqlite::Error) -> Self {
        BatchError::Store(e.into())
    }
}

impl<E> From<tokio_postgres::Error> for BatchError<E> {
    fn from(e: tokio_postgres::Error) -> Self {
        BatchError::Store(e.into())
    }
}

/// What the server needs from a database. Implemented by
/// [`sqlite::SqliteStore`] and [`postgres::PgStore`]; the same test suite runs
/// against both.
pub trait Storage:
    monitor::MonitorStore + scans::ScanStore + books::BookStore + Send + Sync + 'static
{
    fn add_agent(
        &self,
        agent: NewAgent,
    ) -> impl Future<Output = Result<AgentInfo, StoreError>> + Send;
    fn list_agents(&self) -> impl Future<Output = Result<Vec<AgentInfo>, StoreError>> + Send;
    /// Returns false when no such agent exists.
    fn revoke_agent(&self, id: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The active (not revoked) agent holding this token hash.
    fn agent_by_token(
        &self,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<Option<AgentInfo>, StoreError>> + Send;
    /// Applies one batch durably and returns a result per entry. The batch
    /// arrives in chunks as they are checked, so checking the next chunk
    /// overlaps writing this one; everything commits in one transaction, and
    /// a refused chunk (`Err`) rolls the whole batch back.
    fn commit_chunks<E: Send + 'static>(
        &self,
        agent_id: i64,
        commune: &str,
        chunks: Chunks<E>,
    ) -> impl Future<Output = Result<Vec<EntryResult>, BatchError<E>>> + Send;

    /// [`Storage::commit_chunks`] for a batch already checked as a whole.
    fn commit_batch(
        &self,
        agent_id: i64,
        commune: &str,
        entries: Vec<CheckedEntry>,
    ) -> impl Future<Output = Result<Vec<EntryResult>, StoreError>> + Send {
        let (tx, rx) = tokio::sync::mpsc::channel::<Checked<std::convert::Infallible>>(2);
        let sent =
            tx.try_send(Checked::Chunk(entries)).is_ok() && tx.try_send(Checked::Done).is_ok();
        drop(tx);
        async move {
            if !sent {
                return Err(StoreError::Task("could not queue the batch".into()));
            }
            match self.commit_chunks(agent_id, commune, rx).await {
                Ok(results) => Ok(results),
                Err(BatchError::Store(e)) => Err(e),
                Err(BatchError::Incomplete) => {
                    Err(StoreError::Task("the batch was cut short".into()))
                }
                Err(BatchError::Refused(never)) => match never {},
            }
        }
    }

    /// Stores a recovery code (its hash) for an agent, valid until `expires_at`.
    fn add_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether `code_hash` is an unused, unexpired recovery code of this agent.
    fn recovery_code_valid(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// A recovery is complete: its code cannot be used again.
    fn use_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// This agent's journal entries from `from_seq`, at most `limit`, in order.
    fn journal_page(
        &self,
        agent_id: i64,
        from_seq: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JournalRow>, StoreError>> + Send;
    /// This agent's links with seq in `low..=high`: what the have/lack
    /// exchange answers from. Only an agent's own links are read, so one
    /// commune never learns what another holds.
    fn links_between(
        &self,
        agent_id: i64,
        low: u64,
        high: u64,
    ) -> impl Future<Output = Result<HashMap<u64, HeldLink>, StoreError>> + Send;
    /// The chain hash of this agent's link at `seq`, if the server holds it
    /// (from the links alone: the record is not read).
    fn chain_at(
        &self,
        agent_id: i64,
        seq: u64,
    ) -> impl Future<Output = Result<Option<ChainHash>, StoreError>> + Send;
    fn chain_state(
        &self,
        agent_id: i64,
    ) -> impl Future<Output = Result<ChainState, StoreError>> + Send;
    fn record_heartbeat(
        &self,
        agent_id: i64,
        beat: &Heartbeat,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.record_heartbeats(vec![monitor::BeatIn {
            agent_id,
            beat: beat.clone(),
            at,
        }])
    }
    /// Stored records in the order received, `limit` after row `after_id`.
    fn export_page(
        &self,
        commune: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ExportRow>, StoreError>> + Send;
    fn alerts(&self, agent_id: i64) -> impl Future<Output = Result<Vec<Alert>, StoreError>> + Send;
    /// The secret stored under `name`, storing `fresh` first if there is
    /// none: every replica on the database ends up with the same one.
    fn server_secret(
        &self,
        name: &str,
        fresh: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}

/// Where the contiguous prefix of an agent's links now ends, given the links
/// above the old end in ascending order.
pub fn advance_contiguous(mut contiguous: u64, seqs_above: impl IntoIterator<Item = u64>) -> u64 {
    for seq in seqs_above {
        if seq == contiguous + 1 {
            contiguous = seq;
        } else if seq > contiguous + 1 {
            break;
        }
    }
    contiguous
}

/// A content hash read back from a BLOB/BYTEA column.
pub(crate) fn hash_of(blob: &[u8]) -> Result<ContentHash, StoreError> {
    ContentHash::from_slice(blob)
        .ok_or_else(|| StoreError::Corrupt("a content hash is not 32 bytes".into()))
}

/// A chain hash read back from a BLOB/BYTEA column.
pub(crate) fn chain_of(blob: &[u8]) -> Result<ChainHash, StoreError> {
    ChainHash::from_slice(blob)
        .ok_or_else(|| StoreError::Corrupt("a chain hash is not 32 bytes".into()))
}

/// Rows fetched per page when walking links to advance the contiguous prefix.
pub const CONTIGUOUS_PAGE: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use hotich_protocol::{CivilDate, chain_hash, prepare_record};
    use hotich_tests::records::minimal_birth;
    use serde_json::json;

    fn record(entry: u32, name: &str, supersedes: Option<ContentHash>) -> PreparedRecord {
        let mut v = minimal_birth("00004", entry, name);
        if let Some(s) = supersedes {
            v["supersedes"] = json!(s.to_hex());
        }
        prepare_record(v, CivilDate::parse("2026-01-01").unwrap()).unwrap()
    }

    fn chained(records: &[PreparedRecord]) -> Vec<CheckedEntry> {
        let mut prev = GENESIS;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let seq = i as u64 + 1;
                let chain = chain_hash(&prev, seq, &r.hash);
                let e = CheckedEntry {
                    seq,
                    claimed_hash: r.hash,
                    prev,
                    chain,
                    entered_at: None,
                    verdict: Verdict::Valid(r.clone()),
                    raw: None,
                    envelope: Default::default(),
                };
                prev = chain;
                e
            })
            .collect()
    }

    fn statuses(p: &Plan) -> Vec<EntryStatus> {
        p.results.iter().map(|r| r.status).collect()
    }

    #[test]
    fn a_batch_with_a_record_its_copy_and_its_correction() {
        let a = record(1, "An", None);
        let b = record(1, "Ân", Some(a.hash));
        let c = record(1, "Anh", None);
        let entries = chained(&[a.clone(), b.clone(), c.clone()]);
        let plan = plan_batch(entries, Snapshot::default());
        assert_eq!(
            statuses(&plan),
            vec![
                EntryStatus::Stored,
                EntryStatus::Stored,
                EntryStatus::Conflict
            ]
        );
        assert_eq!(plan.results[2].existing, Some(b.hash));
        assert_eq!(plan.heads, vec![(a.key.storage_key(), b.hash)]);
        assert!(plan.alerts.is_empty(), "{:?}", plan.alerts);
        assert_eq!(plan.links.len(), 3);
    }

    #[test]
    fn resent_entries_are_duplicates_without_alerts() {
        let a = record(1, "An", None);
        let entries = chained(std::slice::from_ref(&a));
        let mut snap = Snapshot::default();
        snap.stored.insert(a.hash);
        snap.links.insert(1, entries[0].chain);
        snap.heads.insert(a.key.storage_key(), a.hash);
        let plan = plan_batch(entries, snap);
        assert_eq!(statuses(&plan), vec![EntryStatus::Duplicate]);
        assert!(plan.links.is_empty() && plan.records.is_empty() && plan.alerts.is_empty());
    }

    #[test]
    fn gaps_forks_and_rewrites_are_alerts_that_overwrite_nothing() {
        let recs: Vec<_> = (1..=4).map(|i| record(i, "An", None)).collect();
        let entries = chained(&recs);
        // Seq 3 arrives alone: a gap.
        let plan = plan_batch(vec![entries[2].clone()], Snapshot::default());
        assert_eq!(plan.alerts[0].kind, "gap");
        // Seq 2 seen before with other content: a rewrite; the old link is kept.
        let mut snap = Snapshot::default();
        snap.links.insert(1, entries[0].chain);
        snap.links.insert(2, ChainHash::from_bytes([9; 32]));
        let plan = plan_batch(vec![entries[1].clone()], snap);
        assert_eq!(plan.alerts[0].kind, "rewrite");
        assert!(plan.links.is_empty());
        assert_eq!(
            statuses(&plan),
            vec![EntryStatus::Stored],
            "the record itself is still kept"
        );
        // Seq 2 whose prev is not the stored seq 1: a fork.
        let mut snap = Snapshot::default();
        snap.links.insert(1, ChainHash::from_bytes([7; 32]));
        let plan = plan_batch(vec![entries[1].clone()], snap);
        assert_eq!(plan.alerts[0].kind, "fork");
    }

    #[test]
    fn contiguous_prefix_advances_only_without_holes() {
        assert_eq!(advance_contiguous(0, [1, 2, 3, 5]), 3);
        assert_eq!(advance_contiguous(3, [5, 6]), 3);
        assert_eq!(advance_contiguous(3, [4]), 4);
    }
}
