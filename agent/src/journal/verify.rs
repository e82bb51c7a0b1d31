//! `verify`: recompute every entry's content hash and the chain, and name the
//! first entry that does not check out.

use hotich_protocol::canonical::hash_canonical;
use hotich_protocol::{GENESIS, canonical, chain_hash, parse_strict};
use serde::Serialize;

use super::Journal;
use crate::error::JournalError;

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    /// The first entry that does not check out, with what is wrong.
    pub first_broken: Option<(u64, String)>,
    /// The scans the entries name (entry, scan's hash), for the blob
    /// store to check.
    pub scans: Vec<(u64, hotich_protocol::ContentHash)>,
}

impl Journal {
    /// Recomputes every entry's content hash and the chain from the start.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.seq, e.content_hash, e.chain_hash, e.record, u.seq IS NOT NULL
                 FROM entries e LEFT JOIN uploads u ON u.seq = e.seq ORDER BY e.seq",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut prev = GENESIS;
        let mut expected_seq = 1u64;
        let mut entries = 0u64;
        let mut scans = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq = row.get::<_, i64>(0).map_err(|e| self.err(e))? as u64;
            let stored_hash: Vec<u8> = row.get(1).map_err(|e| self.err(e))?;
            let stored_chain: Vec<u8> = row.get(2).map_err(|e| self.err(e))?;
            // A row edited to hold non-text is damage too; read it as bytes.
            let record: Vec<u8> = match row.get_ref(3).map_err(|e| self.err(e))? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    t.to_vec()
                }
                _ => Vec::new(),
            };
            entries += 1;
            let broken = |detail: String| {
                Ok(VerifyReport {
                    entries,
                    first_broken: Some((seq, detail)),
                    scans: Vec::new(),
                })
            };
            if seq != expected_seq {
                return broken(format!(
                    "entry #{expected_seq} is missing (next entry found is #{seq})"
                ));
            }
            // Counted as sent, it would never be.
            if !row.get::<_, bool>(4).map_err(|e| self.err(e))? {
                return broken("its upload state is missing".into());
            }
            let Ok(record) = String::from_utf8(record) else {
                return broken("the record is not UTF-8 text".into());
            };
            let actual = hash_canonical(&record);
            if stored_hash != actual.as_bytes() {
                return broken(format!(
                    "the record does not match its content hash (stored {}, recomputed {actual})",
                    hex::encode(&stored_hash)
                ));
            }
            let parsed = parse_strict(&record).ok();
            match parsed.as_ref().map(canonical) {
                Some(Ok(c)) if c == record => {}
                _ => return broken("the record is not in canonical form".into()),
            }
            if let Some(listed) = parsed
                .as_ref()
                .and_then(|v| v.get("scans"))
                .and_then(|v| v.as_array())
            {
                scans.extend(
                    listed
                        .iter()
                        .filter_map(|s| s.get("sha256").and_then(|h| h.as_str()))
                        .filter_map(|h| hotich_protocol::ContentHash::from_hex(h).ok())
                        .map(|h| (seq, h)),
                );
            }
            let chain = chain_hash(&prev, seq, &actual);
            if stored_chain != chain.as_bytes() {
                return broken(
                    "the chain hash does not link to the entry before it (an entry was rewritten, removed or reordered)"
                        .into(),
                );
            }
            prev = chain;
            expected_seq += 1;
        }
        Ok(VerifyReport {
            entries,
            first_broken: None,
            scans,
        })
    }
}
