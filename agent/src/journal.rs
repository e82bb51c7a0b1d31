//! The journal: the agent's durable, append-only, hash-chained record of
//! everything an official entered, and the upload queue over it.
//!
//! One SQLite file in WAL mode with `synchronous=FULL`: a commit returns only
//! after the WAL is fsynced, so a record reported accepted survives kill -9
//! and power loss. Entries are never updated or deleted (triggers refuse it);
//! only the upload-state columns change. Several processes may append at
//! once: each append batch is one `BEGIN IMMEDIATE` transaction that reads the
//! chain head under the write lock and links to it, so the chain stays linear.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotich_protocol::canonical::hash_canonical;
use hotich_protocol::{
    ChainHash, ContentHash, GENESIS, PreparedRecord, Timestamp, canonical, chain_hash, parse_strict,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::JournalError;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sources (
    id   INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS entries (
    seq             INTEGER PRIMARY KEY,
    content_hash    BLOB NOT NULL UNIQUE,
    chain_hash      BLOB NOT NULL,
    record          TEXT NOT NULL,
    nat_key         TEXT NOT NULL,
    supersedes      BLOB,
    entered_at      INTEGER NOT NULL,
    source_id       INTEGER REFERENCES sources(id),
    source_line     INTEGER,
    -- Upload state: the only columns that ever change.
    state           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    state_reason    TEXT,
    state_at        INTEGER
);
CREATE INDEX IF NOT EXISTS entries_nat_key ON entries(nat_key, seq);
CREATE INDEX IF NOT EXISTS entries_pending ON entries(seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS entries_parked ON entries(seq) WHERE state = 2;
CREATE TRIGGER IF NOT EXISTS entries_are_append_only
BEFORE UPDATE OF seq, content_hash, chain_hash, record, nat_key, supersedes, entered_at, source_id, source_line
ON entries BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_are_never_deleted
BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'journal entries are never deleted'); END;
CREATE TABLE IF NOT EXISTS sync_state (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    failures            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL DEFAULT 0,
    last_attempt_at     INTEGER,
    last_success_at     INTEGER,
    last_error          TEXT,
    last_error_at       INTEGER,
    reachable           INTEGER,
    batch_size          INTEGER,
    last_reconcile_at   INTEGER,
    server_contiguous   INTEGER,
    server_alerts       INTEGER,
    divergence          TEXT
);
INSERT OR IGNORE INTO sync_state (id) VALUES (1);
"#;

/// Upload state of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Waiting to be uploaded (or re-uploaded).
    Pending = 0,
    /// The server answered that it holds the record.
    Acked = 1,
    /// The server refused the record; waits for `requeue` after a fix.
    Parked = 2,
}

/// What happened to one record offered to the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Accepted {
        seq: u64,
    },
    /// The same content is already in the journal; nothing was written.
    AlreadyPresent {
        seq: u64,
    },
    /// The journal holds different content for the same book entry.
    Conflict {
        existing_seq: u64,
        existing_hash: ContentHash,
        reason: String,
    },
}

/// Where a record came from, for the official's reference.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub line: u64,
}

/// An entry as the sync engine sends it.
#[derive(Debug, Clone)]
pub struct QueuedEntry {
    pub seq: u64,
    pub hash: ContentHash,
    pub record: String,
    pub entered_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: u64,
    pub pending: u64,
    pub acked: u64,
    pub parked: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParkedEntry {
    pub seq: u64,
    pub hash: String,
    pub reason: String,
    pub source: Option<String>,
    pub parked_at: Option<Timestamp>,
}

/// The persisted sync schedule and the last outcome, shown by `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    /// Consecutive failed rounds; 0 after a success.
    pub failures: u32,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub reachable: Option<bool>,
    pub batch_size: Option<usize>,
    pub last_reconcile_at: Option<Timestamp>,
    pub server_contiguous: Option<u64>,
    pub server_alerts: Option<u64>,
    pub divergence: Option<String>,
}

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    /// The first entry that does not check out, with what is wrong.
    pub first_broken: Option<(u64, String)>,
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
        let err = |source| JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        // Importers and the service share the file: wait for each other's
        // short transactions instead of failing.
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        // Read the version under the write lock: an import and the service
        // may open a new journal at the same moment.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            tx.execute_batch(SCHEMA).map_err(err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For a large import: a bigger page cache (so a transaction does not
    /// spill pages mid-way) and fewer, larger checkpoints (an index page
    /// changed by many batches is copied to the database once, not once per
    /// batch). Durability is unchanged: every commit still fsyncs the WAL.
    pub fn tune_for_bulk_import(&self) -> Result<(), JournalError> {
        self.conn
            .pragma_update(None, "cache_size", -64 * 1024)
            .and_then(|_| self.conn.pragma_update(None, "wal_autocheckpoint", 8_192))
            .map_err(|e| self.err(e))
    }

    /// Copies the WAL into the database file without waiting for readers.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))
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

    /// Appends records in one durable transaction and reports each one's fate.
    /// Nothing is reported accepted unless the commit succeeded.
    pub fn append_batch(
        &mut self,
        records: &[(&PreparedRecord, Option<Origin<'_>>)],
    ) -> Result<Vec<AppendOutcome>, JournalError> {
        let now = ms(Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut outcomes = Vec::with_capacity(records.len());
        {
            let (mut head_seq, mut head_chain) = read_head(&tx, &path)?;
            let mut by_hash = tx
                .prepare_cached("SELECT seq FROM entries WHERE content_hash = ?1")
                .map_err(err)?;
            let mut head_of_key = tx
                .prepare_cached(
                    "SELECT seq, content_hash FROM entries WHERE nat_key = ?1 ORDER BY seq DESC LIMIT 1",
                )
                .map_err(err)?;
            let mut source_id = tx
                .prepare_cached(
                    "INSERT INTO sources (path) VALUES (?1)
                     ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id",
                )
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (seq, content_hash, chain_hash, record, nat_key, supersedes,
                                          entered_at, source_id, source_line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            let mut last_source: Option<(&str, i64)> = None;
            for (record, origin) in records {
                let hash = record.hash.as_bytes().as_slice();
                let key = record.storage_key.as_str();
                // The same content always has the same natural key, so a new
                // key means a new record: one index probe on the common path.
                let head = head_of_key
                    .query_row([&key], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .optional()
                    .map_err(err)?;
                if let Some((existing_seq, existing)) = head {
                    let existing_hash = content_hash_at(&path, existing_seq as u64, &existing)?;
                    if existing_hash == record.hash {
                        outcomes.push(AppendOutcome::AlreadyPresent {
                            seq: existing_seq as u64,
                        });
                        continue;
                    }
                    // An older version of this entry (since corrected) imported again.
                    if let Some(seq) = by_hash
                        .query_row([hash], |r| r.get::<_, i64>(0))
                        .optional()
                        .map_err(err)?
                    {
                        outcomes.push(AppendOutcome::AlreadyPresent { seq: seq as u64 });
                        continue;
                    }
                    // A correction must replace the current version. One that
                    // names a version this journal never held corrects what the
                    // central database holds (another PC's, or an older
                    // digitization): that is for the server to check.
                    let corrects_head = record.supersedes == Some(existing_hash);
                    let corrects_elsewhere = match record.supersedes {
                        Some(other) if !corrects_head => by_hash
                            .query_row([other.as_bytes().as_slice()], |r| r.get::<_, i64>(0))
                            .optional()
                            .map_err(err)?
                            .is_none(),
                        _ => false,
                    };
                    if !corrects_head && !corrects_elsewhere {
                        let reason = match record.supersedes {
                            None => format!(
                                "{} is already in the journal as entry #{existing_seq} with different content. \
                                 If this record corrects it, add \"supersedes\": \"{existing_hash}\"; if it is \
                                 another entry (e.g. from the book of a former commune merged into this one), \
                                 do not: report it to district IT",
                                record.key
                            ),
                            Some(other) => format!(
                                "supersedes {other}, but the current version of {} is entry #{existing_seq} ({existing_hash})",
                                record.key
                            ),
                        };
                        outcomes.push(AppendOutcome::Conflict {
                            existing_seq: existing_seq as u64,
                            existing_hash,
                            reason,
                        });
                        continue;
                    }
                }
                let source = match origin {
                    None => None,
                    Some(o) => match last_source {
                        Some((file, id)) if file == o.file => Some(id),
                        _ => {
                            let id: i64 =
                                source_id.query_row([o.file], |r| r.get(0)).map_err(err)?;
                            last_source = Some((o.file, id));
                            Some(id)
                        }
                    },
                };
                let seq = head_seq + 1;
                let chain = chain_hash(&head_chain, seq, &record.hash);
                insert
                    .execute(params![
                        seq as i64,
                        hash,
                        chain.as_bytes().as_slice(),
                        record.canonical,
                        key,
                        record.supersedes.as_ref().map(|h| h.as_bytes().as_slice()),
                        now,
                        source,
                        origin.map(|o| o.line as i64),
                    ])
                    .map_err(err)?;
                head_seq = seq;
                head_chain = chain;
                outcomes.push(AppendOutcome::Accepted { seq });
            }
        }
        tx.commit().map_err(err)?;
        Ok(outcomes)
    }

    pub fn counts(&self) -> Result<Counts, JournalError> {
        let one = |sql: &str| -> Result<u64, JournalError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| self.err(e))
        };
        let total = one("SELECT COALESCE(MAX(seq), 0) FROM entries")?;
        let pending = one("SELECT COUNT(*) FROM entries WHERE state = 0")?;
        let parked = one("SELECT COUNT(*) FROM entries WHERE state = 2")?;
        Ok(Counts {
            total,
            pending,
            parked,
            acked: total.saturating_sub(pending + parked),
        })
    }

    /// When the oldest still-pending entry entered the journal.
    pub fn oldest_pending_at(&self) -> Result<Option<Timestamp>, JournalError> {
        self.conn
            .query_row(
                "SELECT entered_at FROM entries WHERE state = 0 ORDER BY seq LIMIT 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(ts)
            .map_err(|e| self.err(e))
    }

    /// The next entries to upload, in journal order, at most `limit` entries
    /// and about `max_bytes` of record text (always at least one entry).
    pub fn next_batch(
        &self,
        now: Timestamp,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<QueuedEntry>, JournalError> {
        self.next_batch_after(0, now, limit, max_bytes)
    }

    /// Like [`Journal::next_batch`], for entries after `after_seq` (the batch
    /// still in flight).
    pub fn next_batch_after(
        &self,
        after_seq: u64,
        now: Timestamp,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<QueuedEntry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, content_hash, record, entered_at FROM entries
                 WHERE state = 0 AND seq > ?3 AND next_attempt_at <= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![ms(now), limit as i64, after_seq as i64])
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq = row.get::<_, i64>(0).map_err(|e| self.err(e))? as u64;
            let hash: Vec<u8> = row.get(1).map_err(|e| self.err(e))?;
            let record: String = row.get(2).map_err(|e| self.err(e))?;
            let entered_at: i64 = row.get(3).map_err(|e| self.err(e))?;
            if !out.is_empty() && bytes + record.len() > max_bytes {
                break;
            }
            bytes += record.len();
            let hash = content_hash_at(&self.path, seq, &hash)?;
            out.push(QueuedEntry {
                seq,
                hash,
                record,
                entered_at: Timestamp(entered_at),
            });
        }
        Ok(out)
    }

    /// The chain hash of entry `seq` (GENESIS for 0).
    pub fn chain_at(&self, seq: u64) -> Result<Option<ChainHash>, JournalError> {
        if seq == 0 {
            return Ok(Some(GENESIS));
        }
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT chain_hash FROM entries WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        blob.map(|b| chain_hash_at(&self.path, seq, &b)).transpose()
    }

    /// Applies the server's per-entry answers in one transaction.
    pub fn apply_results(&mut self, results: &[(u64, Resolution)]) -> Result<(), JournalError> {
        let now = ms(Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        {
            let mut acked = tx
                .prepare_cached(
                    "UPDATE entries SET state = 1, attempts = attempts + 1, state_reason = ?2, state_at = ?3
                     WHERE seq = ?1",
                )
                .map_err(err)?;
            let mut parked = tx
                .prepare_cached(
                    "UPDATE entries SET state = 2, attempts = attempts + 1, state_reason = ?2, state_at = ?3
                     WHERE seq = ?1",
                )
                .map_err(err)?;
            let mut retry = tx
                .prepare_cached(
                    "UPDATE entries SET attempts = attempts + 1, next_attempt_at = ?2, state_reason = ?3
                     WHERE seq = ?1 AND state = 0",
                )
                .map_err(err)?;
            for (seq, resolution) in results {
                let seq = *seq as i64;
                match resolution {
                    Resolution::Held { note } => acked.execute(params![seq, note, now]),
                    Resolution::Parked { reason } => parked.execute(params![seq, reason, now]),
                    Resolution::RetryAt { at, reason } => {
                        retry.execute(params![seq, ms(*at), reason])
                    }
                    Resolution::Resend => tx.execute(
                        "UPDATE entries SET state = 0, next_attempt_at = 0,
                                state_reason = 'the server lost it; sending again', state_at = ?2
                         WHERE seq = ?1 AND state = 1",
                        params![seq, now],
                    ),
                }
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Counts a failed send against the entries it carried (shown as their
    /// attempt count). When to try again is the link's schedule, kept in
    /// [`SyncState`], not the entries'.
    pub fn note_failed_send(&mut self, first_seq: u64, last_seq: u64) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE entries SET attempts = attempts + 1
                 WHERE seq BETWEEN ?1 AND ?2 AND state = 0",
                params![first_seq as i64, last_seq as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Pending entries with `seq <= upto` (the server may already hold them),
    /// and acked entries with `seq > upto` (the server may have lost them).
    pub fn entries_to_reconcile(
        &self,
        upto: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, ContentHash, EntryState)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, content_hash, state FROM entries
                 WHERE seq > ?2 AND ((state = 0 AND seq <= ?1) OR (state = 1 AND seq > ?1))
                 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![upto as i64, after_seq as i64, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, hash, state) = row.map_err(|e| self.err(e))?;
            let hash = content_hash_at(&self.path, seq as u64, &hash)?;
            let state = if state == 0 {
                EntryState::Pending
            } else {
                EntryState::Acked
            };
            out.push((seq as u64, hash, state));
        }
        Ok(out)
    }

    /// Puts parked entries back in the queue (all, or the given ones).
    pub fn requeue(&mut self, seqs: Option<&[u64]>) -> Result<u64, JournalError> {
        let now = ms(Timestamp::now());
        let sql = "UPDATE entries SET state = 0, next_attempt_at = 0, state_at = ?2,
                   state_reason = 'requeued after: ' || COALESCE(state_reason, '')
                   WHERE state = 2 AND (?1 IS NULL OR seq = ?1)";
        let changed = match seqs {
            None => self
                .conn
                .execute(sql, params![Option::<i64>::None, now])
                .map_err(|e| self.err(e))?,
            Some(list) => {
                let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
                let mut n = 0;
                for seq in list {
                    n += tx
                        .execute(sql, params![Some(*seq as i64), now])
                        .map_err(|e| self.err(e))?;
                }
                tx.commit().map_err(|e| self.err(e))?;
                n
            }
        };
        Ok(changed as u64)
    }

    pub fn parked(&self, limit: usize) -> Result<Vec<ParkedEntry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.seq, e.content_hash, e.state_reason, s.path, e.source_line, e.state_at
                 FROM entries e LEFT JOIN sources s ON s.id = e.source_id
                 WHERE e.state = 2 ORDER BY e.seq LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                let hash: Vec<u8> = r.get(1)?;
                let file: Option<String> = r.get(3)?;
                let line: Option<i64> = r.get(4)?;
                Ok(ParkedEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: hex::encode(hash),
                    reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    source: file.map(|f| match line {
                        Some(l) => format!("{f}:{l}"),
                        None => f,
                    }),
                    parked_at: ts(r.get(5)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub fn sync_state(&self) -> Result<SyncState, JournalError> {
        self.conn
            .query_row(
                "SELECT failures, next_attempt_at, last_attempt_at, last_success_at, last_error,
                        last_error_at, reachable, batch_size, last_reconcile_at, server_contiguous,
                        server_alerts, divergence
                 FROM sync_state WHERE id = 1",
                [],
                |r| {
                    Ok(SyncState {
                        failures: r.get::<_, i64>(0)? as u32,
                        next_attempt_at: Timestamp(r.get(1)?),
                        last_attempt_at: ts(r.get(2)?),
                        last_success_at: ts(r.get(3)?),
                        last_error: r.get(4)?,
                        last_error_at: ts(r.get(5)?),
                        reachable: r.get(6)?,
                        batch_size: r.get::<_, Option<i64>>(7)?.map(|n| n as usize),
                        last_reconcile_at: ts(r.get(8)?),
                        server_contiguous: r.get::<_, Option<i64>>(9)?.map(|n| n as u64),
                        server_alerts: r.get::<_, Option<i64>>(10)?.map(|n| n as u64),
                        divergence: r.get(11)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    pub fn save_sync_state(&mut self, s: &SyncState) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE sync_state SET failures = ?1, next_attempt_at = ?2, last_attempt_at = ?3,
                        last_success_at = ?4, last_error = ?5, last_error_at = ?6, reachable = ?7,
                        batch_size = ?8, last_reconcile_at = ?9, server_contiguous = ?10,
                        server_alerts = ?11, divergence = ?12
                 WHERE id = 1",
                params![
                    s.failures,
                    ms(s.next_attempt_at),
                    s.last_attempt_at.map(ms),
                    s.last_success_at.map(ms),
                    s.last_error,
                    s.last_error_at.map(ms),
                    s.reachable,
                    s.batch_size.map(|n| n as i64),
                    s.last_reconcile_at.map(ms),
                    s.server_contiguous.map(|n| n as i64),
                    s.server_alerts.map(|n| n as i64),
                    s.divergence,
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Recomputes every entry's content hash and the chain from the start.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, content_hash, chain_hash, record FROM entries ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut prev = GENESIS;
        let mut expected_seq = 1u64;
        let mut entries = 0u64;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq = row.get::<_, i64>(0).map_err(|e| self.err(e))? as u64;
            let stored_hash: Vec<u8> = row.get(1).map_err(|e| self.err(e))?;
            let stored_chain: Vec<u8> = row.get(2).map_err(|e| self.err(e))?;
            // A row edited to hold non-text is damage too; read it as bytes.
            let record: Vec<u8> = match row.get_ref(3).map_err(|e| self.err(e))? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    t.to_vec()
                }
                _ => Vec::new(),
            };
            entries += 1;
            let broken = |detail: String| {
                Ok(VerifyReport {
                    entries,
                    first_broken: Some((seq, detail)),
                })
            };
            if seq != expected_seq {
                return broken(format!(
                    "entry #{expected_seq} is missing (next entry found is #{seq})"
                ));
            }
            let Ok(record) = String::from_utf8(record) else {
                return broken("the record is not UTF-8 text".into());
            };
            let actual = hash_canonical(&record);
            if stored_hash != actual.as_bytes() {
                return broken(format!(
                    "the record does not match its content hash (stored {}, recomputed {actual})",
                    hex::encode(&stored_hash)
                ));
            }
            match parse_strict(&record).map(|v| canonical(&v)) {
                Ok(Ok(c)) if c == record => {}
                _ => return broken("the record is not in canonical form".into()),
            }
            let chain = chain_hash(&prev, seq, &actual);
            if stored_chain != chain.as_bytes() {
                return broken(
                    "the chain hash does not link to the entry before it (an entry was rewritten, removed or reordered)"
                        .into(),
                );
            }
            prev = chain;
            expected_seq += 1;
        }
        Ok(VerifyReport {
            entries,
            first_broken: None,
        })
    }

    /// The last entry's sequence number and chain hash.
    pub fn head(&self) -> Result<(u64, ChainHash), JournalError> {
        read_head(&self.conn, &self.path)
    }
}

/// How the sync engine resolves one entry after the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The server holds the record.
    Held { note: Option<String> },
    /// The server refuses it, with a reason an official can act on.
    Parked { reason: String },
    /// Try this entry again at this time.
    RetryAt { at: Timestamp, reason: String },
    /// It was acked, but the server no longer holds it.
    Resend,
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotich_protocol::{CivilDate, prepare_record};
    use serde_json::json;

    fn rec(entry: u32, name: &str, supersedes: Option<ContentHash>) -> PreparedRecord {
        let mut v = json!({
            "kind": "birth", "commune_code": "00004",
            "register": {"year": 1998, "book": "01", "entry": entry},
            "registered_on": "1998-03-20",
            "child": {"full_name": name, "sex": "male", "date_of_birth": "1998-03-15"}
        });
        if let Some(s) = supersedes {
            v["supersedes"] = json!(s.to_hex());
        }
        prepare_record(v, CivilDate::parse("2026-01-01").unwrap()).unwrap()
    }

    fn append(j: &mut Journal, records: &[&PreparedRecord]) -> Vec<AppendOutcome> {
        let batch: Vec<_> = records.iter().map(|r| (*r, None)).collect();
        j.append_batch(&batch).unwrap()
    }

    #[test]
    fn duplicates_conflicts_and_corrections() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        let a = rec(1, "An", None);
        let a_again = rec(1, "An", None);
        let other = rec(1, "Bình", None);
        let fix = rec(1, "Ân", Some(a.hash));
        let stale_fix = rec(1, "Anh", Some(a.hash));
        let central_fix = rec(1, "Ánh", Some(ContentHash::from_bytes([7; 32])));
        let out = append(
            &mut j,
            &[&a, &a_again, &other, &fix, &stale_fix, &central_fix],
        );
        assert_eq!(out[0], AppendOutcome::Accepted { seq: 1 });
        assert_eq!(out[1], AppendOutcome::AlreadyPresent { seq: 1 });
        match &out[2] {
            AppendOutcome::Conflict {
                existing_seq,
                existing_hash,
                reason,
            } => {
                assert_eq!((*existing_seq, *existing_hash), (1, a.hash));
                assert!(reason.contains("supersedes"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(out[3], AppendOutcome::Accepted { seq: 2 });
        match &out[4] {
            AppendOutcome::Conflict {
                existing_seq,
                reason,
                ..
            } => {
                assert_eq!(*existing_seq, 2);
                assert!(reason.contains("current version"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            out[5],
            AppendOutcome::Accepted { seq: 3 },
            "corrects a version held centrally"
        );
        assert_eq!(
            j.counts().unwrap(),
            Counts {
                total: 3,
                pending: 3,
                acked: 0,
                parked: 0
            }
        );
        assert_eq!(j.verify().unwrap().first_broken, None);
    }

    #[test]
    fn entries_cannot_be_updated_or_deleted_through_sql() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        append(&mut j, &[&rec(1, "An", None)]);
        let update = j
            .conn
            .execute("UPDATE entries SET record = '{}' WHERE seq = 1", []);
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = j.conn.execute("DELETE FROM entries WHERE seq = 1", []);
        assert!(delete.unwrap_err().to_string().contains("never deleted"));
        // Upload state may change.
        j.apply_results(&[(1, Resolution::Held { note: None })])
            .unwrap();
        assert_eq!(j.counts().unwrap().acked, 1);
    }

    #[test]
    fn verify_names_the_first_altered_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        let recs: Vec<_> = (1..=5).map(|i| rec(i, "An", None)).collect();
        append(&mut j, &recs.iter().collect::<Vec<_>>());
        j.conn
            .execute_batch("DROP TRIGGER entries_are_append_only")
            .unwrap();
        j.conn
            .execute(
                "UPDATE entries SET record = replace(record, 'An', 'Am') WHERE seq = 3",
                [],
            )
            .unwrap();
        let report = j.verify().unwrap();
        let (seq, why) = report.first_broken.unwrap();
        assert_eq!(seq, 3);
        assert!(why.contains("content hash"), "{why}");
    }

    #[test]
    fn verify_sees_a_removed_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        let recs: Vec<_> = (1..=4).map(|i| rec(i, "An", None)).collect();
        append(&mut j, &recs.iter().collect::<Vec<_>>());
        j.conn
            .execute_batch("DROP TRIGGER entries_are_never_deleted")
            .unwrap();
        j.conn
            .execute("DELETE FROM entries WHERE seq = 2", [])
            .unwrap();
        let (seq, why) = j.verify().unwrap().first_broken.unwrap();
        assert_eq!(seq, 3);
        assert!(why.contains("#2 is missing"), "{why}");
    }

    /// Several writers (as importers and the service are) append at once:
    /// nothing is lost and the chain stays one line.
    #[test]
    fn concurrent_writers_keep_one_linear_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        Journal::open(&path).unwrap();
        let writers: Vec<_> = (0..4u32)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut j = Journal::open(&path).unwrap();
                    let mut accepted = 0;
                    for batch in 0..10u32 {
                        let recs: Vec<_> = (0..25u32)
                            .map(|i| rec(w * 10_000 + batch * 100 + i + 1, "An", None))
                            .collect();
                        let out = append(&mut j, &recs.iter().collect::<Vec<_>>());
                        accepted += out
                            .iter()
                            .filter(|o| matches!(o, AppendOutcome::Accepted { .. }))
                            .count();
                    }
                    accepted
                })
            })
            .collect();
        let accepted: usize = writers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(accepted, 4 * 10 * 25);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.counts().unwrap().total, 1000);
        let report = j.verify().unwrap();
        assert_eq!(
            report,
            VerifyReport {
                entries: 1000,
                first_broken: None
            }
        );
    }

    #[test]
    fn reconcile_candidates_and_resend() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        let recs: Vec<_> = (1..=6).map(|i| rec(i, "An", None)).collect();
        append(&mut j, &recs.iter().collect::<Vec<_>>());
        j.apply_results(&[
            (1, Resolution::Held { note: None }),
            (2, Resolution::Held { note: None }),
            (5, Resolution::Held { note: None }),
        ])
        .unwrap();
        // Server says it holds 1..=3: pending 3 is a candidate, acked 5 too.
        let c: Vec<u64> = j
            .entries_to_reconcile(3, 0, 100)
            .unwrap()
            .iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(c, vec![3, 5]);
        j.apply_results(&[(5, Resolution::Resend)]).unwrap();
        assert_eq!(j.counts().unwrap().pending, 4);
        let batch = j.next_batch(Timestamp::now(), 10, usize::MAX).unwrap();
        assert_eq!(
            batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
    }

    #[test]
    fn parked_entries_requeue() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        append(&mut j, &[&rec(1, "An", None), &rec(2, "An", None)]);
        j.apply_results(&[(
            1,
            Resolution::Parked {
                reason: "bad".into(),
            },
        )])
        .unwrap();
        assert_eq!(j.parked(10).unwrap()[0].reason, "bad");
        assert_eq!(
            j.next_batch(Timestamp::now(), 10, usize::MAX)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(j.requeue(None).unwrap(), 1);
        assert_eq!(j.counts().unwrap().parked, 0);
        assert_eq!(
            j.next_batch(Timestamp::now(), 10, usize::MAX)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn sync_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut j = Journal::open(&path).unwrap();
        let state = SyncState {
            failures: 7,
            next_attempt_at: Timestamp(1_800_000_000_000),
            last_error: Some("cannot reach the server".into()),
            reachable: Some(false),
            ..SyncState::default()
        };
        j.save_sync_state(&state).unwrap();
        drop(j);
        assert_eq!(Journal::open(&path).unwrap().sync_state().unwrap(), state);
    }
}
