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

/// Letters and digits that cannot be misread for one another when a
/// password is read out or copied by hand (no 0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A fresh viewer password: 20 characters (about 116 bits).
pub fn new_password() -> Result<String, ServerError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Internal(format!("no randomness available: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| PASSWORD_ALPHABET[*b as usize % PASSWORD_ALPHABET.len()] as char)
        .collect())
}

/// The stored form of a viewer's password (Argon2id, PHC string).
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| ServerError::Internal(format!("no randomness available: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ServerError::Internal(format!("password salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(format!("password hash: {e}")))
}

/// Whether `password` matches a stored hash. Slow on purpose (Argon2id):
/// call it off the async threads.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A session id for a browser: 32 random bytes, hex. Only its SHA-256 is stored.
pub fn new_session_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Internal(format!("no randomness available: {e}")))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let password = new_password().unwrap();
        assert_eq!(password.chars().count(), 20);
        let stored = hash_password(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains(&password));
        assert!(verify_password(&password, &stored));
        assert!(!verify_password("wrong", &stored));
        assert!(!verify_password(&password, "not a hash"));
    }
}
