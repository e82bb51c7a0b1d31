//! The journal: the agent's durable, append-only, hash-chained record of
//! everything an official entered, and the upload queue over it.
//!
//! One SQLite file in WAL mode with `synchronous=FULL`: a commit returns only
//! after the WAL is fsynced, so a record reported accepted survives kill -9
//! and power loss. Entries are never updated or deleted (triggers refuse it);
//! each one's upload state is a narrow row of its own in `uploads`, the only
//! thing the server's answers change. Several processes may append at
//! once: each append batch is one `BEGIN IMMEDIATE` transaction that reads the
//! chain head under the write lock and links to it, so the chain stays linear.
//!
//! - `schema`: tables, durability settings, migrations;
//! - `append`: adding records, and the rules for duplicates, conflicts and corrections;
//! - `queue`: the upload queue and the server's answers;
//! - `sync_state`: the link's retry schedule and last outcome;
//! - `verify`: recomputing every hash and the chain;
//! - `identity`: the journal's id, kept beside it, so a lost or replaced
//!   journal is refused rather than started again from 1.

mod append;
mod backup;
pub use backup::RecoveredEntry;
mod identity;
mod keyings;
pub use keyings::{LocalFirst, NewKeying};
mod queue;
mod receipts;
mod scans;
mod schema;
mod sync_state;
mod verify;

use std::path::{Path, PathBuf};

use hotich_protocol::{ChainHash, ContentHash, GENESIS, Timestamp};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::error::JournalError;

pub use append::AppendOutcome;
pub use identity::{Access, ID_FILE, JournalAnchor};
pub use queue::{
    ClosedEntry, Counts, Dismissal, ENTRY_RETRY_HORIZON, ParkedEntry, QueuedEntry, Resolution,
};
pub use scans::{RecordScan, RecordScans, ScanCounts, UnsentAttachment, WaitingScan};
pub use sync_state::SyncState;
pub use verify::VerifyReport;

/// Upload state of an entry, stored as a small integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Waiting to be uploaded (or re-uploaded).
    Pending = 0,
    /// The server answered that it holds the record.
    Acked = 1,
    /// The server refused the record; waits for `requeue` after a fix.
    Parked = 2,
    /// A refused record that needs nothing more: a later correction
    /// resolved it, or an official dismissed it. It stays in the journal.
    Closed = 3,
}

impl EntryState {
    /// The stored number as SQL text, for conditions that must match a
    /// partial index literally (SQLite cannot use one for `state = ?`).
    pub const fn sql(self) -> &'static str {
        match self {
            EntryState::Pending => "0",
            EntryState::Acked => "1",
            EntryState::Parked => "2",
            EntryState::Closed => "3",
        }
    }
}

impl ToSql for EntryState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(*self as i64))
    }
}

impl FromSql for EntryState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_i64()? {
            0 => Ok(EntryState::Pending),
            1 => Ok(EntryState::Acked),
            2 => Ok(EntryState::Parked),
            3 => Ok(EntryState::Closed),
            other => Err(FromSqlError::OutOfRange(other)),
        }
    }
}

/// Where a record came from, for the official's reference.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub line: u64,
    /// The official who entered it (from the office's list).
    pub official: Option<&'a str>,
    /// Why, for a correction.
    pub correction_reason: Option<&'a str>,
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// A content hash read back from the journal; damage if it is not 32 bytes.
fn content_hash_at(path: &Path, seq: u64, blob: &[u8]) -> Result<ContentHash, JournalError> {
    ContentHash::from_slice(blob).ok_or_else(|| JournalError::Corrupt {
        path: path.to_path_buf(),
        seq,
        detail: "content hash is not 32 bytes".into(),
    })
}

/// A chain hash read back from the journal; damage if it is not 32 bytes.
fn chain_hash_at(path: &Path, seq: u64, blob: &[u8]) -> Result<ChainHash, JournalError> {
    ChainHash::from_slice(blob).ok_or_else(|| JournalError::Corrupt {
        path: path.to_path_buf(),
        seq,
        detail: "chain hash is not 32 bytes".into(),
    })
}

/// The last entry's sequence number and chain hash (0 and GENESIS when empty).
fn read_head(conn: &Connection, path: &Path) -> Result<(u64, ChainHash), JournalError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, chain_hash FROM entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|source| JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
    match row {
        None => Ok((0, GENESIS)),
        Some((seq, chain)) => Ok((seq as u64, chain_hash_at(path, seq as u64, &chain)?)),
    }
}

fn ms(t: Timestamp) -> i64 {
    t.millis()
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp)
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        Ok(Journal {
            conn: schema::open(path)?,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the journal takes on disk: the database and its WAL.
    pub fn size_on_disk(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        size(&self.path) + size(Path::new(&wal))
    }

    /// For a large import: a bigger page cache (so a transaction does not
    /// spill pages mid-way) and far fewer checkpoints: a page changed by
    /// many batches is copied to the database once per checkpoint, not once
    /// per batch (1,000,000 records: 31 s with a 32 MB WAL, 22 s with 256 MB,
    /// measured while the journal still kept a journal-wide index of content
    /// hashes; since schema 9 fewer pages are shared, and 1,000,000 take 14.5 s).
    /// After a checkpoint the WAL file is cut back to 64 MB, so the disk space
    /// is lent, not kept. Durability is unchanged: every commit still fsyncs
    /// the WAL. A 16 MB cache imports as fast as 64 MB did (the index pages
    /// are read from the OS's cache) at 55 MB less memory.
    pub fn tune_for_bulk_import(&self) -> Result<(), JournalError> {
        self.conn
            .pragma_update(None, "cache_size", -16 * 1024)
            .and_then(|_| self.conn.pragma_update(None, "wal_autocheckpoint", 65_536))
            .and_then(|_| {
                self.conn
                    .pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            })
            .map_err(|e| self.err(e))
    }

    /// Frees SQLite's page cache (it is filled again from the file as needed).
    pub fn release_memory(&self) {
        if let Err(error) = self.conn.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!(%error, "could not shrink the journal's memory");
        }
    }

    /// Copies the WAL into the database file without waiting for readers.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))
    }

    /// The last entry's sequence number and chain hash.
    pub fn head(&self) -> Result<(u64, ChainHash), JournalError> {
        read_head(&self.conn, &self.path)
    }

    /// Starts a write transaction at once (`BEGIN IMMEDIATE`), so the chain
    /// head read inside it cannot change under it.
    fn write_tx(&mut self) -> Result<(rusqlite::Transaction<'_>, PathBuf), JournalError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| JournalError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok((tx, path))
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
