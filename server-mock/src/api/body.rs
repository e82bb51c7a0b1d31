//! Reading request bodies within bounds: a size limit (after
//! decompression), and a pace: a body that stops arriving, or arrives slower
//! than a poor commune link would send it, is cut off. There is no total
//! deadline, so a large upload over a 256 kbit/s link still finishes.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::ApiError;

/// A body that sends nothing for this long is abandoned.
pub const BODY_IDLE: Duration = Duration::from_secs(30);

/// After this long, a body must average at least [`MIN_BODY_RATE`].
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(20);

/// Bytes per second, well under a 256 kbit/s link (32 KB/s) at its worst.
pub const MIN_BODY_RATE: u64 = 1024;

/// Reads the (already decompressed) body, refusing more than `limit` bytes.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::TooLarge(format!("the request body is larger than {limit} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let start = Instant::now();
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    loop {
        let next = tokio::time::timeout(BODY_IDLE, stream.next())
            .await
            .map_err(|_| {
                ApiError::TooSlow(format!(
                    "nothing of the body arrived for {} s",
                    BODY_IDLE.as_secs()
                ))
            })?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest(format!("the body could not be read or decompressed: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
        let elapsed = start.elapsed();
        if elapsed > BODY_RATE_GRACE && (buf.len() as u64) < MIN_BODY_RATE * elapsed.as_secs() {
            return Err(ApiError::TooSlow(format!(
                "the body arrived at {} bytes/s; at least {MIN_BODY_RATE} are needed",
                buf.len() as u64 / elapsed.as_secs().max(1)
            )));
        }
    }
    Ok(Bytes::from(buf))
}
