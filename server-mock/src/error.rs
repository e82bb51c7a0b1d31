//! The error every `hotich-server` command can end with, and the one place
//! it becomes an exit code.

use crate::config::Database;
use crate::store::StoreError;

/// Exit codes (README.md): 0 success; 2 usage or setup (bad arguments,
/// certificates); 3 internal or I/O failure (the database, the disk).
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{database}: {source}")]
    Store {
        database: String,
        #[source]
        source: StoreError,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Usage(String),
    /// Something that should not fail did (no randomness, a record that
    /// does not serialize): not the user's doing.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ServerError {
    pub fn store(database: &Database, source: StoreError) -> Self {
        ServerError::Store {
            database: database.to_string(),
            source,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ServerError::Usage(_) | ServerError::Tls(_) => EXIT_USAGE,
            ServerError::Store { .. } | ServerError::Io { .. } | ServerError::Internal(_) => {
                EXIT_INTERNAL
            }
        }
    }
}
