//! Errors as HTTP answers: a status and an [`ErrorBody`] (JSON) on every
//! non-2xx, including the ones the framework makes itself (405, 415).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hotich_protocol::wire::ErrorBody;

use crate::store::StoreError;

/// How long a client told to come back (429, 503) should wait, in seconds:
/// short, because a cut request may hold its slot until its read times out.
pub const RETRY_AFTER_SECS: u64 = 1;

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
    /// The body arrived too slowly (or stopped arriving).
    #[error("{0}")]
    TooSlow(String),
    /// This agent already has an upload in progress.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    #[error("no such endpoint")]
    NotFound,
    /// The agent is older than the server accepts: only installing a newer
    /// one helps, so the message names the version to install.
    #[error(
        "this hotich-agent is version {running}; the central server accepts version {required} or newer. Install hotich-agent {required} or newer on this PC (ask the IT staff); the records already entered stay in the journal and are sent after the upgrade"
    )]
    AgentTooOld {
        running: String,
        required: hotich_protocol::wire::Version,
    },
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failed");
        ApiError::Internal("the central database failed; try again later".into())
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, bool) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", false),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", false),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", false),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", false),
            ApiError::TooSlow(_) => (StatusCode::REQUEST_TIMEOUT, "too_slow", true),
            ApiError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy", true),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", true),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", true),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", false),
            ApiError::AgentTooOld { .. } => (
                StatusCode::UPGRADE_REQUIRED,
                hotich_protocol::wire::AGENT_TOO_OLD,
                false,
            ),
        }
    }
}

fn error_response(status: StatusCode, code: &str, message: String, retryable: bool) -> Response {
    let body = ErrorBody {
        error: code.into(),
        message,
        retryable,
        min_agent_version: None,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, retryable) = self.parts();
        let mut response = error_response(status, code, self.to_string(), retryable);
        if let ApiError::AgentTooOld { required, .. } = &self {
            let body = ErrorBody {
                error: code.into(),
                message: self.to_string(),
                retryable,
                min_agent_version: Some(required.to_string()),
            };
            response = (status, axum::Json(body)).into_response();
        }
        response
    }
}

/// Gives every error answer a JSON [`ErrorBody`]: the protocol promises one,
/// and answers the router or a layer makes (405, 415, 413) have none.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The dashboard's own pages answer people in HTML, on purpose.
    let has_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if has_body {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_encoding",
            "the body's Content-Encoding is not supported (use zstd, gzip or none)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        s => (
            if s.is_server_error() {
                "internal"
            } else {
                "bad_request"
            },
            s.canonical_reason().unwrap_or("the request failed"),
        ),
    };
    let retryable = status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT
        );
    error_response(status, code, message.into(), retryable)
}
