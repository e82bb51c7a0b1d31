//! Fault injection for tests and demos, seeded and reproducible: fail a
//! request before processing it (503 or a TCP reset), process it and then drop
//! the connection without answering, add delay, or commit an upload and then
//! answer for only part of it or with a status the agent does not know; each
//! with a probability.
//!
//! Connection-level faults use the connection's kill switch (see
//! [`crate::conn`]): the next write fails and hyper closes the connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hotich_protocol::wire::{ErrorBody, HEARTBEAT_PATH, UPLOAD_PATH};

use crate::conn::ConnInfo;

/// How a request fails before processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// Answer 503 Service Unavailable with a Retry-After.
    #[value(name = "503")]
    Unavailable,
    /// Reset the TCP connection without answering.
    Reset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChaosConfig {
    pub seed: u64,
    /// Probability that a request fails before it is processed.
    pub fail_before: f64,
    pub fail_mode: FailMode,
    /// Probability that a request is processed (and committed) but its
    /// connection is dropped instead of answered.
    pub drop_after_commit: f64,
    /// Probability of an added delay, and its length.
    pub delay: f64,
    pub delay_ms: u64,
    /// The Retry-After of an injected 503, in seconds.
    pub retry_after_secs: u64,
    /// Probability that a committed upload is answered for its first half only.
    pub truncate_answer: f64,
    /// Probability that a committed upload's entries are all answered with a
    /// status from a newer server (which the agent does not know).
    pub unknown_status: f64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            seed: 1,
            fail_before: 0.0,
            fail_mode: FailMode::Unavailable,
            drop_after_commit: 0.0,
            delay: 0.0,
            delay_ms: 0,
            retry_after_secs: 1,
            truncate_answer: 0.0,
            unknown_status: 0.0,
        }
    }
}

impl ChaosConfig {
    pub fn is_off(&self) -> bool {
        self.fail_before <= 0.0
            && self.drop_after_commit <= 0.0
            && (self.delay <= 0.0 || self.delay_ms == 0)
            && self.truncate_answer <= 0.0
            && self.unknown_status <= 0.0
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, p) in [
            ("--chaos-fail-before", self.fail_before),
            ("--chaos-drop-after-commit", self.drop_after_commit),
            ("--chaos-delay", self.delay),
            ("--chaos-truncate-answer", self.truncate_answer),
            ("--chaos-unknown-status", self.unknown_status),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} is a probability between 0 and 1, not {p}"));
            }
        }
        Ok(())
    }
}

/// Decides faults with a seeded generator, so a run can be replayed.
#[derive(Debug)]
pub struct Chaos {
    pub config: ChaosConfig,
    rng: Mutex<fastrand::Rng>,
}

impl Chaos {
    pub fn new(config: ChaosConfig) -> Self {
        Chaos {
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            config,
        }
    }

    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.f64() < p
    }
}

/// The middleware around the API routes.
pub async fn inject(
    State(chaos): State<Arc<Chaos>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    request: Request,
    next: Next,
) -> Response {
    let c = &chaos.config;
    if c.is_off() {
        return next.run(request).await;
    }
    if c.delay_ms > 0 && chaos.roll(c.delay) {
        tokio::time::sleep(Duration::from_millis(c.delay_ms)).await;
    }
    if chaos.roll(c.fail_before) {
        tracing::debug!(path = %request.uri().path(), mode = ?c.fail_mode, "chaos: failing before processing");
        if c.fail_mode == FailMode::Reset {
            conn.kill.reset_connection();
        }
        return injected_unavailable(c.retry_after_secs);
    }
    // Only requests that commit something can lose their answer "after commit".
    let path = request.uri().path().to_owned();
    let commits = matches!(path.as_str(), UPLOAD_PATH | HEARTBEAT_PATH);
    let response = next.run(request).await;
    if commits && response.status().is_success() && chaos.roll(c.drop_after_commit) {
        tracing::debug!("chaos: dropping the connection after processing");
        conn.kill.drop_connection();
    }
    if path == UPLOAD_PATH && response.status().is_success() {
        let truncate = chaos.roll(c.truncate_answer);
        let unknown = chaos.roll(c.unknown_status);
        if truncate || unknown {
            return rewrite_answer(response, truncate, unknown).await;
        }
    }
    response
}

/// A committed upload's answer, mangled as a buggy or newer server might.
async fn rewrite_answer(response: Response, truncate: bool, unknown: bool) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return injected_unavailable(1);
    };
    let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    if let Some(results) = answer
        .get_mut("results")
        .and_then(serde_json::Value::as_array_mut)
    {
        if truncate {
            tracing::debug!("chaos: answering for the first half of the batch only");
            results.truncate(results.len() / 2);
        }
        if unknown {
            tracing::debug!("chaos: answering with a status the agent does not know");
            for r in results.iter_mut() {
                r["status"] = serde_json::Value::from("held_for_review");
            }
        }
    }
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(answer.to_string()))
}

/// The answer of a request failed on purpose: what an overloaded server says.
fn injected_unavailable(retry_after_secs: u64) -> Response {
    let body = ErrorBody {
        error: "unavailable".into(),
        message: "chaos: injected failure".into(),
        retryable: true,
        min_agent_version: None,
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let config = ChaosConfig {
            seed: 42,
            fail_before: 0.2,
            ..ChaosConfig::default()
        };
        let a = Chaos::new(config.clone());
        let b = Chaos::new(config);
        let ra: Vec<bool> = (0..1000).map(|_| a.roll(0.2)).collect();
        let rb: Vec<bool> = (0..1000).map(|_| b.roll(0.2)).collect();
        assert_eq!(ra, rb);
        let hits = ra.iter().filter(|x| **x).count();
        assert!((150..250).contains(&hits), "{hits}");
    }
}
