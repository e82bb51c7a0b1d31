//! The server's typed configuration.

use std::fmt;
use std::path::PathBuf;

use crate::api::Limits;
use crate::chaos::ChaosConfig;
use crate::conn::ConnLimits;
use crate::monitor::Thresholds;

/// Where records are stored: a file path means SQLite, `postgres://...` PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    pub fn parse(text: &str) -> Result<Database, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("--database is empty".into());
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Database::Postgres(text.to_string()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err(format!(
                "unknown database URL \"{text}\": use a file path (SQLite) or postgres://user@host/db"
            ));
        }
        Ok(Database::Sqlite(PathBuf::from(text)))
    }
}

/// Hides a PostgreSQL password when printed.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "SQLite {}", p.display()),
            Database::Postgres(url) => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        let userinfo = &url[scheme + 3..at];
                        match userinfo.split_once(':') {
                            Some((user, _)) => {
                                format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
                            }
                            None => url.clone(),
                        }
                    }
                    _ => url.clone(),
                };
                write!(f, "PostgreSQL {shown}")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub database: Database,
    pub limits: Limits,
    pub chaos: ChaosConfig,
    pub tls: Option<TlsFiles>,
    /// PostgreSQL connections at most.
    pub max_connections: usize,
    /// Client connections, header timeout, shutdown grace.
    pub conn: ConnLimits,
    /// When the dashboard calls a commune behind or silent.
    pub thresholds: Thresholds,
    /// Where page scans are kept (`--blobs`); by default beside the SQLite
    /// file, and none for PostgreSQL (replicas need a shared path).
    pub blobs: Option<std::path::PathBuf>,
}

impl ServerConfig {
    pub fn new(database: Database) -> Self {
        ServerConfig {
            database,
            limits: Limits::default(),
            chaos: ChaosConfig::default(),
            tls: None,
            max_connections: 16,
            conn: ConnLimits::default(),
            thresholds: Thresholds::default(),
            blobs: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_and_hide_passwords() {
        assert_eq!(
            Database::parse("central.db"),
            Ok(Database::Sqlite("central.db".into()))
        );
        assert_eq!(
            Database::parse("sqlite:///tmp/x.db"),
            Ok(Database::Sqlite("/tmp/x.db".into()))
        );
        let pg = Database::parse("postgres://hotich:s3cret@db.example/central").unwrap();
        assert_eq!(
            pg.to_string(),
            "PostgreSQL postgres://hotich:***@db.example/central"
        );
        assert!(Database::parse("mysql://x").is_err());
    }
}
