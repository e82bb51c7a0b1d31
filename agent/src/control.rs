//! The running service's control endpoint, for "sync now" and for importers
//! to say "new entries are waiting".
//!
//! It listens on loopback only, on a port chosen by the OS, and answers only
//! requests that carry the secret from `control.json`, a file only the data
//! directory's owner can read. So only the local machine, and on it only the
//! owner, can use it.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use std::sync::Arc;

use crate::config::{AgentConfig, DataDir, write_private};
use crate::sync::SyncEvent;

pub const SECRET_HEADER: &str = "x-hotich-control";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlInfo {
    pub port: u16,
    pub secret: String,
    pub pid: u32,
}

impl ControlInfo {
    pub fn read(path: &Path) -> Option<ControlInfo> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// What the control endpoint asks of the service loop.
#[derive(Debug)]
pub enum ControlRequest {
    /// "Sync now" (see [`crate::sync_now`]) and report its events.
    SyncNow {
        events: mpsc::UnboundedSender<SyncEvent>,
        limits: crate::sync_now::Limits,
    },
    /// New entries are in the journal.
    Poke,
}

#[derive(Clone)]
struct ControlState {
    secret: String,
    requests: mpsc::Sender<ControlRequest>,
    data_dir: DataDir,
    ui: Arc<crate::ui::Ui>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(state: &ControlState, headers: &HeaderMap) -> bool {
    headers
        .get(SECRET_HEADER)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), state.secret.as_bytes()))
}

/// `POST /v1/sync?timeout_secs=N`.
#[derive(Debug, Deserialize)]
struct SyncQuery {
    timeout_secs: Option<u64>,
}

async fn sync_now(
    State(state): State<ControlState>,
    headers: HeaderMap,
    Query(query): Query<SyncQuery>,
) -> Response {
    if !authorized(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let limits = crate::sync_now::Limits {
        timeout: query
            .timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(crate::sync_now::DEFAULT_TIMEOUT)
            .min(crate::sync_now::MAX_TIMEOUT),
        ..crate::sync_now::Limits::default()
    };
    let (tx, rx) = mpsc::unbounded_channel();
    if state
        .requests
        .send(ControlRequest::SyncNow { events: tx, limits })
        .await
        .is_err()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "the service is stopping").into_response();
    }
    let lines = UnboundedReceiverStream::new(rx).map(|event| {
        let mut line = serde_json::to_string(&event).unwrap_or_default();
        line.push('\n');
        Ok::<_, Infallible>(line)
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `POST /v1/ui-link`: a one-time login path to the official's page, for
/// `hotich-agent open` (which read the secret, so may use the page).
async fn ui_link(State(state): State<ControlState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match state.ui.mint_login() {
        Some(path) => axum::Json(serde_json::json!({ "path": path })).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Whether `Host` names this machine's loopback (with our port or none).
/// A web page whose name an attacker re-points at 127.0.0.1 (DNS
/// rebinding) sends its own name here, and is refused.
fn host_is_loopback(host: &str, port: u16) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, p)) if p == port.to_string() => name,
        Some(_) => return false,
        None => host,
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
}

async fn check_host(
    State(port): State<u16>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !host_is_loopback(host, port) {
        tracing::warn!(host, "control endpoint: request for a foreign host refused");
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this address serves 127.0.0.1 only\n",
        )
            .into_response();
    }
    next.run(request).await
}

async fn handle_poke(State(state): State<ControlState>, headers: HeaderMap) -> StatusCode {
    if !authorized(&state, &headers) {
        return StatusCode::FORBIDDEN;
    }
    // A full queue already holds a poke; one is as good as many.
    let _ = state.requests.try_send(ControlRequest::Poke);
    StatusCode::NO_CONTENT
}

/// `GET /metrics`: this PC's queue in the Prometheus text format, for a
/// local monitoring agent. Counts only (no record, no token), so it needs
/// no secret; it listens on loopback only.
async fn metrics(State(state): State<ControlState>) -> Response {
    let data_dir = state.data_dir.clone();
    let text = tokio::task::spawn_blocking(move || render_metrics(&data_dir)).await;
    match text {
        Ok(Ok(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            text,
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn render_metrics(data_dir: &DataDir) -> Result<String, crate::AgentError> {
    let journal = data_dir.open_journal(crate::journal::Access::ReadOnly)?;
    let counts = journal.counts()?;
    let state = journal.sync_state()?;
    let now = hotich_protocol::Timestamp::now();
    let oldest = journal
        .oldest_pending_at()?
        .map_or(0, |t| (now.millis() - t.millis()).max(0) / 1000);
    let last_success = state.last_success_at.map_or(0, |t| t.millis() / 1000);
    Ok(format!(
        "# HELP hotich_agent_records Journal entries by upload state.\n\
         # TYPE hotich_agent_records gauge\n\
         hotich_agent_records{{state=\"waiting\"}} {}\n\
         hotich_agent_records{{state=\"sent\"}} {}\n\
         hotich_agent_records{{state=\"refused\"}} {}\n\
         # HELP hotich_agent_oldest_waiting_seconds Age of the oldest record waiting to be sent.\n\
         # TYPE hotich_agent_oldest_waiting_seconds gauge\n\
         hotich_agent_oldest_waiting_seconds {oldest}\n\
         # HELP hotich_agent_last_success_timestamp_seconds When the server last took an upload (0: never).\n\
         # TYPE hotich_agent_last_success_timestamp_seconds gauge\n\
         hotich_agent_last_success_timestamp_seconds {last_success}\n\
         # HELP hotich_agent_consecutive_failures Failed rounds since the last success.\n\
         # TYPE hotich_agent_consecutive_failures gauge\n\
         hotich_agent_consecutive_failures {}\n\
         # HELP hotich_agent_journal_bytes Size of the journal on disk.\n\
         # TYPE hotich_agent_journal_bytes gauge\n\
         hotich_agent_journal_bytes {}\n\
         # HELP hotich_agent_free_disk_bytes Free space on the data directory's disk.\n\
         # TYPE hotich_agent_free_disk_bytes gauge\n\
         hotich_agent_free_disk_bytes {}\n",
        counts.pending,
        counts.acked,
        counts.parked,
        state.failures,
        journal.size_on_disk(),
        crate::config::free_disk_bytes(journal.path()).unwrap_or(0),
    ))
}

/// The control endpoint while the service runs; removes `control.json` when dropped.
#[derive(Debug)]
pub struct ControlEndpoint {
    path: PathBuf,
    pub addr: SocketAddr,
}

impl Drop for ControlEndpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub async fn start(
    data_dir: &DataDir,
    config: &AgentConfig,
    requests: mpsc::Sender<ControlRequest>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<ControlEndpoint> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    let secret = hex::encode(secret);
    let info = ControlInfo {
        port: addr.port(),
        secret: secret.clone(),
        pid: std::process::id(),
    };
    let path = data_dir.control_path();
    write_private(&path, serde_json::to_string(&info)?.as_bytes())?;
    let ui = Arc::new(crate::ui::Ui::new(
        data_dir.clone(),
        config.clone(),
        addr.port(),
    ));
    let app = Router::new()
        .route("/v1/sync", post(sync_now))
        .route("/v1/poke", post(handle_poke))
        .route("/v1/ui-link", post(ui_link))
        .route("/metrics", axum::routing::get(metrics))
        .with_state(ControlState {
            secret,
            requests: requests.clone(),
            data_dir: data_dir.clone(),
            ui: ui.clone(),
        })
        .merge(crate::ui::router(ui, requests))
        .layer(axum::middleware::from_fn_with_state(
            addr.port(),
            check_host,
        ));
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(%error, "control endpoint stopped");
        }
    });
    Ok(ControlEndpoint { path, addr })
}

/// An importer gives a busy service this long to take a poke, then moves on.
const POKE_CONNECT: Duration = Duration::from_millis(300);
const POKE_IO: Duration = Duration::from_millis(500);

/// Tells a running service that new entries are waiting. Best effort and
/// quick: an importer must not wait on, or fail because of, the service.
pub fn poke(data_dir: &DataDir) {
    let Some(info) = ControlInfo::read(&data_dir.control_path()) else {
        return;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, info.port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, POKE_CONNECT) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(POKE_IO));
    let _ = stream.set_write_timeout(Some(POKE_IO));
    let request = format!(
        "POST /v1/poke HTTP/1.1\r\nHost: 127.0.0.1\r\n{SECRET_HEADER}: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        info.secret
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "the service's control endpoint does not answer ({0}); is the service stopping? Try again, or stop the service and run sync"
    )]
    Unreachable(String),
    #[error("the service refused the request (HTTP {0}); the control file may be stale")]
    Refused(u16),
}

/// Asks the running service to sync now, passing each event to `on_event`
/// until the round ends. Returns the last event.
pub async fn sync_via_service(
    info: &ControlInfo,
    timeout: Duration,
    on_event: &mut (dyn FnMut(&SyncEvent) + Send),
) -> Result<Option<SyncEvent>, ControlError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| ControlError::Unreachable(e.to_string()))?;
    let mut response = client
        .post(format!(
            "http://127.0.0.1:{}/v1/sync?timeout_secs={}",
            info.port,
            timeout.as_secs().max(1)
        ))
        .header(SECRET_HEADER, &info.secret)
        .send()
        .await
        .map_err(|e| ControlError::Unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(ControlError::Refused(response.status().as_u16()));
    }
    let mut buffer = Vec::new();
    let mut last = None;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ControlError::Unreachable(e.to_string()))?
    {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            if let Ok(event) = serde_json::from_slice::<SyncEvent>(&line) {
                on_event(&event);
                last = Some(event);
            }
        }
    }
    Ok(last)
}
