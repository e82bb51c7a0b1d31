//! The link's persisted retry schedule and last outcome (one row), so a
//! restart continues the backoff instead of starting a retry storm.

use hotich_protocol::Timestamp;
use rusqlite::{Row, named_params};
use serde::Serialize;

use super::{Journal, ms, ts};
use crate::error::JournalError;

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
    /// `last_error` as kind and values, to word it in the reader's language.
    pub last_error_info: Option<crate::client::ErrorInfo>,
}

impl SyncState {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<SyncState> {
        Ok(SyncState {
            failures: r.get::<_, i64>("failures")?.clamp(0, i64::from(u32::MAX)) as u32,
            next_attempt_at: Timestamp(r.get("next_attempt_at")?),
            last_attempt_at: ts(r.get("last_attempt_at")?),
            last_success_at: ts(r.get("last_success_at")?),
            last_error: r.get("last_error")?,
            last_error_at: ts(r.get("last_error_at")?),
            reachable: r.get("reachable")?,
            batch_size: r
                .get::<_, Option<i64>>("batch_size")?
                .map(|n| n.max(0) as usize),
            last_reconcile_at: ts(r.get("last_reconcile_at")?),
            server_contiguous: r
                .get::<_, Option<i64>>("server_contiguous")?
                .map(|n| n.max(0) as u64),
            server_alerts: r
                .get::<_, Option<i64>>("server_alerts")?
                .map(|n| n.max(0) as u64),
            divergence: r.get("divergence")?,
            last_error_info: r
                .get::<_, Option<String>>("last_error_info")?
                .and_then(|t| serde_json::from_str(&t).ok()),
        })
    }
}

impl Journal {
    pub fn sync_state(&self) -> Result<SyncState, JournalError> {
        self.conn
            .query_row(
                "SELECT * FROM sync_state WHERE id = 1",
                [],
                SyncState::from_row,
            )
            .map_err(|e| self.err(e))
    }

    pub fn save_sync_state(&mut self, s: &SyncState) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE sync_state SET failures = :failures, next_attempt_at = :next_attempt_at,
                        last_attempt_at = :last_attempt_at, last_success_at = :last_success_at,
                        last_error = :last_error, last_error_at = :last_error_at,
                        reachable = :reachable, batch_size = :batch_size,
                        last_reconcile_at = :last_reconcile_at,
                        server_contiguous = :server_contiguous, server_alerts = :server_alerts,
                        divergence = :divergence, last_error_info = :last_error_info
                 WHERE id = 1",
                named_params! {
                    ":failures": s.failures,
                    ":next_attempt_at": ms(s.next_attempt_at),
                    ":last_attempt_at": s.last_attempt_at.map(ms),
                    ":last_success_at": s.last_success_at.map(ms),
                    ":last_error": s.last_error,
                    ":last_error_at": s.last_error_at.map(ms),
                    ":reachable": s.reachable,
                    ":batch_size": s.batch_size.map(|n| n as i64),
                    ":last_reconcile_at": s.last_reconcile_at.map(ms),
                    ":server_contiguous": s.server_contiguous.map(|n| n as i64),
                    ":server_alerts": s.server_alerts.map(|n| n as i64),
                    ":divergence": s.divergence,
                    ":last_error_info": s.last_error_info.as_ref().and_then(|i| serde_json::to_string(i).ok()),
                },
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
