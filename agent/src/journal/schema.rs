//! The journal's tables, and how a file is brought to this build's schema.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::EntryState;
use crate::error::JournalError;

pub(super) const SCHEMA_VERSION: i64 = 9;

/// The whole schema, version 1. Partial indexes name the entry states by
/// their stored numbers, which [`EntryState`] owns; queries that want those
/// indexes must spell the same condition (see [`EntryState::sql`]).
fn schema_v1() -> String {
    let pending = EntryState::Pending.sql();
    let parked = EntryState::Parked.sql();
    format!(
        r#"
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
    -- Upload state until version 8, which moved it to `uploads`: no
    -- longer read or written.
    state           INTEGER NOT NULL DEFAULT {pending},
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    state_reason    TEXT,
    state_at        INTEGER
);
CREATE INDEX IF NOT EXISTS entries_nat_key ON entries(nat_key, seq);
CREATE INDEX IF NOT EXISTS entries_pending ON entries(seq) WHERE state = {pending};
CREATE INDEX IF NOT EXISTS entries_parked ON entries(seq) WHERE state = {parked};
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
"#
    )
}

/// Version 2: the journal's identity (`meta.journal_id`), which the data
/// directory keeps a copy of (see `identity`), so a replaced or emptied
/// journal is noticed.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('journal_id', lower(hex(randomblob(16))));
";

/// Version 3: the last error's kind and values (to word it in the reader's
/// language), and the record normal form the journal's entries are in: a
/// journal that already holds entries was written with normal form 1 (book
/// codes kept their leading zeros); see `hotich_protocol::record::NORMAL_FORM`.
const SCHEMA_V3: &str = "
ALTER TABLE sync_state ADD COLUMN last_error_info TEXT;
INSERT OR IGNORE INTO meta (key, value)
    SELECT 'normal_form', CASE WHEN EXISTS (SELECT 1 FROM entries) THEN '1' ELSE '2' END;
";

/// Version 4: refused entries can be closed (resolved by a correction, or
/// dismissed); an older agent must not read state 3 as damage.
const SCHEMA_V4: &str = "
CREATE INDEX IF NOT EXISTS entries_closed ON entries(seq) WHERE state = 3;
";

/// Version 5: page scans the records name, each once, and whether the
/// server holds it yet (see `scans`); entries already there are read for
/// theirs.
const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS scans (
    sha256     TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    first_seq  INTEGER NOT NULL,
    stored_at  INTEGER,
    problem    TEXT
);
CREATE INDEX IF NOT EXISTS scans_waiting ON scans(first_seq) WHERE stored_at IS NULL;
CREATE TABLE IF NOT EXISTS entry_scans (
    seq     INTEGER NOT NULL,
    sha256  TEXT NOT NULL,
    PRIMARY KEY (seq, sha256)
);
CREATE INDEX IF NOT EXISTS entry_scans_by_scan ON entry_scans(sha256);
INSERT OR IGNORE INTO scans (sha256, bytes, first_seq)
    SELECT json_extract(s.value, '$.sha256'), json_extract(s.value, '$.bytes'), e.seq
    FROM entries e, json_each(e.record, '$.scans') s
    WHERE e.record LIKE '%\"scans\":%';
INSERT OR IGNORE INTO entry_scans (seq, sha256)
    SELECT e.seq, json_extract(s.value, '$.sha256')
    FROM entries e, json_each(e.record, '$.scans') s
    WHERE e.record LIKE '%\"scans\":%';
";

/// Version 6: who entered each entry and, for a correction, why (the
/// envelope, not part of the record's hash); the centre's signed receipts of the batches it stored; and
/// scans attached to a record after it was entered (a page scanned later),
/// found by its natural key. The record and its hash stay
/// as they are: this is not a correction. Each attachment is sent once the
/// record is stored centrally (`sent_at`).
const SCHEMA_V6: &str = "
CREATE TABLE IF NOT EXISTS attachments (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL REFERENCES entries(seq),
    sha256      TEXT NOT NULL,
    scan        TEXT NOT NULL,
    entered_at  INTEGER NOT NULL,
    source_id   INTEGER REFERENCES sources(id),
    source_line INTEGER,
    sent_at     INTEGER,
    UNIQUE (seq, sha256)
);
CREATE INDEX IF NOT EXISTS attachments_unsent ON attachments(seq) WHERE sent_at IS NULL;
ALTER TABLE entries ADD COLUMN official TEXT;
ALTER TABLE entries ADD COLUMN correction_reason TEXT;
CREATE TABLE IF NOT EXISTS receipts (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    chain       BLOB NOT NULL,
    signature   TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
";

/// Version 7: second keyings of book entries and third looks at their
/// discrepancies (their own kind of entry: never in `entries`, never a
/// conflict), and the books declared closed. Both only ever added; sent
/// once (`sent_at`).
const SCHEMA_V7: &str = "
CREATE TABLE IF NOT EXISTS keyings (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    nat_key      TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    record       TEXT,
    official     TEXT NOT NULL,
    keyed_at     INTEGER NOT NULL,
    source_id    INTEGER REFERENCES sources(id),
    source_line  INTEGER,
    sent_at      INTEGER,
    UNIQUE (kind, nat_key, content_hash, official)
);
CREATE INDEX IF NOT EXISTS keyings_unsent ON keyings(id) WHERE sent_at IS NULL;
CREATE TRIGGER IF NOT EXISTS keyings_are_never_deleted
BEFORE DELETE ON keyings BEGIN SELECT RAISE(ABORT, 'keyings are never deleted'); END;
CREATE TABLE IF NOT EXISTS book_closures (
    id        INTEGER PRIMARY KEY,
    closure   TEXT NOT NULL,
    closed_at INTEGER NOT NULL,
    sent_at   INTEGER
);
";

/// Version 8: each entry's upload state in its own narrow table, one row
/// per entry. It was kept in the entry's row beside the record text
/// (about 1.2 KB), so every answer from the server rewrote whole pages of
/// records: marking 100,000 entries sent wrote some 120 MB to the WAL and
/// again at checkpoint, a third of the agent's time in a sync. A row here
/// is about 20 bytes.
///
/// The old columns stay in `entries`, unread: dropping them rewrites the
/// whole table once per column while holding the write lock (minutes on a
/// large journal on a weak PC). With them no longer written, an entry is
/// now refused any update at all.
fn schema_v8() -> String {
    let pending = EntryState::Pending.sql();
    let parked = EntryState::Parked.sql();
    let closed = EntryState::Closed.sql();
    format!(
        r#"
CREATE TABLE IF NOT EXISTS uploads (
    seq             INTEGER PRIMARY KEY,
    state           INTEGER NOT NULL DEFAULT {pending},
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    state_reason    TEXT,
    state_at        INTEGER
);
INSERT OR IGNORE INTO uploads (seq, state, attempts, next_attempt_at, state_reason, state_at)
    SELECT seq, state, attempts, next_attempt_at, state_reason, state_at FROM entries;
DROP INDEX IF EXISTS entries_pending;
DROP INDEX IF EXISTS entries_parked;
DROP INDEX IF EXISTS entries_closed;
CREATE INDEX IF NOT EXISTS uploads_pending ON uploads(seq) WHERE state = {pending};
CREATE INDEX IF NOT EXISTS uploads_parked ON uploads(seq) WHERE state = {parked};
CREATE INDEX IF NOT EXISTS uploads_closed ON uploads(seq) WHERE state = {closed};
CREATE TRIGGER IF NOT EXISTS uploads_are_never_deleted
BEFORE DELETE ON uploads BEGIN SELECT RAISE(ABORT, 'journal entries are never deleted'); END;
DROP TRIGGER IF EXISTS entries_are_append_only;
CREATE TRIGGER entries_are_append_only
BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
"#
    )
}

/// Version 9: an entry is found by its natural key, and its content hash is
/// unique within that key, instead of unique across the whole journal.
/// The same content always has the same natural key, so this is the same
/// guarantee (a content is held once); but a hash is random, and a
/// journal-wide index of hashes put each new entry on a random page: at a
/// million entries every commit dirtied about one index page per record,
/// and importing ran at half its speed at 100,000. Keys grow in book
/// order, so new entries land on the few pages of the books being entered.
/// This one index also replaces `entries_nat_key`.
///
/// A column's UNIQUE cannot be dropped in SQLite, so `entries` is rebuilt
/// once (without the upload-state columns that version 8 stopped using),
/// following SQLite's "making other kinds of table schema changes": the
/// caller runs this with foreign keys off and checks them after.
const SCHEMA_V9: &str = "
CREATE TABLE entries_v9 (
    seq               INTEGER PRIMARY KEY,
    content_hash      BLOB NOT NULL,
    chain_hash        BLOB NOT NULL,
    record            TEXT NOT NULL,
    nat_key           TEXT NOT NULL,
    supersedes        BLOB,
    entered_at        INTEGER NOT NULL,
    source_id         INTEGER REFERENCES sources(id),
    source_line       INTEGER,
    official          TEXT,
    correction_reason TEXT
);
INSERT INTO entries_v9 (seq, content_hash, chain_hash, record, nat_key, supersedes, entered_at,
                        source_id, source_line, official, correction_reason)
    SELECT seq, content_hash, chain_hash, record, nat_key, supersedes, entered_at,
           source_id, source_line, official, correction_reason
    FROM entries ORDER BY seq;
DROP TABLE entries;
ALTER TABLE entries_v9 RENAME TO entries;
CREATE UNIQUE INDEX entries_by_key ON entries(nat_key, content_hash);
CREATE TRIGGER entries_are_append_only
BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
CREATE TRIGGER entries_are_never_deleted
BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'journal entries are never deleted'); END;
";

/// Entries from which upgrading to schema 9 is announced (a few seconds).
const UPGRADE_NOTICE_ENTRIES: i64 = 50_000;

/// How long a writer waits for another process's transaction (an importer
/// and the service share the file) before giving up.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the file for reading only (`status`, `verify` in a read-only data
/// directory). A journal in WAL mode whose directory is read-only has no
/// -shm file to share; it is then opened as immutable, which is safe because
/// nobody can be writing to it there.
pub(super) fn open_read_only(path: &Path) -> Result<Connection, JournalError> {
    use rusqlite::OpenFlags;
    let err = |source| JournalError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags).and_then(|c| {
        c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map(|()| c)
    }) {
        Ok(c) => c,
        Err(_) => {
            let uri = format!("file:{}?immutable=1", path.display());
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI).map_err(err)?
        }
    };
    let version: i64 = conn
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
        return Err(JournalError::Lost {
            path: path.to_path_buf(),
            detail: crate::tr!("journal-old-format", version = version),
        });
    }
    Ok(conn)
}

/// Opens the file with the journal's durability settings and brings it to
/// this build's schema.
pub(super) fn open(path: &Path) -> Result<Connection, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    // A commit returns only after the WAL is fsynced: accepted means durable.
    conn.pragma_update(None, "synchronous", "FULL")
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
    if version < 1 {
        tx.execute_batch(&schema_v1()).map_err(err)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(err)?;
    }
    if version < 3 {
        tx.execute_batch(SCHEMA_V3).map_err(err)?;
    }
    if version < 4 {
        tx.execute_batch(SCHEMA_V4).map_err(err)?;
    }
    if version < 5 {
        tx.execute_batch(SCHEMA_V5).map_err(err)?;
    }
    if version < 6 {
        tx.execute_batch(SCHEMA_V6).map_err(err)?;
    }
    if version < 7 {
        tx.execute_batch(SCHEMA_V7).map_err(err)?;
    }
    if version < 8 {
        tx.execute_batch(&schema_v8()).map_err(err)?;
    }
    if version < 9 {
        // The one rewrite of every entry: say so where it can take a while
        // (about 30 s a million entries here; more on an old PC's disk).
        let entries: i64 = tx
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
            .map_err(err)?;
        if entries >= UPGRADE_NOTICE_ENTRIES {
            eprintln!("{}", crate::tr!("journal-upgrading", entries = entries));
        }
        tx.execute_batch(SCHEMA_V9).map_err(err)?;
        // Foreign keys are still off (they are turned on below): the rebuilt
        // table must satisfy every reference before the upgrade commits.
        let broken: Option<String> = tx
            .query_row(
                "SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if let Some(table) = broken {
            return Err(JournalError::Lost {
                path: path.to_path_buf(),
                detail: crate::tr!("journal-upgrade-broken-reference", table = table.as_str()),
            });
        }
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    // Not before: a table that others refer to is rebuilt above, which
    // SQLite allows only with foreign keys off.
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    Ok(conn)
}
