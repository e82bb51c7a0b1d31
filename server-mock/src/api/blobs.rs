//! `GET|PATCH /api/v1/blobs/{sha256}`: page scans, uploaded in chunks that
//! resume from the last byte the server committed (see [`crate::blobs`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use hotich_protocol::ContentHash;
use hotich_protocol::wire::{
    AttachmentResult, AttachmentsRequest, AttachmentsResponse, BlobStatus, CHUNK_SHA256_HEADER,
    MAX_ATTACHMENTS, MAX_BLOB_BYTES, MAX_BLOB_CHUNK,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::body::read_body;
use super::{ApiError, AppState, authenticate};
use crate::blobs::{Appended, BlobBackend};
use crate::store::Storage;

/// Agents with a scan chunk in progress: one at a time each, so two
/// copies of one agent cannot interleave chunks of a file.
#[derive(Debug, Default)]
pub struct BlobGate(Mutex<HashSet<i64>>);

struct BlobSlot<'g> {
    gate: &'g BlobGate,
    agent: i64,
}

impl BlobGate {
    fn take(&self, agent: i64) -> Option<BlobSlot<'_>> {
        let newly_busy = self.0.lock().ok()?.insert(agent);
        // The slot is made only when taken, after the lock is released: a
        // slot dropped (as `then_some` would, eagerly) removes the agent
        // and takes the lock; under the lock that froze the worker thread.
        newly_busy.then(|| BlobSlot { gate: self, agent })
    }
}

#[cfg(test)]
mod tests {
    use super::BlobGate;

    #[test]
    fn a_second_chunk_of_a_busy_agent_is_refused_without_freeing_the_first() {
        let gate = BlobGate::default();
        let first = gate.take(1).expect("free");
        assert!(gate.take(1).is_none(), "busy");
        assert!(
            gate.take(1).is_none(),
            "still busy: the refusal freed nothing"
        );
        assert!(gate.take(2).is_some(), "another agent is not held up");
        drop(first);
        assert!(gate.take(1).is_some(), "free again");
    }
}

impl Drop for BlobSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.gate.0.lock() {
            busy.remove(&self.agent);
        }
    }
}

fn backend<S>(state: &AppState<S>) -> Result<Arc<dyn BlobBackend>, ApiError> {
    state.blobs.clone().ok_or_else(|| {
        ApiError::Unavailable("this server keeps no page scans (start it with --blobs DIR)".into())
    })
}

fn scan_hash(text: &str) -> Result<ContentHash, ApiError> {
    ContentHash::from_hex(text)
        .map_err(|e| ApiError::BadRequest(format!("not a SHA-256 scan name: {e}")))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::error!(%error, "scan storage failed");
            Err(ApiError::Internal(
                "the scan storage failed; try again later".into(),
            ))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// How much of a scan the server holds for the calling agent.
pub async fn status<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> Result<axum::Json<BlobStatus>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let blobs = backend(&state)?;
    let sha = scan_hash(&sha)?;
    let (held_sha, commune) = (sha, agent.commune.clone());
    let status = blocking(move || {
        if blobs.held(&agent.commune, &sha)? {
            return Ok(BlobStatus {
                offset: blobs.len(&sha)?,
                complete: true,
            });
        }
        Ok(BlobStatus {
            offset: blobs.partial_len(agent.id, &sha)?,
            complete: false,
        })
    })
    .await?;
    // Also noted here: the answer to a completing chunk may have been lost
    // before the database heard of it.
    if status.complete {
        note_held(&state, &commune, &held_sha).await?;
    }
    Ok(axum::Json(status))
}

/// Records the scan as held for the commune (the missing-scans report).
async fn note_held<S: Storage>(
    state: &AppState<S>,
    commune: &str,
    sha: &ContentHash,
) -> Result<(), ApiError> {
    state
        .store
        .note_scan_held(commune, &sha.to_hex(), hotich_protocol::Timestamp::now())
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct ChunkQuery {
    offset: u64,
    length: u64,
}

/// Appends one chunk. The answer says where the upload stands: past this
/// chunk, complete, or (a chunk lost or repeated) where to resume.
pub async fn append<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    Query(at): Query<ChunkQuery>,
    body: Body,
) -> Result<axum::Json<BlobStatus>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let blobs = backend(&state)?;
    let sha = scan_hash(&sha)?;
    if at.length == 0 || at.length > MAX_BLOB_BYTES {
        return Err(ApiError::TooLarge(format!(
            "a scan is at most {MAX_BLOB_BYTES} bytes (this one says {})",
            at.length
        )));
    }
    let _slot = state.blob_gate.take(agent.id).ok_or_else(|| {
        ApiError::Busy("a scan chunk of this agent is already being received".into())
    })?;
    let chunk = read_body(&headers, body, MAX_BLOB_CHUNK).await?;
    if at.offset + chunk.len() as u64 > at.length {
        return Err(ApiError::BadRequest(format!(
            "the chunk ends at byte {}, past the scan's length {}",
            at.offset + chunk.len() as u64,
            at.length
        )));
    }
    let declared = headers
        .get(CHUNK_SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if hex::encode(Sha256::digest(&chunk)) != declared.to_ascii_lowercase() {
        return Err(ApiError::BadRequest(format!(
            "the chunk does not match its {CHUNK_SHA256_HEADER} (damaged on the way); send it again"
        )));
    }
    let length = at.length;
    let commune = agent.commune.clone();
    let appended = blocking(move || {
        if blobs.held(&agent.commune, &sha)? {
            return Ok(Appended::Complete);
        }
        blobs.append(agent.id, &agent.commune, &sha, at.offset, length, &chunk)
    })
    .await?;
    let status = match appended {
        Appended::Partial(offset) | Appended::Elsewhere(offset) => BlobStatus {
            offset,
            complete: false,
        },
        Appended::Complete => {
            note_held(&state, &commune, &sha).await?;
            BlobStatus {
                offset: length,
                complete: true,
            }
        }
        Appended::Mismatch => {
            return Err(ApiError::BadRequest(
                "the scan's bytes do not hash to its name; it was discarded".into(),
            ));
        }
        Appended::TooManyPartials => {
            return Err(ApiError::Busy(format!(
                "this agent has {} unfinished scans; finish one first",
                crate::blobs::MAX_PARTIALS_PER_AGENT
            )));
        }
    };
    Ok(axum::Json(status))
}

/// The media types a page scan may have (as the agent reads them from the
/// file's first bytes).
const SCAN_MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/tiff", "application/pdf"];

/// Attachments without the record's seq looked up per request.
pub const ATTACHMENTS_WITHOUT_SEQ: usize = 8;

/// `POST /api/v1/attachments`: scans found after their record was entered.
pub async fn attach<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<AttachmentsResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, MAX_ATTACHMENTS * 400 + 1024).await?;
    let request: AttachmentsRequest = super::queries::parse_json(&bytes)?;
    if request.attachments.len() > MAX_ATTACHMENTS {
        return Err(ApiError::TooLarge(format!(
            "at most {MAX_ATTACHMENTS} attachments per request"
        )));
    }
    // One unacceptable attachment is refused alone: the rest go in.
    let acceptable = |a: &hotich_protocol::wire::Attachment| {
        (1..=MAX_BLOB_BYTES).contains(&a.scan.bytes)
            && SCAN_MEDIA_TYPES.contains(&a.scan.media_type.as_str())
    };
    let mut results = vec![AttachmentResult::Refused; request.attachments.len()];
    // Without the record's seq (an agent older than it) the store reads the
    // commune's records in turn to find it: only a few such per request, so
    // one agent cannot make each request cost hundreds of those. The rest
    // are "unknown" for now, which such an agent sends again next round.
    let mut without_seq = 0;
    let (taken, attachments): (Vec<usize>, Vec<_>) = request
        .attachments
        .into_iter()
        .enumerate()
        .filter(|(_, a)| acceptable(a))
        .filter(|(i, a)| {
            if a.seq.is_some() {
                return true;
            }
            without_seq += 1;
            if without_seq > ATTACHMENTS_WITHOUT_SEQ {
                results[*i] = AttachmentResult::UnknownRecord;
                return false;
            }
            true
        })
        .unzip();
    let stored = state
        .store
        .attach_scans(
            agent.id,
            &agent.commune,
            attachments,
            hotich_protocol::Timestamp::now(),
        )
        .await?;
    for (i, result) in taken.into_iter().zip(stored) {
        results[i] = result;
    }
    Ok(axum::Json(AttachmentsResponse { results }))
}
