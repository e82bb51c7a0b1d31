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
