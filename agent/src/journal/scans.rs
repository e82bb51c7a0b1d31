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
        let records_waiting_for_scans = if waiting + damaged == 0 {
            0
        } else {
            self.conn
                .query_row(
                    "SELECT count(DISTINCT es.seq)
                     FROM scans s JOIN entry_scans es ON es.sha256 = s.sha256
                     WHERE s.stored_at IS NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| self.err(e))?
        };
        Ok(ScanCounts {
            waiting: waiting as u64,
            stored: stored as u64,
            damaged: damaged as u64,
            records_waiting_for_scans: records_waiting_for_scans as u64,
        })
    }
}
