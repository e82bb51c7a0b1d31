//! The HTTP API v1: upload, have/lack, chain state, heartbeat. The server
//! checks every record itself (it never trusts the agent) and answers 2xx
//! only after its durable commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use hotich_protocol::validate::summarize;
use hotich_protocol::wire::{
    CHAIN_PATH, ErrorBody, HAVE_PATH, HEARTBEAT_PATH, HaveRequest, HaveResponse, Heartbeat,
    HeartbeatAck, UPLOAD_PATH, UploadEntry, UploadRequest, UploadResponse,
};
use hotich_protocol::{
    ChainHash, CivilDate, GENESIS, Timestamp, chain_hash, parse_strict, prepare_record,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

use crate::auth::{AuthError, agent_from_headers};
use crate::chaos::{self, Chaos};
use crate::store::{AgentInfo, BatchError, CheckedEntry, Storage, StoreError, Verdict};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, after decompression.
    pub max_body_bytes: usize,
    pub max_entries: usize,
    pub max_have: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            max_entries: 10_000,
            max_have: 10_000,
        }
    }
}

pub struct AppState<S> {
    pub store: Arc<S>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
            limits: self.limits,
            metrics: self.metrics.clone(),
        }
    }
}

/// Counters since start, served at `/metrics` in the Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    pub upload_requests: AtomicU64,
    pub entries_stored: AtomicU64,
    pub entries_duplicate: AtomicU64,
    pub entries_rejected: AtomicU64,
    pub entries_conflict: AtomicU64,
    pub have_requests: AtomicU64,
    pub heartbeats: AtomicU64,
    pub auth_failures: AtomicU64,
}

impl Metrics {
    fn count(&self, results: &[hotich_protocol::wire::EntryResult]) {
        use hotich_protocol::wire::EntryStatus;
        for r in results {
            let counter = match r.status {
                EntryStatus::Stored => &self.entries_stored,
                EntryStatus::Duplicate => &self.entries_duplicate,
                EntryStatus::Rejected => &self.entries_rejected,
                EntryStatus::Conflict | EntryStatus::Unknown => &self.entries_conflict,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP hotich_upload_requests_total Upload requests answered.\n\
             # TYPE hotich_upload_requests_total counter\n\
             hotich_upload_requests_total {}\n\
             # HELP hotich_entries_total Uploaded journal entries by outcome.\n\
             # TYPE hotich_entries_total counter\n\
             hotich_entries_total{{outcome=\"stored\"}} {}\n\
             hotich_entries_total{{outcome=\"duplicate\"}} {}\n\
             hotich_entries_total{{outcome=\"rejected\"}} {}\n\
             hotich_entries_total{{outcome=\"conflict\"}} {}\n\
             # HELP hotich_have_requests_total Have/lack questions answered.\n\
             # TYPE hotich_have_requests_total counter\n\
             hotich_have_requests_total {}\n\
             # HELP hotich_heartbeats_total Agent heartbeats received.\n\
             # TYPE hotich_heartbeats_total counter\n\
             hotich_heartbeats_total {}\n\
             # HELP hotich_auth_failures_total Requests refused for a missing, unknown or revoked token.\n\
             # TYPE hotich_auth_failures_total counter\n\
             hotich_auth_failures_total {}\n",
            get(&self.upload_requests),
            get(&self.entries_stored),
            get(&self.entries_duplicate),
            get(&self.entries_rejected),
            get(&self.entries_conflict),
            get(&self.have_requests),
            get(&self.heartbeats),
            get(&self.auth_failures),
        )
    }
}

/// Errors as HTTP answers: a status and an [`ErrorBody`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    #[error("no such endpoint")]
    NotFound,
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failed");
        ApiError::Internal("the central database failed; try again later".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, retryable) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", false),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", false),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", false),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", false),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", true),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", true),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", false),
        };
        let body = ErrorBody {
            error: code.into(),
            message: self.to_string(),
            retryable,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub fn router<S: Storage>(store: Arc<S>, limits: Limits, chaos: Arc<Chaos>) -> Router {
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        store,
        limits,
        metrics: metrics.clone(),
    };
    let api = Router::new()
        .route(UPLOAD_PATH, post(upload::<S>))
        .route(HAVE_PATH, post(have::<S>))
        .route(CHAIN_PATH, get(chain::<S>))
        .route(HEARTBEAT_PATH, post(heartbeat::<S>))
        .layer(middleware::from_fn_with_state(chaos, chaos::inject))
        .with_state(state);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                }
            }),
        )
        .merge(api)
        .fallback(|| async { ApiError::NotFound })
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
}

async fn authenticate<S: Storage>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<AgentInfo, ApiError> {
    agent_from_headers(state.store.as_ref(), headers)
        .await
        .map_err(|e| match e {
            AuthError::Store(e) => e.into(),
            refused => {
                state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
                ApiError::Unauthorized(refused.to_string())
            }
        })
}

/// Reads the (already decompressed) body, refusing more than `limit` bytes.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::TooLarge(format!("the request body is larger than {limit} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest(format!("the body could not be read or decompressed: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

/// A heartbeat is a few hundred bytes; anything near this is not one.
pub const HEARTBEAT_MAX_BYTES: usize = 1024 * 1024;

/// Entries checked per chunk: the store writes one chunk while the next is checked.
pub const CHECK_CHUNK: usize = 250;

/// Parses and checks a batch: each record validated, hashed and compared
/// with the agent's hash; chain hashes recomputed. CPU work, run off the
/// async threads. Checked entries go to `emit` in chunks; a refusal of the
/// whole batch is emitted as `Err` and ends it. `emit` returns false when
/// nobody listens any more.
pub fn check_upload(
    bytes: &[u8],
    commune: &str,
    limits: Limits,
    emit: &mut dyn FnMut(Result<Vec<CheckedEntry>, ApiError>) -> bool,
) {
    if let Err(e) = check_upload_inner(bytes, commune, limits, emit) {
        emit(Err(e));
    }
}

fn check_upload_inner(
    bytes: &[u8],
    commune: &str,
    limits: Limits,
    emit: &mut dyn FnMut(Result<Vec<CheckedEntry>, ApiError>) -> bool,
) -> Result<(), ApiError> {
    // One pass over the body in the usual case; a second, entry by entry,
    // only to say which entry is malformed.
    let entries = match serde_json::from_slice::<UploadRequest>(bytes) {
        Ok(request) => request.entries,
        Err(whole) => {
            let envelope: Envelope<'_> = serde_json::from_slice(bytes).map_err(|e| {
                ApiError::BadRequest(format!("the body is not an upload batch: {e}"))
            })?;
            for (i, raw) in envelope.entries.iter().enumerate() {
                if let Err(e) = serde_json::from_str::<UploadEntry>(raw.get()) {
                    return Err(ApiError::BadRequest(format!(
                        "entry {i} of the batch is malformed: {e}"
                    )));
                }
            }
            return Err(ApiError::BadRequest(format!(
                "the body is not an upload batch: {whole}"
            )));
        }
    };
    if entries.len() > limits.max_entries {
        return Err(ApiError::TooLarge(format!(
            "{} entries in one batch; at most {} are accepted",
            entries.len(),
            limits.max_entries
        )));
    }
    // A day of slack: an agent whose clock runs a little ahead (or a record
    // registered just after midnight) must not be refused as "in the future".
    let today = CivilDate::from_days_since_epoch(
        CivilDate::today_in_vietnam(Timestamp::now()).days_since_epoch() + 1,
    );
    let mut previous: Option<(u64, ChainHash)> = None;
    let mut chunk = Vec::with_capacity(CHECK_CHUNK);
    let total = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        if entry.seq == 0 {
            return Err(ApiError::BadRequest(format!(
                "entry {i}: seq numbers start at 1"
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
        let verdict = match parse_strict(entry.record.get()) {
            Err(e) => Verdict::Invalid(format!("the record is not valid JSON: {e}")),
            Ok(value) => match prepare_record(value, today) {
                Err(errors) => Verdict::Invalid(summarize(&errors)),
                Ok(record) if record.hash != entry.hash => Verdict::Invalid(format!(
                    "the record's content hash is {}, not {} as sent",
                    record.hash, entry.hash
                )),
                Ok(record) if record.commune_code() != commune => {
                    return Err(ApiError::Forbidden(format!(
                        "this agent writes for commune {commune}; entry seq {} is a record of commune {}. Nothing was stored",
                        entry.seq,
                        record.commune_code()
                    )));
                }
                Ok(record) => Verdict::Valid(record),
            },
        };
        chunk.push(CheckedEntry {
            seq: entry.seq,
            claimed_hash: entry.hash,
            prev,
            chain,
            entered_at: entry.entered_at,
            verdict,
        });
        if (chunk.len() >= CHECK_CHUNK || i + 1 == total)
            && !emit(Ok(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(CHECK_CHUNK),
            )))
        {
            return Ok(());
        }
    }
    Ok(())
}

async fn upload<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<UploadResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    let commune = agent.commune.clone();
    let limits = state.limits;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let checker = tokio::task::spawn_blocking(move || {
        check_upload(&bytes, &commune, limits, &mut |chunk| {
            tx.blocking_send(chunk).is_ok()
        });
    });
    let committed = state
        .store
        .commit_chunks(agent.id, &agent.commune, rx)
        .await;
    checker
        .await
        .map_err(|e| ApiError::Internal(format!("checking the batch failed: {e}")))?;
    let results = match committed {
        Ok(results) => results,
        Err(BatchError::Refused(e)) => return Err(e),
        Err(BatchError::Store(e)) => return Err(e.into()),
    };
    state
        .metrics
        .upload_requests
        .fetch_add(1, Ordering::Relaxed);
    state.metrics.count(&results);
    tracing::debug!(agent = agent.id, entries = results.len(), "batch committed");
    Ok(axum::Json(UploadResponse { results }))
}

async fn have<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<HaveResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    let request: HaveRequest = parse_json(&bytes)?;
    if request.hashes.len() > state.limits.max_have {
        return Err(ApiError::TooLarge(format!(
            "at most {} hashes per question",
            state.limits.max_have
        )));
    }
    state.metrics.have_requests.fetch_add(1, Ordering::Relaxed);
    if !request.seqs.is_empty() && request.seqs.len() != request.hashes.len() {
        return Err(ApiError::BadRequest(
            "seqs and hashes must be the same length".into(),
        ));
    }
    let mut unlinked = Vec::new();
    if let (Some(low), Some(high)) = (request.seqs.iter().min(), request.seqs.iter().max()) {
        let links = state.store.links_between(agent.id, *low, *high).await?;
        unlinked = request
            .seqs
            .iter()
            .zip(&request.hashes)
            .filter(|(seq, hash)| links.get(seq) != Some(hash))
            .map(|(seq, _)| *seq)
            .collect();
    }
    let lacking = state.store.lacking(request.hashes).await?;
    let chain = state.store.chain_state(agent.id).await?;
    Ok(axum::Json(HaveResponse {
        lacking,
        unlinked,
        chain,
    }))
}

async fn chain<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<axum::Json<hotich_protocol::wire::ChainState>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    Ok(axum::Json(state.store.chain_state(agent.id).await?))
}

async fn heartbeat<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<HeartbeatAck>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, HEARTBEAT_MAX_BYTES).await?;
    let beat: Heartbeat = parse_json(&bytes)?;
    let now = Timestamp::now();
    state.store.record_heartbeat(agent.id, &beat, now).await?;
    state.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
    Ok(axum::Json(HeartbeatAck { server_time: now }))
}
