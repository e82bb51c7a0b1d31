//! The upload queue over the journal: what to send next, and the server's
//! answers turned into entry states, kept in `uploads` (one narrow row per
//! entry; the entries themselves never change).

use hotich_protocol::{ChainHash, ContentHash, GENESIS, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{EntryState, Journal, chain_hash_at, content_hash_at, ms, ts};
use crate::error::JournalError;

/// How far ahead an entry's retry time may lie before it is taken for the
/// mark of a clock that jumped (backwards, or from years ahead) and treated
/// as due: no entry is ever put off longer than this.
pub const ENTRY_RETRY_HORIZON: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// An entry as the sync engine sends it.
#[derive(Debug, Clone)]
pub struct QueuedEntry {
    pub seq: u64,
    pub hash: ContentHash,
    pub record: String,
    pub entered_at: Timestamp,
    /// The natural key in storage form (`00004/birth/1998/1/123`).
    pub nat_key: String,
    pub official: Option<String>,
    pub correction_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: u64,
    pub pending: u64,
    pub acked: u64,
    pub parked: u64,
    /// Refused entries closed since: resolved by a correction, or dismissed.
    pub closed: u64,
}

/// A refused entry closed by a correction or dismissed.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedEntry {
    pub seq: u64,
    pub hash: String,
    /// The correction that resolved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<u64>,
    /// Dismissed, with the official's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<String>,
    pub closed_at: Option<Timestamp>,
}

pub use hotich_protocol::wire::Dismissal;

#[derive(Debug, Clone, Serialize)]
pub struct ParkedEntry {
    pub seq: u64,
    pub hash: String,
    pub reason: String,
    pub source: Option<String>,
    pub parked_at: Option<Timestamp>,
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

impl Journal {
    pub fn counts(&self) -> Result<Counts, JournalError> {
        let one = |sql: &str| -> Result<u64, JournalError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| self.err(e))
        };
        let total = one("SELECT COALESCE(MAX(seq), 0) FROM entries")?;
        let pending = one(&format!(
            "SELECT COUNT(*) FROM uploads WHERE state = {}",
            EntryState::Pending.sql()
        ))?;
        let parked = one(&format!(
            "SELECT COUNT(*) FROM uploads WHERE state = {}",
            EntryState::Parked.sql()
        ))?;
        let closed = one(&format!(
            "SELECT COUNT(*) FROM uploads WHERE state = {}",
            EntryState::Closed.sql()
        ))?;
        Ok(Counts {
            total,
            pending,
            parked,
            closed,
            acked: total.saturating_sub(pending + parked + closed),
        })
    }

    /// When the oldest still-pending entry entered the journal.
    pub fn oldest_pending_at(&self) -> Result<Option<Timestamp>, JournalError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT e.entered_at FROM uploads u JOIN entries e ON e.seq = u.seq
                     WHERE u.state = {} ORDER BY u.seq LIMIT 1",
                    EntryState::Pending.sql()
                ),
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
            .prepare_cached(&format!(
                "SELECT e.seq, e.content_hash, e.record, e.entered_at, e.nat_key, e.official,
                        e.correction_reason
                 FROM uploads u JOIN entries e ON e.seq = u.seq
                 WHERE u.state = {} AND u.seq > ?3
                   AND (u.next_attempt_at <= ?1 OR u.next_attempt_at > ?4)
                 ORDER BY u.seq LIMIT ?2",
                EntryState::Pending.sql()
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                ms(now),
                limit as i64,
                after_seq as i64,
                ms(now) + ENTRY_RETRY_HORIZON.as_millis() as i64
            ])
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq = row.get::<_, i64>(0).map_err(|e| self.err(e))? as u64;
            let hash: Vec<u8> = row.get(1).map_err(|e| self.err(e))?;
            let record: String = row.get(2).map_err(|e| self.err(e))?;
            let entered_at: i64 = row.get(3).map_err(|e| self.err(e))?;
            let nat_key: String = row.get(4).map_err(|e| self.err(e))?;
            let official: Option<String> = row.get(5).map_err(|e| self.err(e))?;
            let correction_reason: Option<String> = row.get(6).map_err(|e| self.err(e))?;
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
                nat_key,
                official,
                correction_reason,
            });
        }
        Ok(out)
    }

    /// Whether an entry holds this content, whose natural key is `key` (the
    /// journal finds content by key; see schema 9).
    pub fn holds(&self, key: &str, hash: &ContentHash) -> Result<bool, JournalError> {
        self.conn
            .prepare_cached("SELECT 1 FROM entries WHERE nat_key = ?1 AND content_hash = ?2")
            .and_then(|mut s| s.exists(rusqlite::params![key, hash.as_bytes().as_slice()]))
            .map_err(|e| self.err(e))
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
        self.apply_answer(results, None)
    }

    /// Applies a batch's answers and keeps its receipt, in one transaction
    /// (one sync to disk per batch, not two).
    pub fn apply_answer(
        &mut self,
        results: &[(u64, Resolution)],
        receipt: Option<&hotich_protocol::wire::Receipt>,
    ) -> Result<(), JournalError> {
        let now = ms(Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        {
            let mut settle = tx
                .prepare_cached(
                    "UPDATE uploads SET state = ?4, attempts = attempts + 1, state_reason = ?2, state_at = ?3
                     WHERE seq = ?1",
                )
                .map_err(err)?;
            let mut retry = tx
                .prepare_cached(
                    "UPDATE uploads SET attempts = attempts + 1, next_attempt_at = ?2, state_reason = ?3
                     WHERE seq = ?1 AND state = ?4",
                )
                .map_err(err)?;
            for (seq, resolution) in results {
                let seq = *seq as i64;
                match resolution {
                    Resolution::Held { note } => {
                        settle.execute(params![seq, note, now, EntryState::Acked])
                    }
                    Resolution::Parked { reason } => {
                        settle.execute(params![seq, reason, now, EntryState::Parked])
                    }
                    Resolution::RetryAt { at, reason } => {
                        retry.execute(params![seq, ms(*at), reason, EntryState::Pending])
                    }
                    Resolution::Resend => tx.execute(
                        "UPDATE uploads SET state = ?3, next_attempt_at = 0,
                                state_reason = 'the server lost it; sending again', state_at = ?2
                         WHERE seq = ?1 AND state = ?4",
                        params![seq, now, EntryState::Pending, EntryState::Acked],
                    ),
                }
                .map_err(err)?;
            }
            if let Some(receipt) = receipt {
                super::receipts::insert(&tx, receipt, now).map_err(err)?;
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
                "UPDATE uploads SET attempts = attempts + 1
                 WHERE seq BETWEEN ?1 AND ?2 AND state = ?3",
                params![first_seq as i64, last_seq as i64, EntryState::Pending],
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
                "SELECT e.seq, e.content_hash, u.state FROM uploads u JOIN entries e ON e.seq = u.seq
                 WHERE u.seq > ?2 AND ((u.state = ?4 AND u.seq <= ?1) OR (u.state = ?5 AND u.seq > ?1))
                 ORDER BY u.seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    upto as i64,
                    after_seq as i64,
                    limit as i64,
                    EntryState::Pending,
                    EntryState::Acked
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, EntryState>(2)?,
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, hash, state) = row.map_err(|e| self.err(e))?;
            let hash = content_hash_at(&self.path, seq as u64, &hash)?;
            out.push((seq as u64, hash, state));
        }
        Ok(out)
    }

    /// Puts parked entries back in the queue (all, or the given ones).
    pub fn requeue(&mut self, seqs: Option<&[u64]>) -> Result<u64, JournalError> {
        let now = ms(Timestamp::now());
        let sql = format!(
            "UPDATE uploads SET state = {}, next_attempt_at = 0, state_at = ?2,
             state_reason = 'requeued after: ' || COALESCE(state_reason, '')
             WHERE state = {} AND (?1 IS NULL OR seq = ?1)",
            EntryState::Pending.sql(),
            EntryState::Parked.sql()
        );
        let sql = sql.as_str();
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

    /// Closes a refused entry an official says should never have been
    /// entered. It stays in the journal; the next heartbeat reports it.
    /// `false` when `seq` is not a refused entry.
    pub fn dismiss(&mut self, seq: u64, reason: &str) -> Result<bool, JournalError> {
        let now = ms(Timestamp::now());
        let changed = self
            .conn
            .execute(
                &format!(
                    "UPDATE uploads SET state = {closed}, state_at = ?2,
                     state_reason = json_object('closed', 'dismissed', 'reason', ?3,
                         'reported', json('false'), 'refusal', state_reason)
                     WHERE seq = ?1 AND state = {parked}",
                    closed = EntryState::Closed.sql(),
                    parked = EntryState::Parked.sql()
                ),
                params![seq as i64, now, reason],
            )
            .map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    /// Dismissals the server has not been told of yet.
    pub fn unreported_dismissals(&self) -> Result<Vec<Dismissal>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT e.seq, e.content_hash, json_extract(u.state_reason, '$.reason'), u.state_at
                 FROM uploads u JOIN entries e ON e.seq = u.seq WHERE u.state = {}
                   AND json_extract(u.state_reason, '$.closed') = 'dismissed'
                   AND json_extract(u.state_reason, '$.reported') = 0
                 ORDER BY u.seq LIMIT 100",
                EntryState::Closed.sql()
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Dismissal {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: hex::encode(r.get::<_, Vec<u8>>(1)?),
                    reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    at: ts(r.get(3)?).unwrap_or_else(Timestamp::now),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The server stored these dismissals.
    pub fn dismissals_reported(&mut self, seqs: &[u64]) -> Result<(), JournalError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        for seq in seqs {
            tx.execute(
                "UPDATE uploads SET state_reason = json_set(state_reason, '$.reported', json('true'))
                 WHERE seq = ?1",
                [*seq as i64],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Closed entries, newest first: what closed them.
    pub fn closed(&self, limit: usize) -> Result<Vec<ClosedEntry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT e.seq, e.content_hash, u.state_reason, u.state_at
                 FROM uploads u JOIN entries e ON e.seq = u.seq
                 WHERE u.state = {} ORDER BY u.seq DESC LIMIT ?1",
                EntryState::Closed.sql()
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                let why: serde_json::Value = r
                    .get::<_, Option<String>>(2)?
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                Ok(ClosedEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: hex::encode(r.get::<_, Vec<u8>>(1)?),
                    resolved_by: why["by"].as_u64(),
                    dismissed: (why["closed"] == "dismissed")
                        .then(|| why["reason"].as_str().unwrap_or_default().to_string()),
                    closed_at: ts(r.get(3)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub fn parked(&self, limit: usize) -> Result<Vec<ParkedEntry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT e.seq, e.content_hash, u.state_reason, s.path, e.source_line, u.state_at
                 FROM uploads u JOIN entries e ON e.seq = u.seq
                 LEFT JOIN sources s ON s.id = e.source_id
                 WHERE u.state = {} ORDER BY u.seq LIMIT ?1",
                EntryState::Parked.sql()
            ))
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
                    // A workbook's rows are kept as `file:Sheet!` and a row
                    // number, shown as Excel does: `so.xlsx:Khai sinh!17`.
                    source: file.map(|f| match line {
                        Some(l) if f.ends_with('!') => format!("{f}{l}"),
                        Some(l) => format!("{f}:{l}"),
                        None => f,
                    }),
                    parked_at: ts(r.get(5)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
