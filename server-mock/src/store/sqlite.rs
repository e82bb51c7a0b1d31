//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a 2xx is sent only after the batch is on disk. One writer connection
//! (SQLite has one writer anyway) serializes batches; reads use their own
//! connections and never wait for a write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotich_protocol::wire::{ChainState, EntryResult};
use hotich_protocol::{ChainHash, ContentHash, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    AgentInfo, Alert, BatchError, CONTIGUOUS_PAGE, Checked, CheckedEntry, ExportRow, JournalRow,
    NewAgent, Snapshot, Storage, StoreError, advance_contiguous, cap_alerts, chain_of, hash_of,
    plan_batch,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE agents (
    id             INTEGER PRIMARY KEY,
    commune        TEXT NOT NULL,
    name           TEXT,
    province       TEXT,
    district       TEXT,
    token_hash     BLOB NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    contiguous_seq INTEGER NOT NULL DEFAULT 0,
    head_chain     BLOB,
    highest_seq    INTEGER NOT NULL DEFAULT 0,
    last_seen_at   INTEGER,
    heartbeat      TEXT,
    heartbeat_at   INTEGER
);
CREATE TABLE records (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    commune     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    nat_key     TEXT NOT NULL,
    supersedes  BLOB,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    seq         INTEGER NOT NULL,
    entered_at  INTEGER,
    received_at INTEGER NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX records_by_commune ON records(commune, id);
CREATE TABLE heads (
    nat_key TEXT PRIMARY KEY,
    hash    BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE links (
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    seq          INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    chain_hash   BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    seq      INTEGER,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX alerts_by_agent ON alerts(agent_id, id);
"#,
    r#"
-- 2: monitoring. Areas replace districts (abolished 1 July 2025); the
-- device (journal id) an agent last reported; its contact history; records
-- per commune kept as a counter; dashboard viewers and their sessions.
ALTER TABLE agents RENAME COLUMN district TO area;
ALTER TABLE agents ADD COLUMN device TEXT;
ALTER TABLE agents ADD COLUMN contact_at INTEGER;
CREATE INDEX agents_by_commune ON agents(commune);
CREATE TABLE commune_records (
    commune TEXT PRIMARY KEY,
    records INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO commune_records (commune, records) SELECT commune, count(*) FROM records GROUP BY commune;
CREATE TABLE contacts (
    id       INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX contacts_by_agent ON contacts(agent_id, at);
CREATE TABLE viewers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    province      TEXT,
    area          TEXT,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    viewer_id  INTEGER NOT NULL REFERENCES viewers(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- 3: recovery. The content of an agent's entries the server refused, so
-- its whole journal can be rebuilt from here; one-time recovery codes.
ALTER TABLE links ADD COLUMN record TEXT;
CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
"#,
    r#"
-- 4: page scans. Each record's scans (named by it, or attached later), and
-- which scans the server holds for each commune; see `store::scans`.
CREATE TABLE record_scans (
    record_hash BLOB NOT NULL,
    sha256      TEXT NOT NULL,
    commune     TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    attached    INTEGER NOT NULL DEFAULT 0,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    received_at INTEGER NOT NULL,
    attached_at INTEGER,
    PRIMARY KEY (record_hash, sha256)
) WITHOUT ROWID;
CREATE INDEX record_scans_by_commune ON record_scans(commune, sha256);
-- Who entered a record and, for a correction, why (not in its hash).
CREATE TABLE record_envelopes (
    record_hash       BLOB PRIMARY KEY,
    official          TEXT,
    correction_reason TEXT
) WITHOUT ROWID;
-- The receipt signing key, shared by every process on this database.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE scans_held (
    commune   TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (commune, sha256)
) WITHOUT ROWID;
INSERT OR IGNORE INTO record_scans (record_hash, sha256, commune, bytes, media_type, agent_id, received_at)
    SELECT r.hash, json_extract(s.value, '$.sha256'), r.commune, json_extract(s.value, '$.bytes'),
           json_extract(s.value, '$.media_type'), r.agent_id, r.received_at
    FROM records r, json_each(r.record, '$.scans') s
    WHERE r.record LIKE '%"scans":%';
"#,
    r#"
-- 5: accuracy. Second keyings and third looks (only ever added), and the
-- books officials declared closed; see `store::books`.
CREATE TABLE keyings (
    id          INTEGER PRIMARY KEY,
    commune     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    nat_key     TEXT NOT NULL,
    hash        BLOB NOT NULL,
    record      TEXT,
    official    TEXT NOT NULL,
    keyed_at    INTEGER NOT NULL,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    received_at INTEGER NOT NULL,
    UNIQUE (kind, nat_key, hash, official)
);
CREATE INDEX keyings_by_commune ON keyings(commune, id);
CREATE TABLE book_closures (
    commune     TEXT NOT NULL,
    former      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    year        INTEGER NOT NULL,
    book        TEXT NOT NULL,
    closure     TEXT NOT NULL,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    received_at INTEGER NOT NULL,
    closed_at   INTEGER NOT NULL,
    PRIMARY KEY (commune, former, kind, year, book)
) WITHOUT ROWID;
"#,
    r#"
-- 6: content hashes indexed within their commune, not across the country.
-- A record's commune is its content's (`commune_code`, checked on upload),
-- so a content is still stored once; but a hash is random, and one index
-- of every commune's hashes put each new record on a random page of it
-- (at 100,000 records about as many index pages as record pages written
-- per batch). Within a commune, an agent's batch touches the pages of its
-- own commune only. A column's UNIQUE cannot be dropped: `records` is
-- rebuilt once (nothing refers to it).
CREATE TABLE records_v6 (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL,
    commune     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    nat_key     TEXT NOT NULL,
    supersedes  BLOB,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    seq         INTEGER NOT NULL,
    entered_at  INTEGER,
    received_at INTEGER NOT NULL,
    record      TEXT NOT NULL
);
INSERT INTO records_v6 (id, hash, commune, kind, nat_key, supersedes, agent_id, seq, entered_at,
                        received_at, record)
    SELECT id, hash, commune, kind, nat_key, supersedes, agent_id, seq, entered_at,
           received_at, record
    FROM records ORDER BY id;
DROP TABLE records;
ALTER TABLE records_v6 RENAME TO records;
CREATE UNIQUE INDEX records_by_hash ON records(commune, hash);
CREATE INDEX records_by_commune ON records(commune, id);
"#,
    r#"
-- 7: records indexed by natural key, then content hash. Even within one
-- commune a hash lands on a random page of the index: at a million records
-- each batch dirtied about as many index pages as it wrote records, and the
-- commit (WAL, fsync, checkpoint) grew threefold. A commune's keys grow as
-- its books are entered, so its new records land at the index's end. What
-- looked a record up by hash alone now reads it by the id its link (an
-- agent's journal entry) or its scan names; both are filled here while the
-- old index still answers.
ALTER TABLE links ADD COLUMN record_id INTEGER;
UPDATE links SET record_id = (
    SELECT r.id FROM records r
    WHERE r.commune = (SELECT a.commune FROM agents a WHERE a.id = links.agent_id)
      AND r.hash = links.content_hash);
ALTER TABLE record_scans ADD COLUMN record_id INTEGER;
UPDATE record_scans SET record_id = (
    SELECT r.id FROM records r
    WHERE r.commune = record_scans.commune AND r.hash = record_scans.record_hash);
-- Who entered a record, likewise by its id: keyed by hash it was one more
-- random index written for every record an official is named on.
CREATE TABLE record_envelopes_v7 (
    record_id         INTEGER PRIMARY KEY,
    official          TEXT,
    correction_reason TEXT
);
INSERT OR IGNORE INTO record_envelopes_v7 (record_id, official, correction_reason)
    SELECT r.id, e.official, e.correction_reason
    FROM record_envelopes e JOIN records r ON r.hash = e.record_hash;
DROP TABLE record_envelopes;
ALTER TABLE record_envelopes_v7 RENAME TO record_envelopes;
DROP INDEX records_by_hash;
CREATE UNIQUE INDEX records_by_key ON records(nat_key, hash);
"#,
];

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Batches of thousands of records touch many index pages: keep them
    // cached, and checkpoint in large steps, so that a page changed by many
    // batches is copied into the database once per checkpoint, not once per
    // few batches (sync of one commune's 1,000,000 records: 24,100 -> 28,400
    // records/s from 32 to 128 MB of WAL; 256 MB gained nothing more). The
    // WAL file is cut back to 64 MB after a checkpoint. Durability is
    // unchanged (FULL above).
    conn.pragma_update(None, "cache_size", -64 * 1024)?;
    conn.pragma_update(None, "wal_autocheckpoint", 32_768)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite's own state consistent
    // (the transaction rolls back on drop), so the guard is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn agent_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentInfo> {
    Ok(AgentInfo {
        id: r.get(0)?,
        commune: r.get(1)?,
        name: r.get(2)?,
        province: r.get(3)?,
        area: r.get(4)?,
        created_at: Timestamp(r.get(5)?),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        last_seen_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        contiguous_seq: r.get::<_, i64>(8)? as u64,
        highest_seq: r.get::<_, i64>(9)? as u64,
    })
}

pub(super) const AGENT_COLUMNS: &str = "id, commune, name, province, area, created_at, revoked_at, last_seen_at, contiguous_seq, highest_seq";

impl SqliteStore {
    /// Opens the database, creating it and applying migrations as needed.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // Names and ID numbers of citizens: readable by the server's account
        // only. SQLite gives its -wal and -shm files the same mode.
        if let Err(e) = super::create_new_private(path)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(StoreError::Io(format!("{}: {e}", path.display())));
        }
        let mut conn = connect(path)?;
        let known = MIGRATIONS.len() as i64;
        // Read the version under the write lock: a server and an `agent add`
        // may open a new database at the same moment.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for sql in MIGRATIONS.iter().skip(version as usize) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&writer)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match lock(&readers).pop() {
                Some(c) => c,
                None => connect(&path)?,
            };
            let result = f(&conn);
            lock(&readers).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn commit_chunks_tx<E>(
    conn: &mut Connection,
    agent_id: i64,
    mut chunks: super::Chunks<E>,
) -> Result<Vec<EntryResult>, BatchError<E>> {
    let now = Timestamp::now().millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let commune: String = tx.query_row(
        "SELECT commune FROM agents WHERE id = ?1",
        [agent_id],
        |r| r.get(0),
    )?;
    let mut results = Vec::new();
    let mut alerts = Vec::new();
    let mut highest = 0u64;
    // Dropping `tx` without a commit (refusal, or checking cut short) rolls
    // back what earlier chunks wrote.
    loop {
        match chunks.blocking_recv() {
            Some(Checked::Chunk(entries)) => {
                let plan = write_chunk(&tx, agent_id, &commune, entries, now)?;
                highest = highest.max(plan.highest_seq);
                results.extend(plan.results);
                alerts.extend(plan.alerts);
            }
            Some(Checked::Refused(e)) => return Err(BatchError::Refused(e)),
            Some(Checked::Done) => break,
            None => return Err(BatchError::Incomplete),
        }
    }
    write_alerts(&tx, agent_id, alerts, now)?;
    update_agent_chain(&tx, agent_id, highest, now)?;
    tx.commit()?;
    Ok(results)
}

/// Plans one chunk against what the transaction sees (earlier chunks
/// included) and writes it.
fn write_chunk(
    tx: &rusqlite::Transaction<'_>,
    agent_id: i64,
    commune: &str,
    entries: Vec<CheckedEntry>,
    now: i64,
) -> Result<super::Plan, StoreError> {
    let (low, high, keys) = Snapshot::keys(&entries);
    let mut snap = Snapshot::default();
    // Record ids by content hash, of this chunk's stored contents: its links
    // and scans name them.
    let mut ids: HashMap<ContentHash, i64> = HashMap::new();
    {
        let mut links = tx.prepare_cached(
            "SELECT seq, chain_hash FROM links WHERE agent_id = ?1 AND seq BETWEEN ?2 AND ?3",
        )?;
        let mut rows = links.query(params![agent_id, low as i64, high as i64])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            snap.links.insert(seq as u64, chain_of(&blob)?);
        }
        let mut head = tx.prepare_cached("SELECT hash FROM heads WHERE nat_key = ?1")?;
        for k in keys {
            if let Some(blob) = head
                .query_row([&k], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
            {
                snap.heads.insert(k, hash_of(&blob)?);
            }
        }
        let mut stored =
            tx.prepare_cached("SELECT id FROM records WHERE nat_key = ?1 AND hash = ?2")?;
        for (key, h) in snap.hashes_to_check(&entries) {
            if let Some(id) = stored
                .query_row(params![key, h.as_bytes().as_slice()], |r| r.get(0))
                .optional()?
            {
                snap.stored.insert(h);
                ids.insert(h, id);
            }
        }
    }
    let plan = plan_batch(entries, snap);
    let mut record = tx.prepare_cached(
        "INSERT INTO records (hash, commune, kind, nat_key, supersedes, agent_id, seq, entered_at, received_at, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in &plan.records {
        record.execute(params![
            r.record.hash.as_bytes().as_slice(),
            commune,
            r.record.kind.as_str(),
            r.record.storage_key,
            r.record.supersedes.map(|h| h.as_bytes().to_vec()),
            agent_id,
            r.seq as i64,
            r.entered_at.map(|t| t.millis()),
            now,
            r.record.canonical,
        ])?;
        ids.insert(r.record.hash, tx.last_insert_rowid());
    }
    let mut link = tx.prepare_cached(
        "INSERT INTO links (agent_id, seq, content_hash, chain_hash, received_at, record, record_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for l in &plan.links {
        link.execute(params![
            agent_id,
            l.seq as i64,
            l.content_hash.as_bytes().as_slice(),
            l.chain.as_bytes().as_slice(),
            now,
            l.record,
            l.held.then(|| ids.get(&l.content_hash)).flatten(),
        ])?;
    }
    for (seq, hash) in &plan.relinks {
        if let Some(id) = ids.get(hash) {
            tx.prepare_cached(
                "UPDATE links SET record_id = ?3
                 WHERE agent_id = ?1 AND seq = ?2 AND content_hash = ?4 AND record_id IS NULL",
            )?
            .execute(params![
                agent_id,
                *seq as i64,
                id,
                hash.as_bytes().as_slice()
            ])?;
        }
    }
    for r in &plan.records {
        if r.envelope != super::Envelope::default() {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO record_envelopes (record_id, official, correction_reason)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                ids.get(&r.record.hash),
                r.envelope.official,
                r.envelope.correction_reason
            ])?;
        }
        for scan in super::scans::scans_named(&r.record.hash, &r.record.canonical) {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO record_scans (record_hash, sha256, commune, bytes, media_type, agent_id, received_at, record_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                scan.record.as_bytes().as_slice(),
                scan.sha256,
                commune,
                scan.bytes,
                scan.media_type,
                agent_id,
                now,
                ids.get(&r.record.hash),
            ])?;
        }
    }
    if !plan.records.is_empty() {
        // The dashboard's count, kept here so it never scans the records.
        tx.prepare_cached(
            "INSERT INTO commune_records (commune, records) VALUES (?1, ?2)
             ON CONFLICT (commune) DO UPDATE SET records = records + excluded.records",
        )?
        .execute(params![commune, plan.records.len() as i64])?;
    }
    let mut head = tx.prepare_cached(
        "INSERT INTO heads (nat_key, hash) VALUES (?1, ?2) ON CONFLICT (nat_key) DO UPDATE SET hash = excluded.hash",
    )?;
    for (k, h) in &plan.heads {
        head.execute(params![k, h.as_bytes().as_slice()])?;
    }
    Ok(plan)
}

/// Writes a batch's alerts, capped (see [`cap_alerts`]).
fn write_alerts(
    tx: &rusqlite::Transaction<'_>,
    agent_id: i64,
    mut alerts: Vec<Alert>,
    now: i64,
) -> Result<(), StoreError> {
    cap_alerts(&mut alerts);
    let mut alert = tx.prepare_cached(
        "INSERT INTO alerts (agent_id, seq, kind, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in &alerts {
        tracing::warn!(agent_id, seq = ?a.seq, kind = %a.kind, detail = %a.detail, "integrity alert");
        alert.execute(params![
            agent_id,
            a.seq.map(|s| s as i64),
            a.kind,
            a.detail,
            now
        ])?;
    }
    Ok(())
}

fn update_agent_chain(
    conn: &Connection,
    agent_id: i64,
    highest: u64,
    now: i64,
) -> Result<(), StoreError> {
    let (mut contiguous, old_highest): (i64, i64) = conn.query_row(
        "SELECT contiguous_seq, highest_seq FROM agents WHERE id = ?1",
        [agent_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut next = conn.prepare_cached(
        "SELECT seq FROM links WHERE agent_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    loop {
        let seqs: Vec<u64> = next
            .query_map(params![agent_id, contiguous, CONTIGUOUS_PAGE], |r| {
                r.get::<_, i64>(0)
            })?
            .map(|s| s.map(|s| s as u64))
            .collect::<Result<_, _>>()?;
        let advanced = advance_contiguous(contiguous as u64, seqs.iter().copied()) as i64;
        let full_page = seqs.len() as i64 == CONTIGUOUS_PAGE;
        let moved = advanced != contiguous;
        contiguous = advanced;
        if !(full_page && moved) {
            break;
        }
    }
    let head: Option<Vec<u8>> = conn
        .query_row(
            "SELECT chain_hash FROM links WHERE agent_id = ?1 AND seq = ?2",
            params![agent_id, contiguous],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute(
        "UPDATE agents SET contiguous_seq = ?2, head_chain = ?3, highest_seq = ?4, last_seen_at = ?5 WHERE id = ?1",
        params![agent_id, contiguous, head, old_highest.max(highest as i64), now],
    )?;
    Ok(())
}

impl Storage for SqliteStore {
    async fn add_agent(&self, agent: NewAgent) -> Result<AgentInfo, StoreError> {
        self.write(move |conn| {
            let now = Timestamp::now().millis();
            conn.execute(
                "INSERT INTO agents (commune, name, province, area, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![agent.commune, agent.name, agent.province, agent.area, agent.token_hash.as_slice(), now],
            )?;
            let id = conn.last_insert_rowid();
            Ok(conn.query_row(
                &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
                [id],
                agent_from_row,
            )?)
        })
        .await
    }

    async fn list_agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))?;
            let rows = stmt.query_map([], agent_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_agent(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let exists = conn
                .query_row("SELECT 1 FROM agents WHERE id = ?1", [id], |_| Ok(()))
                .optional()?;
            conn.execute(
                "UPDATE agents SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, Timestamp::now().millis()],
            )?;
            Ok(exists.is_some())
        })
        .await
    }

    async fn agent_by_token(&self, token_hash: [u8; 32]) -> Result<Option<AgentInfo>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {AGENT_COLUMNS} FROM agents WHERE token_hash = ?1 AND revoked_at IS NULL"
                ))?
                .query_row([token_hash.as_slice()], agent_from_row)
                .optional()?)
        })
        .await
    }

    async fn commit_chunks<E: Send + 'static>(
        &self,
        agent_id: i64,
        _commune: &str,
        chunks: super::Chunks<E>,
    ) -> Result<Vec<EntryResult>, BatchError<E>> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || commit_chunks_tx(&mut lock(&writer), agent_id, chunks))
            .await
            .map_err(|e| BatchError::Store(StoreError::Task(e.to_string())))?
    }

    async fn add_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO recovery_codes (code_hash, agent_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash.as_slice(), agent_id, Timestamp::now().millis(), expires_at.millis()],
            )?;
            Ok(())
        })
        .await
    }

    async fn recovery_code_valid(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM recovery_codes WHERE code_hash = ?1 AND agent_id = ?2
                     AND used_at IS NULL AND expires_at > ?3",
                )?
                .exists(params![
                    code_hash.as_slice(),
                    agent_id,
                    Timestamp::now().millis()
                ])?)
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE recovery_codes SET used_at = ?3 WHERE code_hash = ?1 AND agent_id = ?2",
                params![code_hash.as_slice(), agent_id, Timestamp::now().millis()],
            )?;
            Ok(())
        })
        .await
    }

    async fn journal_page(
        &self,
        agent_id: i64,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<JournalRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.seq, l.content_hash, l.chain_hash, r.record IS NOT NULL, coalesce(r.record, l.record)
                 FROM links l
                 LEFT JOIN records r ON r.id = l.record_id
                 WHERE l.agent_id = ?1 AND l.seq >= ?2 ORDER BY l.seq LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![agent_id, from_seq as i64, limit as i64])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(JournalRow {
                    seq: row.get::<_, i64>(0)? as u64,
                    content_hash: hash_of(&row.get::<_, Vec<u8>>(1)?)?,
                    chain: chain_of(&row.get::<_, Vec<u8>>(2)?)?,
                    stored: row.get(3)?,
                    record: row.get(4)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn links_between(
        &self,
        agent_id: i64,
        low: u64,
        high: u64,
    ) -> Result<HashMap<u64, super::HeldLink>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, content_hash, record_id IS NOT NULL FROM links
                 WHERE agent_id = ?1 AND seq BETWEEN ?2 AND ?3",
            )?;
            let mut rows = stmt.query(params![agent_id, low as i64, high as i64])?;
            let mut out = HashMap::new();
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let hash: Vec<u8> = row.get(1)?;
                out.insert(
                    seq as u64,
                    super::HeldLink {
                        content_hash: hash_of(&hash)?,
                        held: row.get(2)?,
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    async fn chain_at(&self, agent_id: i64, seq: u64) -> Result<Option<ChainHash>, StoreError> {
        self.read(move |conn| {
            let chain: Option<Vec<u8>> = conn
                .prepare_cached("SELECT chain_hash FROM links WHERE agent_id = ?1 AND seq = ?2")?
                .query_row(params![agent_id, seq as i64], |r| r.get(0))
                .optional()?;
            chain.as_deref().map(chain_of).transpose()
        })
        .await
    }

    async fn chain_state(&self, agent_id: i64) -> Result<ChainState, StoreError> {
        self.read(move |conn| {
            let (contiguous, head, highest): (i64, Option<Vec<u8>>, i64) = conn.query_row(
                "SELECT contiguous_seq, head_chain, highest_seq FROM agents WHERE id = ?1",
                [agent_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let alerts: i64 = conn.query_row(
                "SELECT COUNT(*) FROM alerts WHERE agent_id = ?1",
                [agent_id],
                |r| r.get(0),
            )?;
            Ok(ChainState {
                contiguous_seq: contiguous as u64,
                head: head.as_deref().map(chain_of).transpose()?,
                highest_seq: highest as u64,
                alerts: alerts as u64,
            })
        })
        .await
    }

    async fn export_page(
        &self,
        commune: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportRow>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT r.id, r.hash, r.commune, r.agent_id, a.name, r.seq, r.received_at, r.entered_at, r.record,
                        e.official, e.correction_reason
                 FROM records r JOIN agents a ON a.id = r.agent_id
                 LEFT JOIN record_envelopes e ON e.record_id = r.id
                 WHERE r.id > ?1 AND (?2 IS NULL OR r.commune = ?2)
                 ORDER BY r.id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![after_id, commune, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, String>(8)?,
                    (r.get::<_, Option<String>>(9)?, r.get::<_, Option<String>>(10)?),
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, hash, commune_code, agent_id, agent, seq, received_at, entered_at, record, (official, correction_reason)) = row?;
                out.push(ExportRow {
                    id,
                    content_hash: hash_of(&hash)?,
                    commune_code,
                    agent_id,
                    agent,
                    seq: seq as u64,
                    received_at: Timestamp(received_at),
                    entered_at: entered_at.map(Timestamp),
                    record: serde_json::value::RawValue::from_string(record)
                        .map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?,
                    official,
                    correction_reason,
                    scans: Vec::new(),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn server_secret(&self, name: &str, fresh: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let name = name.to_string();
        self.write(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?1, ?2)",
                params![name, fresh],
            )?;
            Ok(conn.query_row(
                "SELECT value FROM server_secrets WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn alerts(&self, agent_id: i64) -> Result<Vec<Alert>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare("SELECT seq, kind, detail FROM alerts WHERE agent_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([agent_id], |r| {
                Ok(Alert {
                    seq: r.get::<_, Option<i64>>(0)?.map(|s| s as u64),
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

impl super::scans::ScanStore for SqliteStore {
    async fn attach_scans(
        &self,
        agent_id: i64,
        commune: &str,
        attachments: Vec<hotich_protocol::wire::Attachment>,
        now: Timestamp,
    ) -> Result<Vec<hotich_protocol::wire::AttachmentResult>, StoreError> {
        use hotich_protocol::wire::AttachmentResult;
        let commune = commune.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut out = Vec::with_capacity(attachments.len());
            {
                let mut linked = tx.prepare_cached(
                    "SELECT record_id FROM links
                     WHERE agent_id = ?1 AND seq = ?2 AND content_hash = ?3 AND record_id IS NOT NULL",
                )?;
                // An agent older than `Attachment::seq`: its commune's records
                // are read one by one (no index by hash alone).
                let mut by_hash =
                    tx.prepare_cached("SELECT id FROM records WHERE commune = ?1 AND hash = ?2")?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO record_scans
                         (record_hash, sha256, commune, bytes, media_type, attached, agent_id, received_at, attached_at, record_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9)",
                )?;
                for a in &attachments {
                    let record = a.record.as_bytes().as_slice();
                    let id: Option<i64> = match a.seq {
                        Some(seq) => linked
                            .query_row(params![agent_id, seq as i64, record], |r| r.get(0))
                            .optional()?,
                        None => by_hash
                            .query_row(params![commune, record], |r| r.get(0))
                            .optional()?,
                    };
                    let Some(id) = id else {
                        out.push(AttachmentResult::UnknownRecord);
                        continue;
                    };
                    insert.execute(params![
                        record,
                        a.scan.sha256.to_hex(),
                        commune,
                        a.scan.bytes as i64,
                        a.scan.media_type,
                        agent_id,
                        now.millis(),
                        a.attached_at.map(|t| t.millis()),
                        id,
                    ])?;
                    out.push(AttachmentResult::Stored);
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn note_scan_held(
        &self,
        commune: &str,
        sha256: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (commune, sha256) = (commune.to_string(), sha256.to_string());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO scans_held (commune, sha256, stored_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![commune, sha256, now.millis()])?;
            Ok(())
        })
        .await
    }

    async fn records_missing_scans(
        &self,
        commune: Option<&str>,
        limit: i64,
    ) -> Result<Vec<super::scans::MissingScans>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "WITH missing AS (
                     SELECT DISTINCT rs.record_id FROM record_scans rs
                     WHERE (?1 IS NULL OR rs.commune = ?1)
                       AND NOT EXISTS (SELECT 1 FROM scans_held h
                                       WHERE h.commune = rs.commune AND h.sha256 = rs.sha256))
                 SELECT r.commune, r.hash, r.nat_key, r.agent_id, rs.sha256, rs.bytes, rs.media_type,
                        rs.attached, h.sha256 IS NOT NULL
                 FROM (SELECT record_id FROM missing ORDER BY record_id LIMIT ?2) w
                 JOIN records r ON r.id = w.record_id
                 JOIN record_scans rs ON rs.record_hash = r.hash
                 LEFT JOIN scans_held h ON h.commune = rs.commune AND h.sha256 = rs.sha256
                 ORDER BY r.id, rs.attached, rs.sha256",
            )?;
            let rows = stmt.query_map(params![commune, limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    super::scans::RecordScanInfo {
                        sha256: r.get(4)?,
                        bytes: r.get(5)?,
                        media_type: r.get(6)?,
                        attached: r.get(7)?,
                        stored: r.get(8)?,
                    },
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (c, h, k, a, scan) = row?;
                out.push((c, hash_of(&h)?, k, a, scan));
            }
            Ok(super::scans::group_missing(out))
        })
        .await
    }

    async fn missing_scan_counts(
        &self,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rs.commune, count(DISTINCT rs.record_hash) FROM record_scans rs
                 WHERE NOT EXISTS (SELECT 1 FROM scans_held h
                                   WHERE h.commune = rs.commune AND h.sha256 = rs.sha256)
                 GROUP BY rs.commune",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = std::collections::HashMap::new();
            for row in rows {
                let (commune, n) = row?;
                out.insert(commune, n as u64);
            }
            Ok(out)
        })
        .await
    }

    async fn scans_of_records(
        &self,
        records: Vec<ContentHash>,
    ) -> Result<std::collections::HashMap<ContentHash, Vec<super::scans::RecordScanInfo>>, StoreError>
    {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rs.sha256, rs.bytes, rs.media_type, rs.attached, h.sha256 IS NOT NULL
                 FROM record_scans rs
                 LEFT JOIN scans_held h ON h.commune = rs.commune AND h.sha256 = rs.sha256
                 WHERE rs.record_hash = ?1 ORDER BY rs.attached, rs.sha256",
            )?;
            let mut out = std::collections::HashMap::new();
            for record in records {
                let rows = stmt.query_map([record.as_bytes().as_slice()], |r| {
                    Ok(super::scans::RecordScanInfo {
                        sha256: r.get(0)?,
                        bytes: r.get(1)?,
                        media_type: r.get(2)?,
                        attached: r.get(3)?,
                        stored: r.get(4)?,
                    })
                })?;
                let scans = rows.collect::<Result<Vec<_>, _>>()?;
                if !scans.is_empty() {
                    out.insert(record, scans);
                }
            }
            Ok(out)
        })
        .await
    }
}

impl super::books::BookStore for SqliteStore {
    async fn add_keyings(
        &self,
        rows: Vec<super::books::KeyingRow>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO keyings
                         (commune, kind, nat_key, hash, record, official, keyed_at, agent_id, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for k in &rows {
                    insert.execute(params![
                        k.commune,
                        k.kind.as_str(),
                        k.nat_key,
                        k.hash.as_bytes().as_slice(),
                        k.record,
                        k.official,
                        k.keyed_at.millis(),
                        k.agent_id,
                        now.millis(),
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn keyings(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<super::books::KeyingRow>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT commune, kind, nat_key, hash, record, official, keyed_at, agent_id
                     FROM keyings WHERE {} ORDER BY id",
                super::books::commune_filter(commune.as_deref(), "commune", "?1")
            ))?;
            let mut rows = stmt.query(params![commune])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(super::books::KeyingRow {
                    commune: r.get(0)?,
                    kind: super::books::kind_from_sql(&r.get::<_, String>(1)?)?,
                    nat_key: r.get(2)?,
                    hash: hash_of(&r.get::<_, Vec<u8>>(3)?)?,
                    record: r.get(4)?,
                    official: r.get(5)?,
                    keyed_at: Timestamp(r.get(6)?),
                    agent_id: r.get(7)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn close_books(
        &self,
        agent_id: i64,
        closures: Vec<hotich_protocol::books::BookClosure>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO book_closures
                         (commune, former, kind, year, book, closure, agent_id, received_at, closed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (commune, former, kind, year, book) DO UPDATE SET
                         closure = excluded.closure, agent_id = excluded.agent_id,
                         received_at = excluded.received_at, closed_at = excluded.closed_at
                     WHERE excluded.closed_at >= book_closures.closed_at",
                )?;
                for c in &closures {
                    let text = serde_json::to_string(c)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    upsert.execute(params![
                        c.book.commune_code,
                        c.book.former_commune_code.as_deref().unwrap_or(""),
                        c.book.kind.as_str(),
                        c.book.year,
                        c.book.book,
                        text,
                        agent_id,
                        now.millis(),
                        c.closed_at.millis(),
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn book_closures(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<hotich_protocol::books::BookClosure>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT closure FROM book_closures WHERE {}",
                super::books::commune_filter(commune.as_deref(), "commune", "?1")
            ))?;
            let mut rows = stmt.query(params![commune])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let text: String = r.get(0)?;
                out.push(
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("book closure: {e}")))?,
                );
            }
            Ok(out)
        })
        .await
    }

    async fn current_records(
        &self,
        nat_keys: Vec<String>,
    ) -> Result<Vec<(String, super::books::CurrentRecord)>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT r.hash, r.record, e.official
                 FROM heads h JOIN records r ON r.nat_key = h.nat_key AND r.hash = h.hash
                 LEFT JOIN record_envelopes e ON e.record_id = r.id
                 WHERE h.nat_key = ?1",
            )?;
            let mut out = Vec::new();
            for key in nat_keys {
                let found = stmt
                    .query_row(params![key], |r| {
                        Ok((
                            r.get::<_, Vec<u8>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    })
                    .optional()?;
                if let Some((hash, record, official)) = found {
                    out.push((
                        key,
                        super::books::CurrentRecord {
                            hash: hash_of(&hash)?,
                            record,
                            official,
                        },
                    ));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn book_entries(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<super::books::BookEntryRow>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT nat_key, supersedes IS NOT NULL FROM records WHERE {}",
                super::books::commune_filter(commune.as_deref(), "commune", "?1")
            ))?;
            let rows = stmt.query_map(params![commune], |r| {
                Ok(super::books::BookEntryRow {
                    nat_key: r.get(0)?,
                    is_correction: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn refused_entries(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let commune = commune.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT a.commune, l.record FROM agents a JOIN links l ON l.agent_id = a.id
                 WHERE l.record IS NOT NULL AND {}",
                super::books::commune_filter(commune.as_deref(), "a.commune", "?1")
            ))?;
            let rows = stmt.query_map(params![commune], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A central database from before schema 6 (one index of every
    /// commune's hashes) is brought forward with its records, and the new
    /// index still holds a content once.
    #[test]
    fn records_survive_the_move_to_hashes_indexed_per_commune() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.db");
        let insert =
            "INSERT INTO records (hash, commune, kind, nat_key, agent_id, seq, received_at, record)
                      VALUES (x'AA', '00004', 'birth', '00004/birth/1998/1/5', 1, ?1, 0, '{}')";
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..5] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            conn.execute(
                "INSERT INTO agents (id, commune, token_hash, created_at) VALUES (1, '00004', x'01', 0)",
                [],
            )
            .unwrap();
            conn.execute(insert, [1]).unwrap();
        }
        SqliteStore::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let kept: i64 = conn
            .query_row(
                "SELECT count(*) FROM records WHERE commune = '00004' AND hash = x'AA'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1);
        let again = conn.execute(insert, [2]);
        assert!(
            again.unwrap_err().to_string().contains("UNIQUE"),
            "the same content was stored twice"
        );
    }

    /// Schema 7 drops the index by content hash: what read a record by hash
    /// alone (an agent's journal, the have/lack exchange, the scans report)
    /// reads it by the id its link or scan names, filled by the migration
    /// from the old index.
    #[tokio::test]
    async fn links_and_scans_name_their_records_after_the_move_to_natural_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..6] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 6).unwrap();
            conn.execute_batch(
                "INSERT INTO agents (id, commune, token_hash, created_at) VALUES (1, '00004', x'01', 0);
                 INSERT INTO agents (id, commune, token_hash, created_at) VALUES (2, '00007', x'02', 0);
                 INSERT INTO records (id, hash, commune, kind, nat_key, agent_id, seq, received_at, record)
                     VALUES (10, zeroblob(32), '00004', 'birth', '00004/birth/1998/1/5', 1, 1, 0, '{\"a\":1}');
                 INSERT INTO links (agent_id, seq, content_hash, chain_hash, received_at)
                     VALUES (1, 1, zeroblob(32), zeroblob(32), 0);
                 INSERT INTO links (agent_id, seq, content_hash, chain_hash, received_at, record)
                     VALUES (1, 2, x'1111111111111111111111111111111111111111111111111111111111111111', zeroblob(32), 0, '{\"refused\":1}');
                 -- Another commune's agent with the same content hash: not its record.
                 INSERT INTO links (agent_id, seq, content_hash, chain_hash, received_at)
                     VALUES (2, 1, zeroblob(32), zeroblob(32), 0);
                 INSERT INTO record_scans (record_hash, sha256, commune, bytes, media_type, agent_id, received_at)
                     VALUES (zeroblob(32), 'ab', '00004', 5, 'image/jpeg', 1, 0);
                 INSERT INTO record_envelopes (record_hash, official) VALUES (zeroblob(32), 'Lan');",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let links = store.links_between(1, 1, 2).await.unwrap();
        assert_eq!((links[&1].held, links[&2].held), (true, false));
        assert!(!store.links_between(2, 1, 1).await.unwrap()[&1].held);
        let page = store.journal_page(1, 1, 10).await.unwrap();
        assert_eq!(
            page.iter()
                .map(|e| (e.stored, e.record.as_deref()))
                .collect::<Vec<_>>(),
            vec![(true, Some("{\"a\":1}")), (false, Some("{\"refused\":1}"))]
        );
        use super::super::scans::ScanStore;
        let missing = store.records_missing_scans(None, 10).await.unwrap();
        assert_eq!(missing.len(), 1, "{missing:?}");
        let exported = store.export_page(None, 0, 10).await.unwrap();
        assert_eq!(exported[0].official.as_deref(), Some("Lan"));
        let conn = Connection::open(&path).unwrap();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, vec!["records_by_commune", "records_by_key"]);
    }
}
