//! The journal's identity, kept outside it. `journal.db` holds a random
//! `journal_id`; the data directory keeps a copy, with the highest entry
//! number the journal is known to have held, in `journal-id.json`. A
//! journal deleted, emptied (`: > journal.db`), swapped for another agent's
//! or put back from an old copy no longer matches, and every command that
//! would use it refuses, saying how to recover, instead of starting a new
//! empty journal and numbering records from 1 again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Journal, schema};
use crate::config::write_private;
use crate::error::JournalError;
use crate::tr;

/// Beside `journal.db` in the data directory.
pub const ID_FILE: &str = "journal-id.json";

/// What the data directory knows about its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalAnchor {
    pub journal_id: String,
    /// The highest entry number the journal held when last seen.
    pub last_seq: u64,
}

/// How a command may use the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Appends or changes upload states; creates nothing but the schema.
    ReadWrite,
    /// `status` and `verify`: work in a read-only data directory too.
    ReadOnly,
}

fn lost(path: &Path, detail: String) -> JournalError {
    JournalError::Lost {
        path: path.to_path_buf(),
        detail: format!("{detail}. {}", tr!("journal-recovery")),
    }
}

/// Whether files can be created in `dir` (SQLite needs that for its WAL).
fn dir_is_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

impl JournalAnchor {
    fn path(dir: &Path) -> PathBuf {
        dir.join(ID_FILE)
    }

    pub fn read(dir: &Path) -> Result<Option<JournalAnchor>, JournalError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(lost(
                    &path,
                    tr!(
                        "journal-id-unreadable",
                        file = ID_FILE,
                        detail = e.to_string()
                    ),
                ));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            lost(
                &path,
                tr!("journal-id-damaged", file = ID_FILE, detail = e.to_string()),
            )
        })
    }

    pub fn write(&self, dir: &Path) -> Result<(), JournalError> {
        let path = Self::path(dir);
        let text = serde_json::to_string(self).unwrap_or_default();
        write_private(&path, text.as_bytes()).map_err(|e| JournalError::Lost {
            path: path.clone(),
            detail: format!("cannot write {ID_FILE}: {e}"),
        })
    }
}

impl Journal {
    /// This journal's identity (set when it was created).
    pub fn journal_id(&self) -> Result<String, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'journal_id'", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// The record normal form this journal's entries are in (1 for a
    /// journal written before book codes lost their leading zeros).
    pub fn normal_form(&self) -> Result<u32, JournalError> {
        let v: Option<String> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            "SELECT value FROM meta WHERE key = 'normal_form'",
            [],
            |r| r.get(0),
        ))
        .map_err(|e| self.err(e))?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(2))
    }

    /// Creates a new, empty journal for a data directory being set up and
    /// records its identity there. An existing journal is kept and adopted.
    pub fn create(dir: &Path, file: &Path) -> Result<Journal, JournalError> {
        let journal = Journal::open(file)?;
        if JournalAnchor::read(dir)?.is_none() {
            journal.remember(dir)?;
        }
        Ok(journal)
    }

    /// Opens the data directory's journal, refusing one that is missing,
    /// emptied, another journal, or behind what the directory knows it held.
    pub fn open_checked(dir: &Path, file: &Path, access: Access) -> Result<Journal, JournalError> {
        let anchor = JournalAnchor::read(dir)?;
        let held = anchor
            .as_ref()
            .map(|a| tr!("journal-held", count = a.last_seq))
            .unwrap_or_default();
        match std::fs::metadata(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(lost(file, tr!("journal-missing", held = held.as_str())));
            }
            Err(e) => {
                return Err(lost(
                    file,
                    tr!("journal-unreadable", detail = e.to_string()),
                ));
            }
            Ok(m) if m.len() == 0 => {
                return Err(lost(file, tr!("journal-empty", held = held.as_str())));
            }
            Ok(_) => {}
        }
        // Read-only commands still bring an older journal up to date when
        // they may write (the first `status` after an upgrade).
        let writable = access == Access::ReadWrite
            || std::fs::OpenOptions::new().write(true).open(file).is_ok() && dir_is_writable(dir);
        let journal = if writable {
            Journal::open(file)?
        } else {
            Journal {
                conn: schema::open_read_only(file)?,
                path: file.to_path_buf(),
            }
        };
        let id = journal.journal_id()?;
        let (head, _) = journal.head()?;
        match anchor {
            // A data directory from before identities were kept: adopt.
            None if writable => journal.remember(dir)?,
            None => {}
            Some(a) if a.journal_id != id => {
                return Err(lost(
                    file,
                    tr!(
                        "journal-not-this",
                        id = id.as_str(),
                        expected = a.journal_id.as_str()
                    ),
                ));
            }
            Some(a) if head < a.last_seq => {
                return Err(lost(
                    file,
                    tr!("journal-behind", head = head, held = a.last_seq),
                ));
            }
            // Entries added since (an import killed before it said so):
            // raise the mark, so a later loss of them is noticed too.
            Some(a) if head > a.last_seq && writable => journal.remember(dir)?,
            Some(_) => {}
        }
        Ok(journal)
    }

    /// Records this journal's identity and current head in the data directory.
    pub fn remember(&self, dir: &Path) -> Result<(), JournalError> {
        let (last_seq, _) = self.head()?;
        JournalAnchor {
            journal_id: self.journal_id()?,
            last_seq,
        }
        .write(dir)
    }
}
