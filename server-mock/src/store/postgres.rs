//! The scale-out backend: PostgreSQL through tokio-postgres. A batch is one
//! transaction of a handful of set-based statements (UNNEST arrays), so a
//! batch of thousands of records costs a few round trips, not thousands. Batches of one
//! commune are serialized by a transaction-scoped advisory lock; batches of
//! different communes run in parallel.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hotich_protocol::wire::{ChainState, EntryResult};
use hotich_protocol::{ChainHash, ContentHash, Timestamp};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement, Transaction};

use super::{
    AgentInfo, Alert, BatchError, CONTIGUOUS_PAGE, Checked, CheckedEntry, ExportRow, JournalRow,
    NewAgent, Snapshot, Storage, StoreError, advance_contiguous, cap_alerts, chain_of, hash_of,
    plan_batch,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE agents (
    id             BIGSERIAL PRIMARY KEY,
    commune        TEXT NOT NULL,
    name           TEXT,
    province       TEXT,
    district       TEXT,
    token_hash     BYTEA NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    contiguous_seq BIGINT NOT NULL DEFAULT 0,
    head_chain     BYTEA,
    highest_seq    BIGINT NOT NULL DEFAULT 0,
    last_seen_at   BIGINT,
    heartbeat      TEXT,
    heartbeat_at   BIGINT
);
CREATE TABLE records (
    id          BIGSERIAL PRIMARY KEY,
    hash        BYTEA NOT NULL UNIQUE,
    commune     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    nat_key     TEXT NOT NULL,
    supersedes  BYTEA,
    agent_id    BIGINT NOT NULL REFERENCES agents(id),
    seq         BIGINT NOT NULL,
    entered_at  BIGINT,
    received_at BIGINT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX records_by_commune ON records(commune, id);
CREATE TABLE heads (
    nat_key TEXT PRIMARY KEY,
    hash    BYTEA NOT NULL
);
CREATE TABLE links (
    agent_id     BIGINT NOT NULL REFERENCES agents(id),
    seq          BIGINT NOT NULL,
    content_hash BYTEA NOT NULL,
    chain_hash   BYTEA NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, seq)
);
CREATE TABLE alerts (
    id       BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    seq      BIGINT,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX alerts_by_agent ON alerts(agent_id, id);
"#,
    r#"
-- 2: monitoring. Areas replace districts (abolished 1 July 2025); the
-- device (journal id) an agent last reported; its contact history; records
-- per commune kept as a counter; dashboard viewers and their sessions.
ALTER TABLE agents RENAME COLUMN district TO area;
ALTER TABLE agents ADD COLUMN device TEXT;
ALTER TABLE agents ADD COLUMN contact_at BIGINT;
CREATE INDEX agents_by_commune ON agents(commune);
CREATE TABLE commune_records (
    commune TEXT PRIMARY KEY,
    records BIGINT NOT NULL
);
INSERT INTO commune_records (commune, records) SELECT commune, count(*) FROM records GROUP BY commune;
CREATE TABLE contacts (
    id       BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX contacts_by_agent ON contacts(agent_id, at);
CREATE TABLE viewers (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    province      TEXT,
    area          TEXT,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    viewer_id  BIGINT NOT NULL REFERENCES viewers(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    r#"
ALTER TABLE links ADD COLUMN record TEXT;
CREATE TABLE recovery_codes (
    code_hash  BYTEA PRIMARY KEY,
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
"#,
    r#"
CREATE TABLE record_scans (
    record_hash BYTEA NOT NULL,
    sha256      TEXT NOT NULL,
    commune     TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    media_type  TEXT NOT NULL,
    attached    BOOLEAN NOT NULL DEFAULT FALSE,
    agent_id    BIGINT NOT NULL REFERENCES agents(id),
    received_at BIGINT NOT NULL,
    attached_at BIGINT,
    PRIMARY KEY (record_hash, sha256)
);
CREATE INDEX record_scans_by_commune ON record_scans(commune, sha256);
CREATE TABLE record_envelopes (
    record_hash       BYTEA PRIMARY KEY,
    official          TEXT,
    correction_reason TEXT
);
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE scans_held (
    commune   TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (commune, sha256)
);
INSERT INTO record_scans (record_hash, sha256, commune, bytes, media_type, agent_id, received_at)
    SELECT r.hash, s.value->>'sha256', r.commune, (s.value->>'bytes')::bigint,
           s.value->>'media_type', r.agent_id, r.received_at
    FROM records r, jsonb_array_elements(r.record::jsonb->'scans') s
    WHERE r.record LIKE '%"scans":%'
    ON CONFLICT DO NOTHING;
"#,
    r#"
CREATE TABLE keyings (
    id          BIGSERIAL PRIMARY KEY,
    commune     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    nat_key     TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    record      TEXT,
    official    TEXT NOT NULL,
    keyed_at    BIGINT NOT NULL,
    agent_id    BIGINT NOT NULL REFERENCES agents(id),
    received_at BIGINT NOT NULL,
    UNIQUE (kind, nat_key, hash, official)
);
CREATE INDEX keyings_by_commune ON keyings(commune, id);
CREATE TABLE book_closures (
    commune     TEXT NOT NULL,
    former      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    year        BIGINT NOT NULL,
    book        TEXT NOT NULL,
    closure     TEXT NOT NULL,
    agent_id    BIGINT NOT NULL REFERENCES agents(id),
    received_at BIGINT NOT NULL,
    closed_at   BIGINT NOT NULL,
    PRIMARY KEY (commune, former, kind, year, book)
);
"#,
    r#"
-- 6: content hashes indexed within their commune (see the SQLite schema's 6:
-- the same content is the same commune's, and an agent's batch then touches
-- its own commune's part of the index, not random pages of the country's).
CREATE UNIQUE INDEX records_by_hash ON records(commune, hash);
ALTER TABLE records DROP CONSTRAINT records_hash_key;
"#,
    r#"
-- 7: ingest CPU. PostgreSQL checks a foreign key with a query per inserted
-- row (`SELECT 1 FROM agents ... FOR KEY SHARE`): for `records` and `links`,
-- written for every record, a fifth of its CPU with 50 agents uploading.
-- Their agent is the authenticated one, whose row exists; it stays so
-- because an agent is never deleted (it is revoked) nor renumbered, which
-- the triggers below now enforce for every table that names agents.
ALTER TABLE records DROP CONSTRAINT records_agent_id_fkey;
ALTER TABLE links DROP CONSTRAINT links_agent_id_fkey;
CREATE FUNCTION hotich_agents_stay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agents are never deleted or renumbered (revoke an agent instead)';
END $$;
CREATE TRIGGER agents_are_never_deleted BEFORE DELETE OR TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION hotich_agents_stay();
CREATE TRIGGER agents_keep_their_id BEFORE UPDATE OF id ON agents
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION hotich_agents_stay();
-- Natural keys and commune codes are compared as bytes, as SQLite does,
-- not by the database's locale (collation calls in every index probe).
ALTER TABLE heads ALTER COLUMN nat_key TYPE TEXT COLLATE "C";
ALTER TABLE records ALTER COLUMN commune TYPE TEXT COLLATE "C";
-- Changing a column's type drops its statistics.
ANALYZE records;
ANALYZE heads;
"#,
    r#"
-- 8: records indexed by natural key, then content hash (see the SQLite
-- schema's 7: a hash puts each new record on a random page of the index, a
-- commune's growing keys put it at the end). What looked a record up by hash
-- alone reads it by the id its link or its scan names, filled here while the
-- old index still answers.
ALTER TABLE links ADD COLUMN record_id BIGINT;
UPDATE links l SET record_id = r.id
    FROM agents a, records r
    WHERE a.id = l.agent_id AND r.commune = a.commune AND r.hash = l.content_hash;
ALTER TABLE record_scans ADD COLUMN record_id BIGINT;
UPDATE record_scans rs SET record_id = r.id
    FROM records r
    WHERE r.commune = rs.commune AND r.hash = rs.record_hash;
CREATE TABLE record_envelopes_v8 (
    record_id         BIGINT PRIMARY KEY,
    official          TEXT,
    correction_reason TEXT
);
INSERT INTO record_envelopes_v8 (record_id, official, correction_reason)
    SELECT r.id, e.official, e.correction_reason
    FROM record_envelopes e JOIN records r ON r.hash = e.record_hash
    ON CONFLICT DO NOTHING;
DROP TABLE record_envelopes;
ALTER TABLE record_envelopes_v8 RENAME TO record_envelopes;
DROP INDEX records_by_hash;
ALTER TABLE records ALTER COLUMN nat_key TYPE TEXT COLLATE "C";
CREATE UNIQUE INDEX records_by_key ON records(nat_key, hash);
ANALYZE records;
"#,
];

/// A small connection pool: at most `max` connections, reused while healthy.
struct Pool {
    config: Config,
    idle: Mutex<Vec<(Client, Prepared)>>,
    permits: Arc<Semaphore>,
}

/// The statements of the upload path, prepared once per connection: a batch
/// runs the same few statements for each chunk of 250 entries, and a
/// statement given as text is prepared again each time (a round trip and a
/// plan).
#[derive(Default)]
pub(super) struct Prepared(HashMap<&'static str, Statement>);

impl Prepared {
    async fn get(
        &mut self,
        tx: &Transaction<'_>,
        sql: &'static str,
    ) -> Result<Statement, StoreError> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(sql).await?;
        self.0.insert(sql, statement.clone());
        Ok(statement)
    }
}

pub(super) struct Pooled {
    client: Option<(Client, Prepared)>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Pooled {
    pub(super) fn client(&mut self) -> Result<&mut Client, StoreError> {
        Ok(self.parts()?.0)
    }

    fn parts(&mut self) -> Result<(&mut Client, &mut Prepared), StoreError> {
        self.client
            .as_mut()
            .map(|(client, prepared)| (client, prepared))
            .ok_or_else(|| StoreError::Task("pooled connection already returned".into()))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.0.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(client);
        }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

const MIGRATION_LOCK: i64 = 0x686f_7469_6368;

pub(super) const AGENT_COLUMNS: &str = "id, commune, name, province, area, created_at, revoked_at, last_seen_at, contiguous_seq, highest_seq";

pub(super) fn agent_from_row(r: &Row) -> Result<AgentInfo, StoreError> {
    Ok(AgentInfo {
        id: r.try_get(0)?,
        commune: r.try_get(1)?,
        name: r.try_get(2)?,
        province: r.try_get(3)?,
        area: r.try_get(4)?,
        created_at: Timestamp(r.try_get(5)?),
        revoked_at: r.try_get::<_, Option<i64>>(6)?.map(Timestamp),
        last_seen_at: r.try_get::<_, Option<i64>>(7)?.map(Timestamp),
        contiguous_seq: r.try_get::<_, i64>(8)? as u64,
        highest_seq: r.try_get::<_, i64>(9)? as u64,
    })
}

impl PgStore {
    /// Connects (URL or key=value form) and applies migrations.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStore, StoreError> {
        let config = Config::from_str(url)?;
        let store = PgStore {
            pool: Arc::new(Pool {
                config,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max_connections.max(1))),
            }),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(super) async fn get(&self) -> Result<Pooled, StoreError> {
        let permit = self
            .pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let reused = {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|(c, _)| !c.is_closed())
        };
        let client = match reused {
            Some(c) => c,
            None => {
                let (client, connection) = self.pool.config.connect(NoTls).await?;
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::warn!(%error, "PostgreSQL connection ended");
                    }
                });
                (client, Prepared::default())
            }
        };
        Ok(Pooled {
            client: Some(client),
            pool: self.pool.clone(),
            _permit: permit,
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS hotich_schema (version BIGINT NOT NULL)")
            .await?;
        let version: i64 = tx
            .query_opt("SELECT version FROM hotich_schema", &[])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for sql in MIGRATIONS.iter().skip(version as usize) {
            tx.batch_execute(sql).await?;
        }
        tx.execute("DELETE FROM hotich_schema", &[]).await?;
        tx.execute("INSERT INTO hotich_schema (version) VALUES ($1)", &[&known])
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Plans one chunk against what the transaction sees (earlier chunks
/// included) and writes it with set-based statements.
async fn write_chunk(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    agent_id: i64,
    commune: &str,
    entries: Vec<CheckedEntry>,
    now: i64,
) -> Result<super::Plan, StoreError> {
    let (low, high, keys) = Snapshot::keys(&entries);
    let mut snap = Snapshot::default();
    for row in tx
        .query(
            &prepared.get(tx, "SELECT seq, chain_hash FROM links WHERE agent_id = $1 AND seq BETWEEN $2 AND $3").await?,
            &[&agent_id, &(low as i64), &(high as i64)],
        )
        .await?
    {
        let seq: i64 = row.try_get(0)?;
        let chain: &[u8] = row.try_get(1)?;
        snap.links.insert(seq as u64, chain_of(chain)?);
    }
    for row in tx
        .query(
            &prepared
                .get(
                    tx,
                    "SELECT nat_key, hash FROM heads WHERE nat_key = ANY($1)",
                )
                .await?,
            &[&keys],
        )
        .await?
    {
        let k: String = row.try_get(0)?;
        let h: &[u8] = row.try_get(1)?;
        snap.heads.insert(k, hash_of(h)?);
    }
    // Record ids by content hash, of this chunk's stored contents: its links
    // and scans name them.
    let mut ids: HashMap<ContentHash, i64> = HashMap::new();
    let candidates = snap.hashes_to_check(&entries);
    if !candidates.is_empty() {
        let keys: Vec<&str> = candidates.iter().map(|(k, _)| k.as_str()).collect();
        let blobs: Vec<&[u8]> = candidates
            .iter()
            .map(|(_, h)| h.as_bytes().as_slice())
            .collect();
        for row in tx
            .query(
                &prepared
                    .get(
                        tx,
                        "SELECT r.hash, r.id FROM records r
                         JOIN UNNEST($1::text[], $2::bytea[]) AS t(k, h)
                           ON r.nat_key = t.k COLLATE \"C\" AND r.hash = t.h",
                    )
                    .await?,
                &[&keys, &blobs],
            )
            .await?
        {
            let h = hash_of(row.try_get(0)?)?;
            snap.stored.insert(h);
            ids.insert(h, row.try_get(1)?);
        }
    }
    let plan = plan_batch(entries, snap);
    if !plan.records.is_empty() {
        let r = &plan.records;
        let hashes: Vec<&[u8]> = r
            .iter()
            .map(|x| x.record.hash.as_bytes().as_slice())
            .collect();
        let kinds: Vec<&str> = r.iter().map(|x| x.record.kind.as_str()).collect();
        let keys: Vec<String> = r.iter().map(|x| x.record.storage_key.clone()).collect();
        let supersedes: Vec<Option<&[u8]>> = r
            .iter()
            .map(|x| {
                x.record
                    .supersedes
                    .as_ref()
                    .map(|h| h.as_bytes().as_slice())
            })
            .collect();
        let seqs: Vec<i64> = r.iter().map(|x| x.seq as i64).collect();
        let entered: Vec<Option<i64>> =
            r.iter().map(|x| x.entered_at.map(|t| t.millis())).collect();
        let texts: Vec<&str> = r.iter().map(|x| x.record.canonical.as_str()).collect();
        let params: [&(dyn ToSql + Sync); 10] = [
            &hashes,
            &commune,
            &kinds,
            &keys,
            &supersedes,
            &agent_id,
            &seqs,
            &entered,
            &now,
            &texts,
        ];
        for row in tx
            .query(
                &prepared.get(tx, "INSERT INTO records (hash, commune, kind, nat_key, supersedes, agent_id, seq, entered_at, received_at, record)
                 SELECT h, $2, k, n, s, $6, q, e, $9, r
                 FROM UNNEST($1::bytea[], $3::text[], $4::text[], $5::bytea[], $7::bigint[], $8::bigint[], $10::text[])
                      AS t(h, k, n, s, q, e, r)
                 RETURNING hash, id").await?,
                &params,
            )
            .await?
        {
            ids.insert(hash_of(row.try_get(0)?)?, row.try_get(1)?);
        }
    }
    if !plan.links.is_empty() {
        let seqs: Vec<i64> = plan.links.iter().map(|l| l.seq as i64).collect();
        let contents: Vec<&[u8]> = plan
            .links
            .iter()
            .map(|l| l.content_hash.as_bytes().as_slice())
            .collect();
        let chains: Vec<&[u8]> = plan
            .links
            .iter()
            .map(|l| l.chain.as_bytes().as_slice())
            .collect();
        let refused: Vec<Option<&str>> = plan.links.iter().map(|l| l.record.as_deref()).collect();
        let record_ids: Vec<Option<i64>> = plan
            .links
            .iter()
            .map(|l| l.held.then(|| ids.get(&l.content_hash).copied()).flatten())
            .collect();
        tx.execute(
                &prepared.get(tx, "INSERT INTO links (agent_id, seq, content_hash, chain_hash, received_at, record, record_id)
                 SELECT $1, s, c, h, $5, r, i FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[], $6::text[], $7::bigint[]) AS t(s, c, h, r, i)").await?,
                &[&agent_id, &seqs, &contents, &chains, &now, &refused, &record_ids],
            )
            .await?;
    }
    let relinks: Vec<(i64, &[u8], i64)> = plan
        .relinks
        .iter()
        .filter_map(|(seq, h)| {
            ids.get(h)
                .map(|id| (*seq as i64, h.as_bytes().as_slice(), *id))
        })
        .collect();
    if !relinks.is_empty() {
        let seqs: Vec<i64> = relinks.iter().map(|x| x.0).collect();
        let hashes: Vec<&[u8]> = relinks.iter().map(|x| x.1).collect();
        let record_ids: Vec<i64> = relinks.iter().map(|x| x.2).collect();
        tx.execute(
            &prepared
                .get(
                    tx,
                    "UPDATE links l SET record_id = t.i
                     FROM UNNEST($2::bigint[], $3::bytea[], $4::bigint[]) AS t(s, h, i)
                     WHERE l.agent_id = $1 AND l.seq = t.s AND l.content_hash = t.h
                       AND l.record_id IS NULL",
                )
                .await?,
            &[&agent_id, &seqs, &hashes, &record_ids],
        )
        .await?;
    }
    let enveloped: Vec<&super::NewRecord> = plan
        .records
        .iter()
        .filter(|r| r.envelope != super::Envelope::default())
        .collect();
    if !enveloped.is_empty() {
        let record_ids: Vec<Option<i64>> = enveloped
            .iter()
            .map(|r| ids.get(&r.record.hash).copied())
            .collect();
        let officials: Vec<Option<&str>> = enveloped
            .iter()
            .map(|r| r.envelope.official.as_deref())
            .collect();
        let reasons: Vec<Option<&str>> = enveloped
            .iter()
            .map(|r| r.envelope.correction_reason.as_deref())
            .collect();
        tx.execute(
            &prepared
                .get(
                    tx,
                    "INSERT INTO record_envelopes (record_id, official, correction_reason)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[])
             ON CONFLICT DO NOTHING",
                )
                .await?,
            &[&record_ids, &officials, &reasons],
        )
        .await?;
    }
    let named: Vec<super::scans::ScanRow> = plan
        .records
        .iter()
        .flat_map(|r| super::scans::scans_named(&r.record.hash, &r.record.canonical))
        .collect();
    if !named.is_empty() {
        let records: Vec<&[u8]> = named
            .iter()
            .map(|s| s.record.as_bytes().as_slice())
            .collect();
        let shas: Vec<&str> = named.iter().map(|s| s.sha256.as_str()).collect();
        let bytes: Vec<i64> = named.iter().map(|s| s.bytes).collect();
        let types: Vec<&str> = named.iter().map(|s| s.media_type.as_str()).collect();
        let record_ids: Vec<Option<i64>> =
            named.iter().map(|s| ids.get(&s.record).copied()).collect();
        tx.execute(
            &prepared.get(tx, "INSERT INTO record_scans (record_hash, sha256, commune, bytes, media_type, agent_id, received_at, record_id)
             SELECT h, s, $3, b, t, $6, $7, i
             FROM UNNEST($1::bytea[], $2::text[], $4::bigint[], $5::text[], $8::bigint[]) AS x(h, s, b, t, i)
             ON CONFLICT DO NOTHING").await?,
            &[&records, &shas, &commune, &bytes, &types, &agent_id, &now, &record_ids],
        )
        .await?;
    }
    if !plan.records.is_empty() {
        // The dashboard's count, kept here so it never scans the records.
        tx.execute(
            &prepared.get(tx, "INSERT INTO commune_records (commune, records) VALUES ($1, $2)
             ON CONFLICT (commune) DO UPDATE SET records = commune_records.records + EXCLUDED.records").await?,
            &[&commune, &(plan.records.len() as i64)],
        )
        .await?;
    }
    if !plan.heads.is_empty() {
        let keys: Vec<&str> = plan.heads.iter().map(|(k, _)| k.as_str()).collect();
        let hashes: Vec<&[u8]> = plan
            .heads
            .iter()
            .map(|(_, h)| h.as_bytes().as_slice())
            .collect();
        tx.execute(
            &prepared.get(tx, "INSERT INTO heads (nat_key, hash) SELECT * FROM UNNEST($1::text[], $2::bytea[])
                 ON CONFLICT (nat_key) DO UPDATE SET hash = EXCLUDED.hash").await?,
            &[&keys, &hashes],
        )
        .await?;
    }
    Ok(plan)
}

impl Storage for PgStore {
    async fn add_agent(&self, agent: NewAgent) -> Result<AgentInfo, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_one(
                &format!(
                    "INSERT INTO agents (commune, name, province, area, token_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {AGENT_COLUMNS}"
                ),
                &[
                    &agent.commune,
                    &agent.name,
                    &agent.province,
                    &agent.area,
                    &agent.token_hash.as_slice(),
                    &Timestamp::now().millis(),
                ],
            )
            .await?;
        agent_from_row(&row)
    }

    async fn list_agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
                &[],
            )
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn revoke_agent(&self, id: i64) -> Result<bool, StoreError> {
        let mut conn = self.get().await?;
        let client = conn.client()?;
        let exists = client
            .query_opt("SELECT 1 FROM agents WHERE id = $1", &[&id])
            .await?
            .is_some();
        client
            .execute(
                "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &Timestamp::now().millis()],
            )
            .await?;
        Ok(exists)
    }

    async fn agent_by_token(&self, token_hash: [u8; 32]) -> Result<Option<AgentInfo>, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE token_hash = $1 AND revoked_at IS NULL"),
                &[&token_hash.as_slice()],
            )
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn commit_chunks<E: Send + 'static>(
        &self,
        agent_id: i64,
        commune: &str,
        mut chunks: super::Chunks<E>,
    ) -> Result<Vec<EntryResult>, BatchError<E>> {
        let now = Timestamp::now().millis();
        let mut conn = self.get().await?;
        let (client, prepared) = conn.parts()?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&commune])
            .await?;
        let mut results = Vec::new();
        let mut alerts = Vec::new();
        let mut highest = 0u64;
        // Dropping `tx` without a commit (refusal, or checking cut short)
        // rolls back what earlier chunks wrote.
        loop {
            match chunks.recv().await {
                Some(Checked::Chunk(entries)) => {
                    let plan = write_chunk(&tx, prepared, agent_id, commune, entries, now).await?;
                    highest = highest.max(plan.highest_seq);
                    results.extend(plan.results);
                    alerts.extend(plan.alerts);
                }
                Some(Checked::Refused(e)) => return Err(BatchError::Refused(e)),
                Some(Checked::Done) => break,
                None => return Err(BatchError::Incomplete),
            }
        }
        cap_alerts(&mut alerts);
        for a in &alerts {
            tracing::warn!(agent_id, seq = ?a.seq, kind = %a.kind, detail = %a.detail, "integrity alert");
            tx.execute(
                "INSERT INTO alerts (agent_id, seq, kind, detail, at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &agent_id,
                    &a.seq.map(|s| s as i64),
                    &a.kind,
                    &a.detail,
                    &now,
                ],
            )
            .await?;
        }

        let row = tx
            .query_one(
                "SELECT contiguous_seq, highest_seq FROM agents WHERE id = $1",
                &[&agent_id],
            )
            .await?;
        let mut contiguous: i64 = row.try_get(0)?;
        let old_highest: i64 = row.try_get(1)?;
        loop {
            let seqs: Vec<u64> = tx
                .query(
                    "SELECT seq FROM links WHERE agent_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&agent_id, &contiguous, &CONTIGUOUS_PAGE],
                )
                .await?
                .iter()
                .map(|r| r.try_get::<_, i64>(0).map(|s| s as u64))
                .collect::<Result<_, _>>()?;
            let advanced = advance_contiguous(contiguous as u64, seqs.iter().copied()) as i64;
            let again = seqs.len() as i64 == CONTIGUOUS_PAGE && advanced != contiguous;
            contiguous = advanced;
            if !again {
                break;
            }
        }
        tx.execute(
            "UPDATE agents SET contiguous_seq = $2,
                    head_chain = (SELECT chain_hash FROM links WHERE agent_id = $1 AND seq = $2),
                    highest_seq = $3, last_seen_at = $4
             WHERE id = $1",
            &[
                &agent_id,
                &contiguous,
                &old_highest.max(highest as i64),
                &now,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(results)
    }

    async fn add_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        conn.client()?
            .execute(
                "INSERT INTO recovery_codes (code_hash, agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&code_hash.as_slice(), &agent_id, &Timestamp::now().millis(), &expires_at.millis()],
            )
            .await?;
        Ok(())
    }

    async fn recovery_code_valid(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                "SELECT 1 FROM recovery_codes WHERE code_hash = $1 AND agent_id = $2
                 AND used_at IS NULL AND expires_at > $3",
                &[&code_hash.as_slice(), &agent_id, &Timestamp::now().millis()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn use_recovery_code(
        &self,
        agent_id: i64,
        code_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        conn.client()?
            .execute(
                "UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $1 AND agent_id = $2",
                &[&code_hash.as_slice(), &agent_id, &Timestamp::now().millis()],
            )
            .await?;
        Ok(())
    }

    async fn journal_page(
        &self,
        agent_id: i64,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<JournalRow>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT l.seq, l.content_hash, l.chain_hash, r.record IS NOT NULL, coalesce(r.record, l.record)
                 FROM links l
                 LEFT JOIN records r ON r.id = l.record_id
                 WHERE l.agent_id = $1 AND l.seq >= $2 ORDER BY l.seq LIMIT $3",
                &[&agent_id, &(from_seq as i64), &(limit as i64)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(JournalRow {
                seq: row.try_get::<_, i64>(0)? as u64,
                content_hash: hash_of(row.try_get(1)?)?,
                chain: chain_of(row.try_get(2)?)?,
                stored: row.try_get(3)?,
                record: row.try_get(4)?,
            });
        }
        Ok(out)
    }

    async fn links_between(
        &self,
        agent_id: i64,
        low: u64,
        high: u64,
    ) -> Result<HashMap<u64, super::HeldLink>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT seq, content_hash, record_id IS NOT NULL FROM links
                 WHERE agent_id = $1 AND seq BETWEEN $2 AND $3",
                &[&agent_id, &(low as i64), &(high as i64)],
            )
            .await?;
        let mut out = HashMap::new();
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            out.insert(
                seq as u64,
                super::HeldLink {
                    content_hash: hash_of(row.try_get(1)?)?,
                    held: row.try_get(2)?,
                },
            );
        }
        Ok(out)
    }

    async fn chain_at(&self, agent_id: i64, seq: u64) -> Result<Option<ChainHash>, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                "SELECT chain_hash FROM links WHERE agent_id = $1 AND seq = $2",
                &[&agent_id, &(seq as i64)],
            )
            .await?;
        row.map(|r| chain_of(r.try_get::<_, &[u8]>(0)?)).transpose()
    }

    async fn chain_state(&self, agent_id: i64) -> Result<ChainState, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_one(
                "SELECT contiguous_seq, head_chain, highest_seq,
                        (SELECT COUNT(*) FROM alerts WHERE agent_id = $1)
                 FROM agents WHERE id = $1",
                &[&agent_id],
            )
            .await?;
        let head: Option<&[u8]> = row.try_get(1)?;
        Ok(ChainState {
            contiguous_seq: row.try_get::<_, i64>(0)? as u64,
            head: head.map(chain_of).transpose()?,
            highest_seq: row.try_get::<_, i64>(2)? as u64,
            alerts: row.try_get::<_, i64>(3)? as u64,
        })
    }

    async fn export_page(
        &self,
        commune: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportRow>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT r.id, r.hash, r.commune, r.agent_id, a.name, r.seq, r.received_at, r.entered_at, r.record,
                        e.official, e.correction_reason
                 FROM records r JOIN agents a ON a.id = r.agent_id
                 LEFT JOIN record_envelopes e ON e.record_id = r.id
                 WHERE r.id > $1 AND ($2::text IS NULL OR r.commune = $2)
                 ORDER BY r.id LIMIT $3",
                &[&after_id, &commune, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let hash: &[u8] = r.try_get(1)?;
                let record: String = r.try_get(8)?;
                Ok(ExportRow {
                    id,
                    content_hash: hash_of(hash)?,
                    commune_code: r.try_get(2)?,
                    agent_id: r.try_get(3)?,
                    agent: r.try_get(4)?,
                    seq: r.try_get::<_, i64>(5)? as u64,
                    received_at: Timestamp(r.try_get(6)?),
                    entered_at: r.try_get::<_, Option<i64>>(7)?.map(Timestamp),
                    record: serde_json::value::RawValue::from_string(record)
                        .map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?,
                    official: r.try_get(9)?,
                    correction_reason: r.try_get(10)?,
                    scans: Vec::new(),
                })
            })
            .collect()
    }

    async fn server_secret(&self, name: &str, fresh: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let mut conn = self.get().await?;
        let client = conn.client()?;
        client
            .execute(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &fresh],
            )
            .await?;
        let row = client
            .query_one("SELECT value FROM server_secrets WHERE name = $1", &[&name])
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn alerts(&self, agent_id: i64) -> Result<Vec<Alert>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT seq, kind, detail FROM alerts WHERE agent_id = $1 ORDER BY id",
                &[&agent_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Alert {
                    seq: r.try_get::<_, Option<i64>>(0)?.map(|s| s as u64),
                    kind: r.try_get(1)?,
                    detail: r.try_get(2)?,
                })
            })
            .collect()
    }
}

impl super::scans::ScanStore for PgStore {
    async fn attach_scans(
        &self,
        agent_id: i64,
        commune: &str,
        attachments: Vec<hotich_protocol::wire::Attachment>,
        now: Timestamp,
    ) -> Result<Vec<hotich_protocol::wire::AttachmentResult>, StoreError> {
        use hotich_protocol::wire::AttachmentResult;
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        let mut out = Vec::with_capacity(attachments.len());
        for a in &attachments {
            let record = a.record.as_bytes().as_slice();
            let found = match a.seq {
                Some(seq) => {
                    tx.query_opt(
                        "SELECT record_id FROM links
                         WHERE agent_id = $1 AND seq = $2 AND content_hash = $3
                           AND record_id IS NOT NULL",
                        &[&agent_id, &(seq as i64), &record],
                    )
                    .await?
                }
                // An agent older than `Attachment::seq`: its commune's
                // records are read in turn (no index by hash alone).
                None => {
                    tx.query_opt(
                        "SELECT id FROM records WHERE commune = $1 AND hash = $2",
                        &[&commune, &record],
                    )
                    .await?
                }
            };
            let Some(row) = found else {
                out.push(AttachmentResult::UnknownRecord);
                continue;
            };
            let id: i64 = row.try_get(0)?;
            tx.execute(
                "INSERT INTO record_scans
                     (record_hash, sha256, commune, bytes, media_type, attached, agent_id, received_at, attached_at, record_id)
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
                &[
                    &record,
                    &a.scan.sha256.to_hex(),
                    &commune,
                    &(a.scan.bytes as i64),
                    &a.scan.media_type,
                    &agent_id,
                    &now.millis(),
                    &a.attached_at.map(|t| t.millis()),
                    &id,
                ],
            )
            .await?;
            out.push(AttachmentResult::Stored);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn note_scan_held(
        &self,
        commune: &str,
        sha256: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        conn.client()?
            .execute(
                "INSERT INTO scans_held (commune, sha256, stored_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&commune, &sha256, &now.millis()],
            )
            .await?;
        Ok(())
    }

    async fn records_missing_scans(
        &self,
        commune: Option<&str>,
        limit: i64,
    ) -> Result<Vec<super::scans::MissingScans>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "WITH missing AS (
                     SELECT DISTINCT rs.record_id FROM record_scans rs
                     WHERE ($1::text IS NULL OR rs.commune = $1)
                       AND NOT EXISTS (SELECT 1 FROM scans_held h
                                       WHERE h.commune = rs.commune AND h.sha256 = rs.sha256))
                 SELECT r.commune, r.hash, r.nat_key, r.agent_id, rs.sha256, rs.bytes, rs.media_type,
                        rs.attached, h.sha256 IS NOT NULL
                 FROM (SELECT record_id FROM missing ORDER BY record_id LIMIT $2) w
                 JOIN records r ON r.id = w.record_id
                 JOIN record_scans rs ON rs.record_hash = r.hash
                 LEFT JOIN scans_held h ON h.commune = rs.commune AND h.sha256 = rs.sha256
                 ORDER BY r.id, rs.attached, rs.sha256",
                &[&commune, &limit],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let hash: &[u8] = row.try_get(1)?;
            out.push((
                row.try_get::<_, String>(0)?,
                hash_of(hash)?,
                row.try_get::<_, String>(2)?,
                row.try_get::<_, i64>(3)?,
                super::scans::RecordScanInfo {
                    sha256: row.try_get(4)?,
                    bytes: row.try_get(5)?,
                    media_type: row.try_get(6)?,
                    attached: row.try_get(7)?,
                    stored: row.try_get(8)?,
                },
            ));
        }
        Ok(super::scans::group_missing(out))
    }

    async fn missing_scan_counts(
        &self,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT rs.commune, count(DISTINCT rs.record_hash) FROM record_scans rs
                 WHERE NOT EXISTS (SELECT 1 FROM scans_held h
                                   WHERE h.commune = rs.commune AND h.sha256 = rs.sha256)
                 GROUP BY rs.commune",
                &[],
            )
            .await?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            out.insert(
                row.try_get::<_, String>(0)?,
                row.try_get::<_, i64>(1)? as u64,
            );
        }
        Ok(out)
    }

    async fn scans_of_records(
        &self,
        records: Vec<ContentHash>,
    ) -> Result<std::collections::HashMap<ContentHash, Vec<super::scans::RecordScanInfo>>, StoreError>
    {
        let mut conn = self.get().await?;
        let hashes: Vec<&[u8]> = records.iter().map(|h| h.as_bytes().as_slice()).collect();
        let rows = conn
            .client()?
            .query(
                "SELECT rs.record_hash, rs.sha256, rs.bytes, rs.media_type, rs.attached, h.sha256 IS NOT NULL
                 FROM record_scans rs
                 LEFT JOIN scans_held h ON h.commune = rs.commune AND h.sha256 = rs.sha256
                 WHERE rs.record_hash = ANY($1) ORDER BY rs.record_hash, rs.attached, rs.sha256",
                &[&hashes],
            )
            .await?;
        let mut out: std::collections::HashMap<ContentHash, Vec<super::scans::RecordScanInfo>> =
            std::collections::HashMap::new();
        for row in rows {
            let hash: &[u8] = row.try_get(0)?;
            out.entry(hash_of(hash)?)
                .or_default()
                .push(super::scans::RecordScanInfo {
                    sha256: row.try_get(1)?,
                    bytes: row.try_get(2)?,
                    media_type: row.try_get(3)?,
                    attached: row.try_get(4)?,
                    stored: row.try_get(5)?,
                });
        }
        Ok(out)
    }
}

impl super::books::BookStore for PgStore {
    async fn add_keyings(
        &self,
        rows: Vec<super::books::KeyingRow>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        let insert = tx
            .prepare(
                "INSERT INTO keyings
                     (commune, kind, nat_key, hash, record, official, keyed_at, agent_id, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        for k in &rows {
            tx.execute(
                &insert,
                &[
                    &k.commune,
                    &k.kind.as_str(),
                    &k.nat_key,
                    &k.hash.as_bytes().as_slice(),
                    &k.record,
                    &k.official,
                    &k.keyed_at.millis(),
                    &k.agent_id,
                    &now.millis(),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn keyings(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<super::books::KeyingRow>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!(
                    "SELECT commune, kind, nat_key, hash, record, official, keyed_at, agent_id
                     FROM keyings WHERE {} ORDER BY id",
                    super::books::commune_filter(commune, "commune", "$1::text")
                ),
                &[&commune],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let kind: &str = r.try_get(1)?;
                let hash: &[u8] = r.try_get(3)?;
                Ok(super::books::KeyingRow {
                    commune: r.try_get(0)?,
                    kind: super::books::kind_from_sql(kind)?,
                    nat_key: r.try_get(2)?,
                    hash: hash_of(hash)?,
                    record: r.try_get(4)?,
                    official: r.try_get(5)?,
                    keyed_at: Timestamp(r.try_get(6)?),
                    agent_id: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn close_books(
        &self,
        agent_id: i64,
        closures: Vec<hotich_protocol::books::BookClosure>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        for c in &closures {
            let text = serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO book_closures
                     (commune, former, kind, year, book, closure, agent_id, received_at, closed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (commune, former, kind, year, book) DO UPDATE SET
                     closure = excluded.closure, agent_id = excluded.agent_id,
                     received_at = excluded.received_at, closed_at = excluded.closed_at
                 WHERE excluded.closed_at >= book_closures.closed_at",
                &[
                    &c.book.commune_code,
                    &c.book.former_commune_code.as_deref().unwrap_or(""),
                    &c.book.kind.as_str(),
                    &c.book.year,
                    &c.book.book,
                    &text,
                    &agent_id,
                    &now.millis(),
                    &c.closed_at.millis(),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn book_closures(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<hotich_protocol::books::BookClosure>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!(
                    "SELECT closure FROM book_closures WHERE {}",
                    super::books::commune_filter(commune, "commune", "$1::text")
                ),
                &[&commune],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let text: &str = r.try_get(0)?;
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("book closure: {e}")))
            })
            .collect()
    }

    async fn current_records(
        &self,
        nat_keys: Vec<String>,
    ) -> Result<Vec<(String, super::books::CurrentRecord)>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT h.nat_key, r.hash, r.record, e.official
                 FROM heads h
                 JOIN records r ON r.nat_key = h.nat_key AND r.hash = h.hash
                 LEFT JOIN record_envelopes e ON e.record_id = r.id
                 WHERE h.nat_key = ANY($1)",
                &[&nat_keys],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let hash: &[u8] = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    super::books::CurrentRecord {
                        hash: hash_of(hash)?,
                        record: r.try_get(2)?,
                        official: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }

    async fn book_entries(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<super::books::BookEntryRow>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!(
                    "SELECT nat_key, supersedes IS NOT NULL FROM records WHERE {}",
                    super::books::commune_filter(commune, "commune", "$1::text")
                ),
                &[&commune],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(super::books::BookEntryRow {
                    nat_key: r.try_get(0)?,
                    is_correction: r.try_get(1)?,
                })
            })
            .collect()
    }

    async fn refused_entries(
        &self,
        commune: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!(
                    "SELECT a.commune, l.record FROM agents a JOIN links l ON l.agent_id = a.id
                     WHERE l.record IS NOT NULL AND {}",
                    super::books::commune_filter(commune, "a.commune", "$1::text")
                ),
                &[&commune],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}
