//! The HTTP API v1: upload, have/lack, chain state, heartbeat; health and
//! metrics. The server checks every record itself (it never trusts the
//! agent) and answers 2xx only after its durable commit.
//!
//! - `upload`: the batch upload and its bounds;
//! - `queries`: have/lack, chain, heartbeat;
//! - `body`: reading bodies within size and pace limits;
//! - `error`: errors as JSON answers;
//! - `heartbeats`: heartbeats stored in groups (one transaction for many);
//! - `metrics`: request counters and latencies for `/metrics`.

mod blobs;
mod body;
mod books;
mod error;
mod heartbeats;
mod metrics;
mod queries;
mod upload;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::HeaderMap;
use axum::middleware;
use axum::routing::{get, post};
use hotich_protocol::wire::{CHAIN_PATH, HAVE_PATH, HEARTBEAT_PATH, UPLOAD_PATH, Version};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

use crate::auth::{AuthError, agent_from_headers};
use crate::chaos::{self, Chaos};
use crate::store::{AgentInfo, Storage};

pub use body::{BODY_IDLE, BODY_RATE_GRACE, MIN_BODY_RATE, read_body};
pub use error::{ApiError, RETRY_AFTER_SECS, json_errors};
pub use heartbeats::HeartbeatWriter;
pub use metrics::Metrics;
pub use queries::HEARTBEAT_MAX_BYTES;
pub use upload::{CHECK_CHUNK, SLOT_WAIT, UploadGate, check_upload};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, after decompression. An agent sends
    /// at most 8 MiB of records (and their envelopes, ~1 MiB more); this
    /// leaves room and bounds memory per request. Lowered below what agents
    /// send, each large batch is refused after its upload and sent again at
    /// half the size.
    pub max_body_bytes: usize,
    pub max_entries: usize,
    pub max_have: usize,
    /// Uploads processed at once, server-wide; more wait (up to [`SLOT_WAIT`]).
    pub upload_slots: usize,
    /// Agents older than this are refused (all but their heartbeats, so the
    /// dashboard still shows which PCs need the upgrade).
    pub min_agent_version: Option<Version>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_entries: 10_000,
            max_have: 10_000,
            upload_slots: 8,
            min_agent_version: None,
        }
    }
}

pub struct AppState<S> {
    pub store: Arc<S>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub uploads: Arc<UploadGate>,
    pub heartbeats: Arc<HeartbeatWriter>,
    /// Where page scans are kept; `None`: this server takes none.
    pub blobs: Option<Arc<dyn crate::blobs::BlobBackend>>,
    pub blob_gate: Arc<blobs::BlobGate>,
    pub receipts: Arc<crate::receipts::ReceiptSigner>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
            limits: self.limits,
            metrics: self.metrics.clone(),
            uploads: self.uploads.clone(),
            heartbeats: self.heartbeats.clone(),
            blobs: self.blobs.clone(),
            blob_gate: self.blob_gate.clone(),
            receipts: self.receipts.clone(),
        }
    }
}

/// Everything the server answers: the agents' API, health, and the web
/// pages and status API for people ([`crate::web`]).
pub fn router<S: Storage>(
    store: Arc<S>,
    limits: Limits,
    chaos: Arc<Chaos>,
    thresholds: crate::monitor::Thresholds,
    secure_cookies: bool,
    blob_store: Option<Arc<dyn crate::blobs::BlobBackend>>,
    receipts: Arc<crate::receipts::ReceiptSigner>,
) -> Router {
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        store: store.clone(),
        limits,
        metrics: metrics.clone(),
        uploads: Arc::new(UploadGate::new(limits.upload_slots)),
        heartbeats: Arc::new(HeartbeatWriter::start(store.clone())),
        blobs: blob_store,
        blob_gate: Arc::default(),
        receipts,
    };
    let min_version = limits.min_agent_version;
    let setup = Router::new()
        .route(
            hotich_protocol::wire::WHOAMI_PATH,
            get(queries::whoami::<S>),
        )
        .route(
            hotich_protocol::wire::RECEIPT_KEY_PATH,
            get(queries::receipt_key::<S>),
        )
        .layer(middleware::from_fn_with_state(
            min_version,
            refuse_old_agents,
        ))
        .with_state(state.clone());
    let heartbeats = Router::new().route(HEARTBEAT_PATH, post(queries::heartbeat::<S>));
    let api = Router::new()
        .route(UPLOAD_PATH, post(upload::upload::<S>))
        .route(HAVE_PATH, post(queries::have::<S>))
        .route(CHAIN_PATH, get(queries::chain::<S>))
        .route(
            &format!("{}/{{sha256}}", hotich_protocol::wire::BLOBS_PATH),
            get(blobs::status::<S>).patch(blobs::append::<S>),
        )
        .route(
            hotich_protocol::wire::ATTACHMENTS_PATH,
            post(blobs::attach::<S>),
        )
        .route(
            hotich_protocol::books::KEYINGS_PATH,
            post(books::keyings::<S>),
        )
        .route(
            hotich_protocol::books::BOOKS_PATH,
            post(books::close_books::<S>).get(books::reports::<S>),
        )
        .route(hotich_protocol::books::REVIEW_PATH, get(books::review::<S>))
        .route(
            hotich_protocol::wire::JOURNAL_PATH,
            get(queries::journal::<S>),
        )
        .layer(middleware::from_fn_with_state(
            min_version,
            refuse_old_agents,
        ))
        .merge(heartbeats)
        .layer(middleware::from_fn_with_state(chaos, chaos::inject))
        .with_state(state);
    let web = crate::web::router(crate::web::Web {
        store,
        thresholds,
        secure_cookies,
        limiter: Default::default(),
        basic: Default::default(),
        metrics: metrics.clone(),
    });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(api)
        .merge(setup)
        .merge(web)
        .fallback(|| async { ApiError::NotFound })
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(json_errors))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            metrics,
            metrics::time_requests,
        ))
}

/// Refuses agents older than the oldest version the server accepts, before
/// anything else: an old agent's record would otherwise be refused for a
/// reason it cannot word (a hash or field it does not know). A client that
/// names no agent version (a script, curl) is let through.
async fn refuse_old_agents(
    axum::extract::State(min_version): axum::extract::State<Option<Version>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(required) = min_version {
        let user_agent = request
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Some(running) = Version::from_user_agent(user_agent)
            && running < required
        {
            return ApiError::AgentTooOld {
                running: running.to_string(),
                required,
            }
            .into_response();
        }
    }
    next.run(request).await
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
