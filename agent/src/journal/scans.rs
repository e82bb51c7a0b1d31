//! The page scans the journal's records name, each once, and whether the
//! central server holds it yet. A record counts as synced only when it and
//! all its scans are stored centrally.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Journal, ms};
use crate::error::JournalError;

/// Notes the scans of a record just appended (`?1` its seq, `?2` its
/// canonical text); run in the append's transaction.
pub(super) const NOTE_SCANS: [&str; 2] = [
    "INSERT OR IGNORE INTO scans (sha256, bytes, first_seq)
         SELECT json_extract(value, '$.sha256'), json_extract(value, '$.bytes'), ?1
         FROM json_each(?2, '$.scans')",
    "INSERT OR IGNORE INTO entry_scans (seq, sha256)
         SELECT ?1, json_extract(value, '$.sha256') FROM json_each(?2, '$.scans')",
];

/// Attaches `scan` (a record's `scans` item) to entry `seq` unless it is
/// attached already; returns how many were attached (0 or 1). Run in the
/// append's transaction.
pub(super) fn attach(
    conn: &rusqlite::Connection,
    seq: i64,
    scan: &serde_json::Value,
    now: i64,
    source: Option<i64>,
    line: Option<i64>,
) -> rusqlite::Result<u64> {
    let sha = scan
        .get("sha256")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let bytes = scan
        .get("bytes")
        .and_then(|v| v.as_i64())
        .unwrap_or_default();
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO attachments (seq, sha256, scan, entered_at, source_id, source_line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![seq, sha, scan.to_string(), now, source, line])?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO scans (sha256, bytes, first_seq) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![sha, bytes, seq])?;
    conn.prepare_cached("INSERT OR IGNORE INTO entry_scans (seq, sha256) VALUES (?1, ?2)")?
        .execute(params![seq, sha])?;
    Ok(added as u64)
}

/// An attachment waiting to be sent: the record is stored centrally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentAttachment {
    pub id: i64,
    /// The journal entry of the record.
    pub seq: u64,
    pub record: hotich_protocol::ContentHash,
    pub scan: hotich_protocol::record::ScanRef,
    pub attached_at: hotich_protocol::Timestamp,
}

/// A record with all its scans, whichever way they came, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordScans {
    pub seq: u64,
    pub key: String,
    pub scans: Vec<RecordScan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordScan {
    pub sha256: String,
    pub bytes: u64,
    /// `record` (named by the record) or `attachment` (attached later).
    pub via: &'static str,
    pub stored_centrally: bool,
    /// An attachment not yet acknowledged by the server.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attachment_unsent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A scan waiting to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingScan {
    pub sha256: String,
    pub bytes: u64,
    pub first_seq: u64,
}

/// Scans by upload state, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanCounts {
    pub waiting: u64,
    pub stored: u64,
    /// Cannot be sent as they are (altered or lost on this PC).
    pub damaged: u64,
    /// Records whose scans are not all stored centrally yet.
    pub records_waiting_for_scans: u64,
}

impl Journal {
    /// Attachments whose record the server holds, not yet sent; oldest first.
    pub fn unsent_attachments(&self, limit: usize) -> Result<Vec<UnsentAttachment>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT a.id, e.content_hash, a.scan, a.entered_at, a.seq
                 FROM attachments a JOIN entries e ON e.seq = a.seq
                 JOIN uploads u ON u.seq = a.seq
                 WHERE a.sent_at IS NULL AND u.state = {acked}
                 ORDER BY a.id LIMIT ?1",
                acked = super::EntryState::Acked.sql()
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, hash, scan, at, seq) = row.map_err(|e| self.err(e))?;
            let corrupt = |detail: String| JournalError::Corrupt {
                path: self.path.clone(),
                seq: 0,
                detail: format!("attachment {id}: {detail}"),
            };
            out.push(UnsentAttachment {
                id,
                seq: seq as u64,
                record: hotich_protocol::ContentHash::from_slice(&hash)
                    .ok_or_else(|| corrupt("content hash is not 32 bytes".into()))?,
                scan: serde_json::from_str(&scan).map_err(|e| corrupt(e.to_string()))?,
                attached_at: hotich_protocol::Timestamp(at),
            });
        }
        Ok(out)
    }

    /// Whether any attachment waits for its record to be stored centrally
    /// or to be sent.
    pub fn attachments_unsent(&self) -> Result<u64, JournalError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM attachments WHERE sent_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    pub fn mark_attachments_sent(&self, ids: &[i64]) -> Result<(), JournalError> {
        let now = ms(hotich_protocol::Timestamp::now());
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE attachments SET sent_at = ?2 WHERE id = ?1")
            .map_err(|e| self.err(e))?;
        for id in ids {
            stmt.execute(params![id, now]).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Records whose scans are not all stored centrally (or whose
    /// attachments are not sent), each with all its scans; at most `limit`.
    pub fn records_waiting_for_scans(
        &self,
        limit: usize,
    ) -> Result<Vec<RecordScans>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.seq, e.nat_key, s.sha256, s.bytes, s.stored_at IS NOT NULL, s.problem,
                        a.id IS NOT NULL, a.id IS NOT NULL AND a.sent_at IS NULL
                 FROM (SELECT DISTINCT es.seq FROM entry_scans es
                       JOIN scans s ON s.sha256 = es.sha256
                       LEFT JOIN attachments a ON a.seq = es.seq AND a.sha256 = es.sha256
                       WHERE s.stored_at IS NULL OR (a.id IS NOT NULL AND a.sent_at IS NULL)
                       ORDER BY es.seq LIMIT ?1) w
                 JOIN entries e ON e.seq = w.seq
                 JOIN entry_scans es ON es.seq = w.seq
                 JOIN scans s ON s.sha256 = es.sha256
                 LEFT JOIN attachments a ON a.seq = es.seq AND a.sha256 = es.sha256
                 ORDER BY e.seq, a.id IS NOT NULL, a.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    RecordScan {
                        sha256: r.get(2)?,
                        bytes: r.get::<_, i64>(3)? as u64,
                        stored_centrally: r.get(4)?,
                        problem: r.get(5)?,
                        via: if r.get::<_, bool>(6)? {
                            "attachment"
                        } else {
                            "record"
                        },
                        attachment_unsent: r.get(7)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out: Vec<RecordScans> = Vec::new();
        for row in rows {
            let (seq, key, scan) = row.map_err(|e| self.err(e))?;
            match out.last_mut() {
                Some(last) if last.seq == seq as u64 => last.scans.push(scan),
                _ => out.push(RecordScans {
                    seq: seq as u64,
                    key,
                    scans: vec![scan],
                }),
            }
        }
        Ok(out)
    }

    /// The next scan to upload: the oldest record's first.
    pub fn next_scan(&self) -> Result<Option<WaitingScan>, JournalError> {
        self.conn
            .query_row(
                "SELECT sha256, bytes, first_seq FROM scans
                 WHERE stored_at IS NULL AND problem IS NULL ORDER BY first_seq LIMIT 1",
                [],
                |r| {
                    Ok(WaitingScan {
                        sha256: r.get(0)?,
                        bytes: r.get::<_, i64>(1)? as u64,
                        first_seq: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn mark_scan_stored(&self, sha256: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE scans SET stored_at = ?2, problem = NULL WHERE sha256 = ?1",
                params![sha256, ms(hotich_protocol::Timestamp::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A scan that cannot be sent as it is; `verify` and `status` name it,
    /// and importing its file again clears it.
    pub fn mark_scan_damaged(&self, sha256: &str, problem: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE scans SET problem = ?2 WHERE sha256 = ?1",
                params![sha256, problem],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Clears a damage mark once the file is back (an import stored it again).
    pub fn clear_scan_problem(&self, sha256: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE scans SET problem = NULL WHERE sha256 = ?1",
                params![sha256],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The scans marked damaged, with why.
    pub fn damaged_scans(&self) -> Result<Vec<(String, String)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT sha256, problem FROM scans WHERE problem IS NOT NULL ORDER BY first_seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn scan_counts(&self) -> Result<ScanCounts, JournalError> {
        let (waiting, stored, damaged) = self
            .conn
            .query_row(
                "SELECT count(*) FILTER (WHERE stored_at IS NULL AND problem IS NULL),
                        count(*) FILTER (WHERE stored_at IS NOT NULL),
                        count(*) FILTER (WHERE stored_at IS NULL AND problem IS NOT NULL)
                 FROM scans",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        let records_waiting_for_scans = self
            .conn
            .query_row(
                "SELECT count(*) FROM (
                     SELECT es.seq FROM scans s JOIN entry_scans es ON es.sha256 = s.sha256
                     WHERE s.stored_at IS NULL
                     UNION
                     SELECT seq FROM attachments WHERE sent_at IS NULL)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(ScanCounts {
            waiting: waiting as u64,
            stored: stored as u64,
            damaged: damaged as u64,
            records_waiting_for_scans: records_waiting_for_scans as u64,
        })
    }
}
