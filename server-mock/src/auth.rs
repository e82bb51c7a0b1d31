//! Agent tokens: how they are made, stored (only their SHA-256) and checked.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::error::ServerError;
use crate::store::{AgentInfo, Storage, StoreError};

/// Every token starts with this, so a token pasted in the wrong place is recognisable.
pub const TOKEN_PREFIX: &str = "hts_";

/// A fresh agent token: 32 random bytes, hex, with [`TOKEN_PREFIX`].
pub fn new_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Internal(format!("no randomness available: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What the database keeps of a token: only its hash, so a copy of the
/// database does not hand out working tokens.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a request carries no usable agent token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a bearer token is required")]
    Missing,
    #[error("the token is unknown or was revoked")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent a request's `Authorization: Bearer` token belongs to.
pub async fn agent_from_headers<S: Storage>(
    store: &S,
    headers: &HeaderMap,
) -> Result<AgentInfo, AuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)?;
    store
        .agent_by_token(token_hash(token))
        .await?
        .ok_or(AuthError::Unknown)
}
