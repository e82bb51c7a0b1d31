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
    /// The service is installed but this user is not in its group.
    #[error(
        "the agent's service keeps its data in {0}, which this account may not use: ask the IT staff to add you to the group hotich (`sudo usermod -aG hotich YOUR_NAME`, then log in again)"
    )]
    NotMember(PathBuf),
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

impl JournalError {
    /// The disk holding the journal is full (SQLite's `SQLITE_FULL`).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, JournalError::Sqlite { source, .. }
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
    }
}

/// "the disk holding /x is full (12 KB free)", in the reader's language.
pub fn disk_full_text(path: &std::path::Path) -> String {
    let free = crate::config::free_disk_bytes(path)
        .map(|b| format!("{:.1} MB", b as f64 / 1_000_000.0))
        .unwrap_or_else(|| "?".into());
    crate::tr!(
        "error-disk-full",
        path = path.display().to_string(),
        free = free
    )
}

impl AgentError {
    /// The one line `main` prints, in the reader's language. The `Display`
    /// form stays English for logs.
    pub fn message(&self) -> String {
        use crate::tr;
        match self {
            AgentError::Config(e) => match e {
                ConfigError::NotInitialized(dir) => {
                    tr!("error-not-initialized", dir = dir.display().to_string())
                }
                ConfigError::AlreadyInitialized(dir) => {
                    tr!("error-already-initialized", dir = dir.display().to_string())
                }
                ConfigError::Read { path, source } => tr!(
                    "error-config-read",
                    path = path.display().to_string(),
                    detail = source.to_string()
                ),
                ConfigError::Write { path, source } => tr!(
                    "error-config-write",
                    path = path.display().to_string(),
                    detail = source.to_string()
                ),
                ConfigError::Invalid { path, message } => tr!(
                    "error-config-invalid",
                    path = path.display().to_string(),
                    detail = message.as_str()
                ),
                ConfigError::Value(m) => m.clone(),
                ConfigError::NoDataDir => tr!("error-no-data-dir"),
                ConfigError::NotMember(dir) => {
                    tr!("error-not-member", dir = dir.display().to_string())
                }
            },
            AgentError::Journal(e) => match e {
                JournalError::Lost { path, detail } => tr!(
                    "error-journal-lost",
                    path = path.display().to_string(),
                    detail = detail.as_str()
                ),
                JournalError::TooNew { path, .. } => {
                    tr!("error-journal-too-new", path = path.display().to_string())
                }
                JournalError::Sqlite { path, .. } if e.is_disk_full() => disk_full_text(path),
                other => tr!("error-journal", detail = other.to_string()),
            },
            AgentError::Lock(LockError::Held { dir, holder }) => tr!(
                "error-lock-held",
                dir = dir.display().to_string(),
                holder = holder.as_str()
            ),
            AgentError::Lock(other) => tr!("error-lock", detail = other.to_string()),
            AgentError::Api(e) => crate::i18n::error_info(Some(&e.info()), &e.to_string()),
            AgentError::Input(m) | AgentError::Usage(m) | AgentError::Failed(m) => m.clone(),
            AgentError::Io { context, source } => tr!(
                "error-io",
                context = context.as_str(),
                detail = source.to_string()
            ),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::Input(_)
            | AgentError::Failed(_)
            | AgentError::Journal(JournalError::Lost { .. }) => EXIT_PROBLEMS,
            AgentError::Journal(e) if e.is_disk_full() => EXIT_PROBLEMS,
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
