//! `POST /api/v1/upload`: a batch of the agent's journal entries. The server
//! checks every record itself (validation, hash, commune, chain) on a
//! blocking thread, in chunks that the store writes while the next is
//! checked, in one transaction: the batch commits whole or not at all, and
//! 2xx is sent only after the commit.
//!
//! Bounded work: the body is limited after decompression; the entry list is
//! refused past `max_entries` while it is parsed; each record past
//! [`MAX_RECORD_BYTES`] is refused before it is parsed; an agent has at most
//! one upload in progress; the server runs at most `upload_slots` at once.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use hotich_protocol::FieldError;
use hotich_protocol::validate::{Problem, check_record_size, shown};
use hotich_protocol::wire::{MAX_SEQ, UploadEntry, UploadResponse};
use hotich_protocol::{
    ChainHash, CivilDate, GENESIS, Timestamp, chain_hash, parse_strict, prepare_record,
};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::read_body;
use super::{ApiError, AppState, Limits, authenticate};
use crate::store::{BatchError, Checked, CheckedEntry, Storage, Verdict};

/// Entries checked per chunk: the store writes one chunk while the next is checked.
pub const CHECK_CHUNK: usize = 250;

/// How long an upload waits for one of the server's slots before it is
/// told to come back.
pub const SLOT_WAIT: Duration = Duration::from_secs(30);

/// How much of a parser's message is passed on: serde quotes the input.
const SHOWN_MESSAGE: usize = 300;

/// Who is uploading: one upload per agent, and a few server-wide.
#[derive(Debug)]
pub struct UploadGate {
    busy: Mutex<HashSet<i64>>,
    slots: Arc<Semaphore>,
}

/// An agent's one upload; ends when dropped.
pub struct AgentUpload {
    gate: Arc<UploadGate>,
    agent: i64,
    _slot: OwnedSemaphorePermit,
}

impl Drop for AgentUpload {
    fn drop(&mut self) {
        let mut busy = self.gate.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.agent);
    }
}

impl UploadGate {
    pub fn new(slots: usize) -> Self {
        UploadGate {
            busy: Mutex::new(HashSet::new()),
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// Starts `agent`'s upload: refused at once if it has one in progress
    /// (429), after [`SLOT_WAIT`] if the server is full (503).
    async fn begin(self: &Arc<Self>, agent: i64) -> Result<AgentUpload, ApiError> {
        {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            if !busy.insert(agent) {
                return Err(ApiError::Busy(
                    "an upload from this agent is still in progress; send the next one after it"
                        .into(),
                ));
            }
        }
        // From here the agent is marked busy: a failure must unmark it.
        let unmark = || {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            busy.remove(&agent);
        };
        match tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(AgentUpload {
                gate: self.clone(),
                agent,
                _slot: slot,
            }),
            _ => {
                unmark();
                Err(ApiError::Unavailable(
                    "the server is busy with other uploads; try again shortly".into(),
                ))
            }
        }
    }
}

/// Marks the "too many entries" error inside serde's error chain.
const TOO_MANY: &str = "too many entries";

/// The `entries` of an upload body, refusing more than `max` while parsing,
/// so a body of a million tiny entries is not built first. Each entry is
/// parsed in the same pass (its record kept as raw text for the checks).
fn parse_entries(bytes: &[u8], max: usize) -> Result<Vec<UploadEntry>, serde_json::Error> {
    struct Entries {
        max: usize,
    }
    impl<'de> DeserializeSeed<'de> for Entries {
        type Value = Vec<UploadEntry>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<UploadEntry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            loop {
                let entry = seq.next_element::<UploadEntry>().map_err(|e| {
                    de::Error::custom(format!(
                        "entry {} of the batch is malformed: {e}",
                        out.len()
                    ))
                })?;
                let Some(entry) = entry else { break };
                if out.len() == self.max {
                    return Err(de::Error::custom(TOO_MANY));
                }
                out.push(entry);
            }
            Ok(out)
        }
    }
    struct Envelope {
        max: usize,
    }
    impl<'de> Visitor<'de> for Envelope {
        type Value = Vec<UploadEntry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an upload batch {\"entries\": [...]}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "entries" && entries.is_none() {
                    entries = Some(map.next_value_seed(Entries { max: self.max })?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            entries.ok_or_else(|| de::Error::missing_field("entries"))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let entries = de::Deserializer::deserialize_map(&mut de, Envelope { max })?;
    de.end()?;
    Ok(entries)
}

/// Parses and checks a batch: each record validated, hashed and compared
/// with the agent's hash; chain hashes recomputed. CPU work, run off the
/// async threads. Checked entries go to `emit` in chunks, then `Done`; a
/// refusal of the whole batch is emitted as `Refused` and ends it. `emit`
/// returns false when nobody listens any more.
pub fn check_upload(
    bytes: &[u8],
    commune: &str,
    limits: Limits,
    emit: &mut dyn FnMut(Checked<ApiError>) -> bool,
) {
    match check_upload_inner(bytes, commune, limits, emit) {
        Ok(true) => {
            emit(Checked::Done);
        }
        Ok(false) => {}
        Err(e) => {
            emit(Checked::Refused(e));
        }
    }
}

/// Ok(false) when the listener went away.
fn check_upload_inner(
    bytes: &[u8],
    commune: &str,
    limits: Limits,
    emit: &mut dyn FnMut(Checked<ApiError>) -> bool,
) -> Result<bool, ApiError> {
    let entries = parse_entries(bytes, limits.max_entries).map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            ApiError::TooLarge(format!(
                "more than {} entries in one batch",
                limits.max_entries
            ))
        } else {
            ApiError::BadRequest(format!(
                "the body is not an upload batch: {}",
                shown_message(&e)
            ))
        }
    })?;
    // A day of slack: an agent whose clock runs a little ahead (or a record
    // registered just after midnight) must not be refused as "in the future".
    let today = CivilDate::from_days_since_epoch(
        CivilDate::today_in_vietnam(Timestamp::now()).days_since_epoch() + 1,
    );
    let mut previous: Option<(u64, ChainHash)> = None;
    let mut chunk = Vec::with_capacity(CHECK_CHUNK);
    let total = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        if entry.seq == 0 || entry.seq > MAX_SEQ {
            return Err(ApiError::BadRequest(format!(
                "entry {i}: seq {} is not between 1 and {MAX_SEQ}",
                entry.seq
            )));
        }
        let prev = match (entry.prev, previous) {
            (Some(p), _) => p,
            (None, Some((seq, chain))) if seq + 1 == entry.seq => chain,
            (None, _) if entry.seq == 1 => GENESIS,
            (None, _) => {
                return Err(ApiError::BadRequest(format!(
                    "entry {i} (seq {}) has no prev and does not follow the entry before it",
                    entry.seq
                )));
            }
        };
        let chain = chain_hash(&prev, entry.seq, &entry.hash);
        previous = Some((entry.seq, chain));
        let verdict = check_record(&entry, commune, today)?;
        chunk.push(CheckedEntry {
            seq: entry.seq,
            claimed_hash: entry.hash,
            prev,
            chain,
            entered_at: entry.entered_at,
            // A refused record is kept so its agent's journal can be rebuilt
            // from here; one over the size limit was never in a journal, and
            // keeping it would hold a copy of up to the whole body.
            raw: (matches!(verdict, Verdict::Invalid(_))
                && check_record_size(entry.record.get().len()).is_ok())
            .then(|| entry.record.get().to_string()),
            verdict,
            envelope: crate::store::Envelope {
                official: entry.official.as_deref().map(crate::store::cap_text),
                correction_reason: entry
                    .correction_reason
                    .as_deref()
                    .map(crate::store::cap_text),
            },
        });
        if (chunk.len() >= CHECK_CHUNK || i + 1 == total)
            && !emit(Checked::Chunk(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(CHECK_CHUNK),
            )))
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One record's verdict; another commune's record refuses the whole batch.
fn check_record(entry: &UploadEntry, commune: &str, today: CivilDate) -> Result<Verdict, ApiError> {
    let text = entry.record.get();
    if let Err(e) = check_record_size(text.len()) {
        return Ok(Verdict::Invalid(vec![e]));
    }
    let value = match parse_strict(text) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Verdict::Invalid(vec![FieldError::of(
                "(record)",
                Problem::InvalidJson {
                    detail: shown(&e.to_string()).into_owned(),
                },
            )]));
        }
    };
    Ok(match prepare_record(value, today) {
        Err(errors) => Verdict::Invalid(errors),
        Ok(record) if record.hash != entry.hash => Verdict::Invalid(vec![FieldError::coded(
            "(record)",
            "hash-mismatch",
            [
                ("computed".to_string(), record.hash.to_hex()),
                ("sent".to_string(), entry.hash.to_hex()),
            ]
            .into(),
            format!(
                "the record's content hash is {}, not {} as sent",
                record.hash, entry.hash
            ),
        )]),
        Ok(record) if record.commune_code() != commune => {
            return Err(ApiError::Forbidden(format!(
                "this agent writes for commune {commune}; entry seq {} is a record of commune {}. Nothing was stored",
                entry.seq,
                record.commune_code()
            )));
        }
        Ok(record) => Verdict::Valid(record),
    })
}

fn shown_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.char_indices().nth(SHOWN_MESSAGE) {
        None => text,
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

pub async fn upload<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<UploadResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let upload = state.uploads.begin(agent.id).await?;
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    // Once the body is in, the commit runs to its end in its own task: an
    // agent that hangs up (or a link that drops) must not cancel a
    // transaction half-way or skip counting what it stored.
    let commit = tokio::spawn(check_and_commit(
        state.clone(),
        agent.id,
        agent.commune.clone(),
        bytes,
        upload,
    ));
    let response = commit
        .await
        .map_err(|e| ApiError::Internal(format!("the commit task failed: {e}")))??;
    tracing::debug!(
        agent = agent.id,
        entries = response.results.len(),
        "batch committed"
    );
    Ok(axum::Json(response))
}

/// Checks `bytes` and commits what passes, holding the agent's upload until
/// the end; counts what was stored.
async fn check_and_commit<S: Storage>(
    state: AppState<S>,
    agent: i64,
    commune: String,
    bytes: axum::body::Bytes,
    _upload: AgentUpload,
) -> Result<UploadResponse, ApiError> {
    let limits = state.limits;
    // Room for a whole batch (`max_entries` in chunks): a batch
    // waiting for the one writer is checked in full meanwhile, so that the
    // writer never waits for its last chunks while the other core idles
    // (50 agents: 65,000 -> 70,500 records/s with room for two chunks). Its
    // memory is the body's and the checked entries' (bounded per upload by
    // `max_entries`, and in all by the upload slots).
    let (tx, rx) = tokio::sync::mpsc::channel(limits.max_entries.div_ceil(CHECK_CHUNK) + 1);
    let checked_commune = commune.clone();
    let checker = tokio::task::spawn_blocking(move || {
        // The span of seqs and the last chain hash, for the receipt.
        let mut span: Option<(u64, u64, hotich_protocol::ChainHash)> = None;
        check_upload(&bytes, &checked_commune, limits, &mut |msg| {
            if let crate::store::Checked::Chunk(entries) = &msg
                && let (Some(first), Some(last)) = (entries.first(), entries.last())
            {
                let start = span.map_or(first.seq, |(s, _, _)| s);
                span = Some((start, last.seq, last.chain));
            }
            tx.blocking_send(msg).is_ok()
        });
        span
    });
    let committed = state.store.commit_chunks(agent, &commune, rx).await;
    let checked = checker.await;
    let span = checked.as_ref().ok().copied().flatten();
    let results = match committed {
        Ok(results) => results,
        Err(BatchError::Refused(e)) => return Err(e),
        Err(BatchError::Store(e)) => return Err(e.into()),
        Err(BatchError::Incomplete) => {
            let why = match checked {
                Err(e) => format!("checking the batch failed: {e}"),
                Ok(_) => "checking the batch stopped early".into(),
            };
            tracing::error!(agent, %why, "batch not committed");
            return Err(ApiError::Internal(format!("{why}; nothing was stored")));
        }
    };
    state
        .metrics
        .upload_requests
        .fetch_add(1, Ordering::Relaxed);
    state.metrics.count(&results);
    let receipt = match span {
        Some((first, last, chain)) => held_receipt(&state, agent, first, last, chain).await,
        None => None,
    };
    Ok(UploadResponse { results, receipt })
}

/// A receipt for entries `first..=last`, only if the server now holds this
/// agent's journal without a gap through `last` and its chain there is the
/// one the batch built: a batch that rewrote, forked or skipped history gets
/// none, so a receipt never vouches for what the centre does not hold. The
/// batch is committed either way; a failure here costs only the receipt.
async fn held_receipt<S: Storage>(
    state: &AppState<S>,
    agent: i64,
    first: u64,
    last: u64,
    chain: hotich_protocol::ChainHash,
) -> Option<hotich_protocol::wire::Receipt> {
    let held = async {
        let contiguous = state.store.chain_state(agent).await?.contiguous_seq;
        if contiguous < last {
            return Ok::<_, crate::store::StoreError>(false);
        }
        Ok(state.store.chain_at(agent, last).await? == Some(chain))
    };
    match held.await {
        Ok(true) => Some(state.receipts.sign(agent, first, last, chain)),
        Ok(false) => None,
        Err(error) => {
            tracing::warn!(%error, agent, "no receipt for a committed batch");
            None
        }
    }
}
