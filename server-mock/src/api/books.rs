//! Second keyings, third looks and closed books from the agents, and what
//! the centre makes of them for the agent's own commune
//! (`GET /api/v1/review`, `GET /api/v1/books`).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use hotich_protocol::books::{
    BookReport, BooksRequest, BooksResponse, KeyingKind, KeyingResult, KeyingsRequest,
    KeyingsResponse, MAX_KEYINGS, ReviewResponse,
};
use hotich_protocol::{CivilDate, Timestamp, prepare_record};

use super::body::read_body;
use super::{ApiError, AppState, authenticate};
use crate::store::Storage;
use crate::store::books::KeyingRow;

/// Books per request, at most.
const MAX_BOOKS: usize = 500;
/// Books one commune may declare closed (a commune holds a few hundred).
const MAX_CLOSED_BOOKS: usize = 2_000;

pub async fn keyings<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<KeyingsResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    let request: KeyingsRequest = super::queries::parse_json(&bytes)?;
    if request.keyings.len() > MAX_KEYINGS {
        return Err(ApiError::TooLarge(format!(
            "at most {MAX_KEYINGS} keyings per request"
        )));
    }
    let now = Timestamp::now();
    let commune = agent.commune.clone();
    let agent_id = agent.id;
    // Validating and hashing up to 500 records is CPU work: off the
    // runtime's threads, as an upload's is.
    let (results, rows) = tokio::task::spawn_blocking(move || {
        judge_keyings(request.keyings, &commune, agent_id, now)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !rows.is_empty() {
        state.store.add_keyings(rows, now).await?;
    }
    Ok(axum::Json(KeyingsResponse { results }))
}

/// Each keying checked like an upload's record: stored, or refused with why.
fn judge_keyings(
    keyings: Vec<hotich_protocol::books::Keying>,
    commune: &str,
    agent_id: i64,
    now: Timestamp,
) -> (Vec<KeyingResult>, Vec<KeyingRow>) {
    let today = CivilDate::today_in_vietnam(now);
    let mut results = Vec::with_capacity(keyings.len());
    let mut rows = Vec::new();
    for k in keyings {
        let refuse = |reason: String| KeyingResult::Refused { reason };
        let official = k.official.trim().to_string();
        if official.is_empty() || official.chars().count() > 100 {
            results.push(refuse("a keying names the official who typed it".into()));
            continue;
        }
        // Every record is validated and hashed again here, as an upload is.
        let (nat_key, hash, record) = match (k.kind, k.record, k.nat_key, k.confirms) {
            (KeyingKind::Second, Some(record), _, _) => match prepare_record(record, today) {
                Ok(p) => (p.storage_key, p.hash, Some(p.canonical)),
                Err(errors) => {
                    results.push(refuse(hotich_protocol::validate::summarize(&errors)));
                    continue;
                }
            },
            // A book entry's key is short; a long one names no entry.
            (KeyingKind::Confirm, _, Some(key), Some(hash)) if key.len() <= 200 => {
                (key, hash, None)
            }
            _ => {
                results.push(refuse("incomplete keying".into()));
                continue;
            }
        };
        let own = hotich_protocol::books::BookId::of_storage_key(&nat_key)
            .is_some_and(|(book, _)| book.commune_code == commune);
        if !own {
            results.push(refuse(format!(
                "{nat_key} is not a book of commune {}",
                commune
            )));
            continue;
        }
        rows.push(KeyingRow {
            commune: commune.to_string(),
            kind: k.kind,
            nat_key,
            hash,
            record,
            official,
            keyed_at: k.keyed_at,
            agent_id,
        });
        results.push(KeyingResult::Stored);
    }
    (results, rows)
}

pub async fn close_books<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<BooksResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, 1024 * 1024).await?;
    let request: BooksRequest = super::queries::parse_json(&bytes)?;
    if request.books.len() > MAX_BOOKS {
        return Err(ApiError::TooLarge(format!(
            "at most {MAX_BOOKS} books per request"
        )));
    }
    let mut books = Vec::with_capacity(request.books.len());
    for mut closure in request.books {
        closure.book = closure.book.normalized();
        closure.missing.sort_unstable();
        closure.missing.dedup();
        closure.check().map_err(ApiError::BadRequest)?;
        if closure.book.commune_code != agent.commune {
            return Err(ApiError::Forbidden(format!(
                "a book of commune {} is not this agent's (commune {})",
                closure.book.commune_code, agent.commune
            )));
        }
        books.push(closure);
    }
    // Each closed book is a line in every report of the commune: bounded,
    // so one agent cannot make them unreadable.
    let held = state.store.book_closures(Some(&agent.commune)).await?;
    let new = books
        .iter()
        .filter(|c| !held.iter().any(|h| h.book == c.book))
        .count();
    if held.len() + new > MAX_CLOSED_BOOKS {
        return Err(ApiError::TooLarge(format!(
            "a commune declares at most {MAX_CLOSED_BOOKS} books closed"
        )));
    }
    let request = BooksRequest { books };
    let stored = request.books.len() as u64;
    state
        .store
        .close_books(agent.id, request.books, Timestamp::now())
        .await?;
    Ok(axum::Json(BooksResponse { stored }))
}

pub async fn review<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<axum::Json<ReviewResponse>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    Ok(axum::Json(
        crate::books::review(state.store.as_ref(), Some(&agent.commune)).await?,
    ))
}

pub async fn reports<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<axum::Json<Vec<BookReport>>, ApiError> {
    let agent = authenticate(&state, &headers).await?;
    Ok(axum::Json(
        crate::books::book_reports(state.store.as_ref(), Some(&agent.commune)).await?,
    ))
}
