//! Errors of the agent, by area. Each knows the exit code it maps to, so that
//! `main` prints one line and exits with a code scripts can rely on.

use std::path::PathBuf;

/// Exit codes (documented in README.md):
/// 0 success; 1 the command ran but found problems (records rejected,
/// journal altered, sync failed); 2 usage or setup error (bad config,
/// data dir missing, another syncer running); 3 internal or I/O failure.
pub const EXIT_PROBLEMS: u8 = 1;
pub const EXIT_SETUP: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "journal {path} was written by a newer hotich-agent (schema {found}, this build knows {known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("journal {path} holds a damaged entry at seq {seq}: {detail}")]
    Corrupt {
        path: PathBuf,
        seq: u64,
        detail: String,
    },
    /// The journal is missing, emptied, replaced or behind what this data
    /// directory knows it held: records would be lost or numbered twice.
    #[error("journal {path}: {detail}")]
    Lost { path: PathBuf, detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no agent is set up in {0} (run `hotich-agent init --server URL --token TOKEN --commune CODE` first)"
    )]
    NotInitialized(PathBuf),
    #[error("{0} already holds an agent; use --force to set it up again (the journal is kept)")]
    AlreadyInitialized(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Value(String),
    #[error("no data directory: set --data-dir or HOTICH_DATA_DIR (this platform has no default)")]
    NoDataDir,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another hotich-agent service or sync is already running for {dir}{holder}")]
    Held { dir: PathBuf, holder: String },
    #[error("cannot open lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything a command can fail with; `main` prints it as one line.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Api(#[from] crate::client::ApiError),
    /// Input the user gave cannot be used (a file to hash).
    #[error("{0}")]
    Input(String),
    /// An argument out of range, or a combination that makes no sense.
    #[error("{0}")]
    Usage(String),
    /// The command ran and failed in a way already explained (e.g. sync failed).
    #[error("{0}")]
    Failed(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::Input(_)
            | AgentError::Failed(_)
            | AgentError::Journal(JournalError::Lost { .. }) => EXIT_PROBLEMS,
            AgentError::Api(e) if e.is_transient() => EXIT_PROBLEMS,
            AgentError::Api(crate::client::ApiError::Internal(_)) => EXIT_INTERNAL,
            AgentError::Config(_)
            | AgentError::Lock(_)
            | AgentError::Api(_)
            | AgentError::Usage(_) => EXIT_SETUP,
            AgentError::Journal(_) | AgentError::Io { .. } => EXIT_INTERNAL,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AgentError::Io {
            context: context.into(),
            source,
        }
    }
}
