//! The HTTP client for API v1. Every request has a timeout, so a link that
//! goes silent never hangs the agent; every failure is an [`ApiError`] that
//! knows whether it is worth retrying.

use std::time::Duration;

use hotich_protocol::wire::{
    CHAIN_PATH, ChainState, ErrorBody, HAVE_PATH, HEARTBEAT_PATH, HaveRequest, HaveResponse,
    Heartbeat, HeartbeatAck, UPLOAD_PATH, UploadRequest, UploadResponse, WHOAMI_PATH, WhoAmI,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::config::{AgentConfig, Secret};
use crate::retry::RetryClass;

pub const USER_AGENT: &str = concat!("hotich-agent/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the server: {0}")]
    Connect(String),
    #[error("the server did not answer within {0} s")]
    Timeout(u64),
    #[error("the connection to the server broke: {0}")]
    Transport(String),
    #[error("the server is unavailable (HTTP {status}): {message}")]
    Unavailable {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error(
        "the server does not accept this agent's token: {0}. Ask the IT staff for a new token and run `hotich-agent init --force`"
    )]
    Unauthorized(String),
    #[error("the server refuses this agent: {0}")]
    Forbidden(String),
    #[error("the request is too large for the server: {0}")]
    TooLarge(String),
    #[error("the server refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the server's answer could not be read: {0}")]
    BadAnswer(String),
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// The server holds more of this agent's journal than the PC has: the
    /// journal was lost or put back from an old copy.
    #[error(
        "the server holds {server} entries from this agent but this journal has only {local}: \
         was the data directory replaced or restored from an old copy? Uploading is stopped so \
         that nothing is sent under numbers already used. Restore this data directory from its \
         backup, or tell the IT staff"
    )]
    JournalBehind { server: u64, local: u64 },
    /// The server's copy of this agent's journal differs from the PC's.
    #[error(
        "the server's copy of this journal differs from the local one at or before entry #{at}. \
         Uploading is stopped so that nothing is sent under numbers already used. Restore this \
         data directory from its backup, or tell the IT staff"
    )]
    JournalDiffers { at: u64 },
    /// The server no longer accepts this agent's version.
    #[error(
        "the central server accepts hotich-agent {required} or newer; this PC runs {running}. \
         Install hotich-agent {required} or newer (ask the IT staff); the records already \
         entered stay in the journal and are sent after the upgrade"
    )]
    TooOld { running: String, required: String },
    /// A failure of this program (a request that does not serialize, a
    /// task that panicked), not of the network or the server.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An error as it is kept (sync state, events) to be worded later in the
/// reader's language: a stable kind and its values; `text` is the English.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorInfo {
    pub kind: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub args: std::collections::BTreeMap<String, String>,
    pub text: String,
}

/// What an OS connect error means for the person reading it: the server
/// answered "no" (not running, wrong port), its name is unknown (no
/// network, a typo), or there is no route (cable, Wi-Fi).
fn connect_failure(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("refused") {
        "refused"
    } else if d.contains("dns") || d.contains("resolve") || d.contains("name or service") {
        "dns"
    } else if d.contains("unreachable") || d.contains("no route") {
        "unreachable"
    } else {
        "other"
    }
}

impl ApiError {
    /// A stable name for the kind of failure (the catalog has `api-error-<kind>`).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Connect(_) => "connect",
            ApiError::Timeout(_) => "timeout",
            ApiError::Transport(_) => "transport",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TooLarge(_) => "too-large",
            ApiError::Refused { .. } => "refused",
            ApiError::BadAnswer(_) => "bad-answer",
            ApiError::Setup(_) => "setup",
            ApiError::JournalBehind { .. } => "journal-behind",
            ApiError::JournalDiffers { .. } => "journal-differs",
            ApiError::Internal(_) => "internal",
            ApiError::TooOld { .. } => "too-old",
        }
    }

    pub fn info(&self) -> ErrorInfo {
        let mut args = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: String| {
            args.insert(k.to_string(), v);
        };
        match self {
            ApiError::Connect(d) => {
                put("detail", d.clone());
                put("why", connect_failure(d).to_string());
            }
            ApiError::Transport(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::TooLarge(d)
            | ApiError::BadAnswer(d)
            | ApiError::Setup(d)
            | ApiError::Internal(d) => put("detail", d.clone()),
            ApiError::Timeout(s) => put("secs", s.to_string()),
            ApiError::Unavailable {
                status, message, ..
            }
            | ApiError::Refused { status, message } => {
                put("status", status.to_string());
                put("detail", message.clone());
            }
            ApiError::JournalBehind { server, local } => {
                put("server", server.to_string());
                put("local", local.to_string());
            }
            ApiError::JournalDiffers { at } => put("at", at.to_string()),
            ApiError::TooOld { running, required } => {
                put("running", running.clone());
                put("required", required.clone());
            }
        }
        ErrorInfo {
            kind: self.kind().to_string(),
            args,
            text: self.to_string(),
        }
    }

    pub fn retry_class(&self) -> RetryClass {
        match self {
            ApiError::Connect(_)
            | ApiError::Timeout(_)
            | ApiError::Transport(_)
            | ApiError::BadAnswer(_) => RetryClass::Transient { retry_after: None },
            ApiError::Unavailable { retry_after, .. } => RetryClass::Transient {
                retry_after: *retry_after,
            },
            ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::TooLarge(_)
            | ApiError::Refused { .. }
            | ApiError::Setup(_)
            | ApiError::JournalBehind { .. }
            | ApiError::JournalDiffers { .. }
            | ApiError::TooOld { .. }
            | ApiError::Internal(_) => RetryClass::Permanent,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self.retry_class(), RetryClass::Transient { .. })
    }

    /// The link itself struggled (as opposed to the server answering "no"):
    /// smaller batches are more likely to get through.
    pub fn is_link_failure(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout(_) | ApiError::Transport(_) | ApiError::Connect(_)
        )
    }

    /// A connection that broke after the request started (a link that
    /// cuts now and then), as opposed to one that never connected or went
    /// silent (a timeout): a smaller request may get through at once, so the
    /// batch shrinks within the round.
    pub fn broke_mid_request(&self) -> bool {
        matches!(self, ApiError::Transport(_))
    }

    /// Whether the server answered at all.
    pub fn server_reached(&self) -> bool {
        !matches!(
            self,
            ApiError::Connect(_)
                | ApiError::Timeout(_)
                | ApiError::Transport(_)
                | ApiError::Setup(_)
                | ApiError::Internal(_)
        )
    }
}

/// The innermost cause, which is the part a person can act on
/// ("Connection refused", "dns error") rather than "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// An idle connection is kept this long (and probed at this interval), so a
/// sync round reuses it without holding sockets open for hours.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// A non-JSON error body is shown up to this many characters.
const ERROR_TEXT_SHOWN: usize = 200;

#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
    timeout: Duration,
    pacer: std::sync::Arc<crate::ratelimit::Pacer>,
}

impl ApiClient {
    pub fn new(config: &AgentConfig) -> Result<ApiClient, ApiError> {
        if config.token.is_empty() {
            // Shown to an official: worded by the catalog.
            return Err(ApiError::Setup(crate::tr!("client-token-unreadable")));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.sync.connect_timeout())
            .timeout(config.sync.request_timeout())
            .read_timeout(config.sync.request_timeout())
            .pool_idle_timeout(IDLE_CONNECTION)
            .tcp_keepalive(IDLE_CONNECTION);
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                ApiError::Setup(format!(
                    "cannot read CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ApiError::Setup(format!("{}: {e}", path.display())))?;
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Setup(root_cause(&e)))?;
        Ok(ApiClient {
            http,
            base: config.server.trim_end_matches('/').to_string(),
            token: config.token.clone(),
            timeout: config.sync.request_timeout(),
            pacer: crate::ratelimit::Pacer::new(config.upload_limit.clone()),
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout(self.timeout.as_secs().max(1))
        } else if e.is_connect() {
            ApiError::Connect(root_cause(&e))
        } else {
            ApiError::Transport(root_cause(&e))
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(e))?;
            return serde_json::from_slice(&bytes).map_err(|e| ApiError::BadAnswer(e.to_string()));
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        let parsed = serde_json::from_slice::<ErrorBody>(&body);
        if let Ok(ErrorBody {
            error,
            min_agent_version: Some(required),
            ..
        }) = &parsed
            && error == hotich_protocol::wire::AGENT_TOO_OLD
        {
            return Err(ApiError::TooOld {
                running: env!("CARGO_PKG_VERSION").to_string(),
                required: required.clone(),
            });
        }
        let message = parsed.map(|b| b.message).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no reason given")
                    .to_string()
            } else {
                text.chars().take(ERROR_TEXT_SHOWN).collect()
            }
        });
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(message),
            StatusCode::FORBIDDEN => ApiError::Forbidden(message),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(message),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => ApiError::Unavailable {
                status: status.as_u16(),
                message,
                retry_after,
            },
            s if s.is_server_error() => ApiError::Unavailable {
                status: s.as_u16(),
                message,
                retry_after,
            },
            s => ApiError::Refused {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// Uploads an already-compressed batch body (see [`encode_upload`]).
    pub async fn upload(&self, zstd_body: Vec<u8>) -> Result<UploadResponse, ApiError> {
        let request = self
            .http
            .post(format!("{}{UPLOAD_PATH}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "zstd");
        self.send(self.paced(request, zstd_body)).await
    }

    pub async fn have(&self, request: &HaveRequest) -> Result<HaveResponse, ApiError> {
        // A page of 1,000 hex hashes is 67 KB as JSON; compressed it is half.
        let json = serde_json::to_vec(request).map_err(|e| ApiError::Internal(e.to_string()))?;
        let body = zstd::bulk::compress(&json, ZSTD_LEVEL)
            .map_err(|e| ApiError::Internal(format!("compression failed: {e}")))?;
        let request = self
            .http
            .post(format!("{}{HAVE_PATH}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "zstd");
        self.send(self.paced(request, body)).await
    }

    pub async fn chain(&self) -> Result<ChainState, ApiError> {
        self.send(self.http.get(format!("{}{CHAIN_PATH}", self.base)))
            .await
    }

    /// A page of this agent's journal as the server holds it (`recover`).
    pub async fn journal_page(
        &self,
        code: &str,
        from: u64,
        limit: usize,
    ) -> Result<hotich_protocol::wire::JournalPage, ApiError> {
        self.send(
            self.http
                .get(format!(
                    "{}{}?from={from}&limit={limit}",
                    self.base,
                    hotich_protocol::wire::JOURNAL_PATH
                ))
                .header(hotich_protocol::wire::RECOVERY_HEADER, code),
        )
        .await
    }

    /// How much of a page scan the server holds for this agent's commune.
    pub async fn blob_status(
        &self,
        sha256: &str,
    ) -> Result<hotich_protocol::wire::BlobStatus, ApiError> {
        self.send(self.http.get(format!(
            "{}{}/{sha256}",
            self.base,
            hotich_protocol::wire::BLOBS_PATH
        )))
        .await
    }

    /// Sends bytes `offset..offset + chunk.len()` of a scan of `length`
    /// bytes, with the chunk's own hash; the answer says where the upload
    /// stands on the server.
    pub async fn blob_append(
        &self,
        sha256: &str,
        offset: u64,
        length: u64,
        chunk: Vec<u8>,
    ) -> Result<hotich_protocol::wire::BlobStatus, ApiError> {
        use sha2::Digest;
        let chunk_hash = hex::encode(sha2::Sha256::digest(&chunk));
        let request = self
            .http
            .patch(format!(
                "{}{}/{sha256}?offset={offset}&length={length}",
                self.base,
                hotich_protocol::wire::BLOBS_PATH
            ))
            .header(CONTENT_TYPE, "application/offset+octet-stream")
            .header(hotich_protocol::wire::CHUNK_SHA256_HEADER, chunk_hash);
        self.send(self.paced(request, chunk)).await
    }

    /// A small JSON request through the upload pacer (it shares the
    /// commune's link with the records).
    async fn post_json<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp, ApiError> {
        let body = serde_json::to_vec(request).map_err(|e| ApiError::Internal(e.to_string()))?;
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json");
        self.send(self.paced(request, body)).await
    }

    /// Scans attached to records after they were entered.
    pub async fn attachments(
        &self,
        request: &hotich_protocol::wire::AttachmentsRequest,
    ) -> Result<hotich_protocol::wire::AttachmentsResponse, ApiError> {
        self.post_json(hotich_protocol::wire::ATTACHMENTS_PATH, request)
            .await
    }

    /// Second keyings and third looks.
    pub async fn keyings(
        &self,
        request: &hotich_protocol::books::KeyingsRequest,
    ) -> Result<hotich_protocol::books::KeyingsResponse, ApiError> {
        self.post_json(hotich_protocol::books::KEYINGS_PATH, request)
            .await
    }

    /// Books declared closed.
    pub async fn close_books(
        &self,
        request: &hotich_protocol::books::BooksRequest,
    ) -> Result<hotich_protocol::books::BooksResponse, ApiError> {
        self.post_json(hotich_protocol::books::BOOKS_PATH, request)
            .await
    }

    /// The commune's discrepancies between first and second keyings, as the
    /// centre sees them (every PC's keyings).
    pub async fn review(&self) -> Result<hotich_protocol::books::ReviewResponse, ApiError> {
        self.send(self.http.get(format!(
            "{}{}",
            self.base,
            hotich_protocol::books::REVIEW_PATH
        )))
        .await
    }

    /// The commune's books as the centre sees them.
    pub async fn book_reports(&self) -> Result<Vec<hotich_protocol::books::BookReport>, ApiError> {
        self.send(self.http.get(format!(
            "{}{}",
            self.base,
            hotich_protocol::books::BOOKS_PATH
        )))
        .await
    }

    /// The public key the centre signs receipts with.
    pub async fn receipt_key(&self) -> Result<hotich_protocol::wire::ReceiptKey, ApiError> {
        self.send(self.http.get(format!(
            "{}{}",
            self.base,
            hotich_protocol::wire::RECEIPT_KEY_PATH
        )))
        .await
    }

    /// Who the server takes this token for (`init`, `doctor`).
    pub async fn whoami(&self) -> Result<WhoAmI, ApiError> {
        self.send(self.http.get(format!("{}{WHOAMI_PATH}", self.base)))
            .await
    }

    /// Whether the server answers at all: a bare `GET /healthz` (no token, no
    /// body), cheap enough to ask every few seconds while the link is down.
    pub async fn probe(&self) -> bool {
        let asked = self
            .http
            .get(format!("{}/healthz", self.base))
            .timeout(self.timeout.min(PROBE_TIMEOUT))
            .send()
            .await;
        matches!(asked, Ok(answer) if answer.status().is_success())
    }

    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<HeartbeatAck, ApiError> {
        let json = serde_json::to_vec(beat).map_err(|e| ApiError::Internal(e.to_string()))?;
        let request = self
            .http
            .post(format!("{}{HEARTBEAT_PATH}", self.base))
            .header(CONTENT_TYPE, "application/json");
        self.send(self.paced(request, json)).await
    }

    /// How long the upload limit in force holds back a body of `bytes`:
    /// the time such a request takes by design, not because the link is slow.
    pub fn pacing_for(&self, bytes: usize) -> Duration {
        self.pacer.time_for(bytes)
    }

    /// A request with its body paced to the upload limit in force, and its
    /// timeout lengthened by the time the pacing itself takes.
    fn paced(&self, request: reqwest::RequestBuilder, body: Vec<u8>) -> reqwest::RequestBuilder {
        let extra = self.pacing_for(body.len());
        let request = request
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(self.pacer.body(body));
        if extra.is_zero() {
            request
        } else {
            request.timeout(self.timeout + extra)
        }
    }
}

/// Serializes and compresses an upload batch: 1 KB records go as about 125
/// bytes each.
pub fn encode_upload(request: &UploadRequest) -> Result<Vec<u8>, ApiError> {
    let failed = |e: std::io::Error| ApiError::Internal(format!("compression failed: {e}"));
    // Compressed as it is written: a batch of several MiB of records is
    // never held a second time as JSON (nor a third in a buffer sized for
    // the worst case of compressing it), which is what lets batches be
    // large within the agent's memory. Records compress about tenfold.
    let size: usize = request
        .entries
        .iter()
        .map(|e| e.record.get().len() + ENTRY_OVERHEAD)
        .sum();
    let encoder = zstd::stream::write::Encoder::new(Vec::with_capacity(size / 8), ZSTD_LEVEL)
        .map_err(failed)?;
    // serde_json writes token by token; the compressor is fed in blocks.
    let mut writer = std::io::BufWriter::with_capacity(64 * 1024, encoder);
    serde_json::to_writer(&mut writer, request).map_err(|e| ApiError::Internal(e.to_string()))?;
    let encoder = writer.into_inner().map_err(|e| failed(e.into_error()))?;
    encoder.finish().map_err(failed)
}

/// A probe that has not been answered after this long is a link still down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// About what an entry adds to its record in an upload body (seq, hash,
/// times, keys).
const ENTRY_OVERHEAD: usize = 192;

/// zstd level of request bodies. On batches of records, level 1 compresses
/// as well as level 3 (125 against 126 bytes a record, `bench stages`) in
/// two thirds of the time: the long repeats (keys, places) are what counts.
const ZSTD_LEVEL: i32 = 1;
