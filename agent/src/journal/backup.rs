//! Backups of the journal: one file, consistent, taken while the service
//! runs; and putting one back on a new PC.

use std::path::Path;

use super::{Journal, VerifyReport};
use crate::error::JournalError;

impl Journal {
    /// Writes a consistent copy of the journal to `dest` (`VACUUM INTO`,
    /// inside one read transaction: the service may go on writing), then
    /// checks the copy's every hash and its chain. Returns what it holds.
    pub fn backup_to(&self, dest: &Path) -> Result<VerifyReport, JournalError> {
        let tmp = dest.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        self.conn
            .execute("VACUUM INTO ?1", [tmp.to_string_lossy().as_ref()])
            .map_err(|e| self.err(e))?;
        let report = Journal::open(&tmp)?.verify()?;
        if let Some((seq, why)) = &report.first_broken {
            let _ = std::fs::remove_file(&tmp);
            return Err(JournalError::Corrupt {
                path: dest.to_path_buf(),
                seq: *seq,
                detail: why.clone(),
            });
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, dest))
            .map_err(|e| JournalError::Lost {
                path: dest.to_path_buf(),
                detail: e.to_string(),
            })?;
        Ok(report)
    }
}

/// An entry rebuilt from the server's copy of this journal (`recover`).
#[derive(Debug, Clone)]
pub struct RecoveredEntry {
    pub seq: u64,
    pub hash: hotich_protocol::ContentHash,
    pub chain: hotich_protocol::ChainHash,
    /// The canonical text whose hash is `hash`.
    pub record: String,
    pub nat_key: String,
    pub supersedes: Option<hotich_protocol::ContentHash>,
    /// Stored centrally; otherwise refused, and parked here as such.
    pub stored: bool,
}

impl Journal {
    /// Appends entries rebuilt from the server, checked by the caller to
    /// continue this journal's chain, in one transaction.
    pub fn insert_recovered(&mut self, entries: &[RecoveredEntry]) -> Result<(), JournalError> {
        use super::EntryState;
        use rusqlite::params;
        let now = super::ms(hotich_protocol::Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (seq, content_hash, chain_hash, record, nat_key, supersedes,
                                          entered_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(err)?;
            let mut settled = tx
                .prepare_cached(
                    "INSERT INTO uploads (seq, state, state_reason, state_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for e in entries {
                let (state, reason) = if e.stored {
                    (EntryState::Acked, None)
                } else {
                    (
                        EntryState::Parked,
                        Some(
                            serde_json::json!({
                                "kind": "recovered",
                                "text": "refused by the server before this journal was recovered"
                            })
                            .to_string(),
                        ),
                    )
                };
                insert
                    .execute(params![
                        e.seq as i64,
                        e.hash.as_bytes().as_slice(),
                        e.chain.as_bytes().as_slice(),
                        e.record,
                        e.nat_key,
                        e.supersedes.as_ref().map(|h| h.as_bytes().as_slice()),
                        now,
                    ])
                    .map_err(err)?;
                settled
                    .execute(params![e.seq as i64, state, reason, now])
                    .map_err(err)?;
                // Its scans: the server may hold them; if not, and they
                // are not on this PC either, `status` says so.
                if e.record.contains("\"scans\":") {
                    for sql in super::scans::NOTE_SCANS {
                        tx.prepare_cached(sql)
                            .and_then(|mut note| note.execute(params![e.seq as i64, e.record]))
                            .map_err(err)?;
                    }
                }
            }
        }
        tx.commit().map_err(err)
    }
}
