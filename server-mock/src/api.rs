//! The HTTP API v1: upload, have/lack, chain state, heartbeat. The server
//! checks every record itself (it never trusts the agent) and answers 2xx
//! only after its durable commit.

use std::sync::Arc;

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
    HeartbeatAck, UPLOAD_PATH, UploadEntry, UploadResponse,
};
use hotich_protocol::{ChainHash, CivilDate, GENESIS, Timestamp, chain_hash, parse_strict, prepare_record};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

use crate::chaos::{self, Chaos};
use crate::store::{AgentInfo, CheckedEntry, Storage, StoreError, Verdict};

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
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
            limits: self.limits,
        }
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
    let state = AppState { store, limits };
    let api = Router::new()
        .route(UPLOAD_PATH, post(upload::<S>))
        .route(HAVE_PATH, post(have::<S>))
        .route(CHAIN_PATH, get(chain::<S>))
        .route(HEARTBEAT_PATH, post(heartbeat::<S>))
        .layer(middleware::from_fn_with_state(chaos, chaos::inject))
        .with_state(state);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(api)
        .fallback(|| async { ApiError::NotFound })
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

async fn authenticate<S: Storage>(state: &AppState<S>, headers: &HeaderMap) -> Result<AgentInfo, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    state
        .store
        .agent_by_token(token_hash(token))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the token is unknown or was revoked".into()))
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
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read or decompressed: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

/// Parses and checks a batch: each record validated, hashed and compared
/// with the agent's hash; chain hashes recomputed. CPU work, run off the
/// async threads.
pub fn check_upload(bytes: &[u8], commune: &str, limits: Limits) -> Result<Vec<CheckedEntry>, ApiError> {
    let envelope: Envelope<'_> = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not an upload batch: {e}")))?;
    if envelope.entries.len() > limits.max_entries {
        return Err(ApiError::TooLarge(format!(
            "{} entries in one batch; at most {} are accepted",
            envelope.entries.len(),
            limits.max_entries
        )));
    }
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut previous: Option<(u64, ChainHash)> = None;
    let mut out = Vec::with_capacity(envelope.entries.len());
    for (i, raw) in envelope.entries.into_iter().enumerate() {
        let entry: UploadEntry = serde_json::from_str(raw.get())
            .map_err(|e| ApiError::BadRequest(format!("entry {i} of the batch is malformed: {e}")))?;
        if entry.seq == 0 {
            return Err(ApiError::BadRequest(format!("entry {i}: seq numbers start at 1")));
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
        out.push(CheckedEntry {
            seq: entry.seq,
            claimed_hash: entry.hash,
            prev,
            chain,
            entered_at: entry.entered_at,
            verdict,
        });
    }
    Ok(out)
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
    let checked = tokio::task::spawn_blocking(move || check_upload(&bytes, &commune, limits))
        .await
        .map_err(|e| ApiError::Internal(format!("checking the batch failed: {e}")))??;
    let n = checked.len();
    let results = state.store.commit_batch(agent.id, &agent.commune, checked).await?;
    tracing::debug!(agent = agent.id, entries = n, "batch committed");
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
    let lacking = state.store.lacking(request.hashes).await?;
    let chain = state.store.chain_state(agent.id).await?;
    Ok(axum::Json(HaveResponse { lacking, chain }))
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
    let bytes = read_body(&headers, body, 1024 * 1024).await?;
    let beat: Heartbeat = parse_json(&bytes)?;
    let now = Timestamp::now();
    state.store.record_heartbeat(agent.id, &beat, now).await?;
    Ok(axum::Json(HeartbeatAck { server_time: now }))
}
