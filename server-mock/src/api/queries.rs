//! The agent's other calls: have/lack, its chain as the server holds it,
//! and heartbeats.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use hotich_protocol::Timestamp;
use hotich_protocol::wire::{
    ChainState, HaveRequest, HaveResponse, Heartbeat, HeartbeatAck, MAX_SEQ, WhoAmI,
};
use serde::de::DeserializeOwned;

use super::body::read_body;
use super::{ApiError, AppState, authenticate};
use crate::store::Storage;

/// A heartbeat is a few hundred bytes; anything near this is not one.
pub const HEARTBEAT_MAX_BYTES: usize = 64 * 1024;

pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let shown = hotich_protocol::validate::shown(&text);
        ApiError::BadRequest(format!("malformed JSON body: {shown}"))
    })
}

/// Which of these records (of the caller's own commune) the server lacks,
/// and which of the caller's seqs it holds no link for.
pub async fn have<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<HaveResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    // 10,000 hex hashes and seqs are under 1 MB of JSON.
    let limit = state.limits.max_have * 100 + 1024;
    let bytes = read_body(&headers, body, limit).await?;
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
    if let Some(seq) = request.seqs.iter().find(|s| **s == 0 || **s > MAX_SEQ) {
        return Err(ApiError::BadRequest(format!(
            "seq {seq} is not between 1 and {MAX_SEQ}"
        )));
    }
    // Answered from this agent's own links: a content is held if the link
    // at its seq names it and it was stored, not refused. An agent that
    // sends no seqs (older than them) is answered "lacking" for all and
    // sends them again; the server then answers "duplicate": more bytes,
    // never a wrong answer.
    let (mut lacking, mut unlinked) = (Vec::new(), Vec::new());
    if let (Some(low), Some(high)) = (request.seqs.iter().min(), request.seqs.iter().max()) {
        let links = state.store.links_between(agent.id, *low, *high).await?;
        for (seq, hash) in request.seqs.iter().zip(&request.hashes) {
            match links.get(seq) {
                Some(link) if link.content_hash == *hash => {
                    if !link.held {
                        lacking.push(*hash);
                    }
                }
                _ => {
                    unlinked.push(*seq);
                    lacking.push(*hash);
                }
            }
        }
    } else {
        lacking = request.hashes;
    }
    let chain = state.store.chain_state(agent.id).await?;
    Ok(axum::Json(HaveResponse {
        lacking,
        unlinked,
        chain,
    }))
}

pub async fn chain<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<axum::Json<ChainState>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    Ok(axum::Json(state.store.chain_state(agent.id).await?))
}

/// Who this token belongs to: what `init` and `doctor` check before anything
/// is written or sent. Outside fault injection: it is a setup check.
pub async fn whoami<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<axum::Json<WhoAmI>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let province = agent.province.as_deref().map(|code| {
        crate::provinces::by_code(code).map_or_else(|| code.to_string(), |p| p.name.to_string())
    });
    Ok(axum::Json(WhoAmI {
        agent_id: agent.id,
        commune: agent.commune,
        name: agent.name,
        province,
        area: agent.area,
        server_time: Timestamp::now(),
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        journal_seq: agent.contiguous_seq,
    }))
}

pub async fn heartbeat<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<HeartbeatAck>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, HEARTBEAT_MAX_BYTES).await?;
    let beat: Heartbeat = parse_json(&bytes)?;
    let now = Timestamp::now();
    state
        .heartbeats
        .store(crate::store::monitor::BeatIn {
            agent_id: agent.id,
            beat: trimmed(beat),
            at: now,
        })
        .await?;
    state.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
    Ok(axum::Json(HeartbeatAck { server_time: now }))
}

/// A heartbeat within what the dashboard stores: its last warnings, each cut short.
fn trimmed(mut beat: Heartbeat) -> Heartbeat {
    use hotich_protocol::wire::HEARTBEAT_WARNINGS;
    let extra = beat.warnings.len().saturating_sub(HEARTBEAT_WARNINGS);
    beat.warnings.drain(..extra);
    for w in &mut beat.warnings {
        w.message = crate::store::cap_text(&w.message);
        w.level = crate::store::cap_text(&w.level);
    }
    if let Some(e) = &mut beat.last_error {
        *e = crate::store::cap_text(e);
    }
    // An agent reports at most this many dismissals per heartbeat.
    beat.dismissed.truncate(100);
    for d in &mut beat.dismissed {
        d.reason = crate::store::cap_text(&d.reason);
        d.hash = crate::store::cap_text(&d.hash);
    }
    beat
}

#[derive(Debug, serde::Deserialize)]
pub struct JournalQuery {
    #[serde(default)]
    from: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /api/v1/journal`: the calling agent's journal as the server holds
/// it, for `recover`. A commune's records are powerful to hand out, so the
/// token alone is not enough: the request needs a recovery code IT staff
/// made for this agent; the code is spent once the last page is served.
pub async fn journal<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<JournalQuery>,
) -> Result<axum::Json<hotich_protocol::wire::JournalPage>, ApiError> {
    use hotich_protocol::wire::{JOURNAL_PAGE_MAX, JournalEntry, JournalPage, RECOVERY_HEADER};
    let agent = authenticate(&state, &headers).await?;
    let code = headers
        .get(RECOVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let code_hash = crate::auth::token_hash(code);
    if code.is_empty() || !state.store.recovery_code_valid(agent.id, code_hash).await? {
        return Err(ApiError::Forbidden(
            "the recovery code is missing, unknown, used or expired: ask the IT staff for a new \
             one (`hotich-server agent recovery-code ID`)"
                .into(),
        ));
    }
    let from = query.from.unwrap_or(1).max(1);
    let limit = query
        .limit
        .unwrap_or(JOURNAL_PAGE_MAX)
        .clamp(1, JOURNAL_PAGE_MAX);
    let rows = state.store.journal_page(agent.id, from, limit).await?;
    if rows.len() < limit {
        state.store.use_recovery_code(agent.id, code_hash).await?;
        tracing::info!(agent = agent.id, "journal recovered; recovery code spent");
    }
    Ok(axum::Json(JournalPage {
        contiguous_seq: agent.contiguous_seq,
        entries: rows
            .into_iter()
            .map(|r| JournalEntry {
                seq: r.seq,
                hash: r.content_hash,
                chain: r.chain,
                stored: r.stored,
                record: r.record,
            })
            .collect(),
    }))
}

/// The public key receipts are signed with; anyone may read it.
pub async fn receipt_key<S: Storage>(
    State(state): State<AppState<S>>,
) -> axum::Json<hotich_protocol::wire::ReceiptKey> {
    axum::Json(hotich_protocol::wire::ReceiptKey {
        public_key: state.receipts.public_hex(),
    })
}
