//! Second keyings of book entries, third looks at their discrepancies, and
//! books declared closed: their own kinds of journal entry, kept beside the
//! records (never in `entries`, so a second keying is never a new record nor
//! a conflict) and sent once each.

use std::collections::{BTreeMap, HashMap};

use hotich_protocol::books::{
    BookClosure, BookId, BookReport, BookTally, FirstKeying, Keying, KeyingKind, LaterKeying,
    check_entry,
};
use hotich_protocol::{ContentHash, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::{EntryState, Journal, ms};
use crate::error::JournalError;

/// A second keying or a third look to keep.
#[derive(Debug, Clone)]
pub struct NewKeying<'a> {
    pub kind: KeyingKind,
    pub nat_key: &'a str,
    pub hash: ContentHash,
    /// Second: the typed record's canonical text.
    pub record: Option<&'a str>,
    pub official: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<u64>,
}

/// The current version of a book entry in this journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFirst {
    pub hash: ContentHash,
    pub record: String,
    pub official: Option<String>,
}

/// A keying read back for the local report.
struct KeptKeying {
    kind: KeyingKind,
    hash: ContentHash,
    record: Option<serde_json::Value>,
    official: String,
    keyed_at: Timestamp,
}

impl Journal {
    /// Keeps keyings in one durable transaction; for each, whether it was
    /// new (the same official keying the same content again is not).
    pub fn add_keyings(&mut self, keyings: &[NewKeying<'_>]) -> Result<Vec<bool>, JournalError> {
        let now = ms(Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut added = Vec::with_capacity(keyings.len());
        {
            let mut source_id = tx
                .prepare_cached(
                    "INSERT INTO sources (path) VALUES (?1)
                     ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id",
                )
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO keyings
                         (kind, nat_key, content_hash, record, official, keyed_at, source_id, source_line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for k in keyings {
                let source: Option<i64> = match k.file {
                    Some(file) => Some(source_id.query_row([file], |r| r.get(0)).map_err(err)?),
                    None => None,
                };
                let n = insert
                    .execute(params![
                        k.kind.as_str(),
                        k.nat_key,
                        k.hash.as_bytes().as_slice(),
                        k.record,
                        k.official,
                        now,
                        source,
                        k.line.map(|l| l as i64),
                    ])
                    .map_err(err)?;
                added.push(n == 1);
            }
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// The current version of a book entry here, and who entered it.
    pub fn first_keying(&self, nat_key: &str) -> Result<Option<LocalFirst>, JournalError> {
        let row = self
            .conn
            // A version the centre refused is not what the entry stands as.
            .prepare_cached(&format!(
                "SELECT e.seq, e.content_hash, e.record, e.official
                 FROM entries e JOIN uploads u ON u.seq = e.seq
                 WHERE e.nat_key = ?1 AND u.state IN ({pending}, {acked})
                 ORDER BY e.seq DESC LIMIT 1",
                pending = EntryState::Pending.sql(),
                acked = EntryState::Acked.sql()
            ))
            .map_err(|e| self.err(e))?
            .query_row([nat_key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(|(seq, hash, record, official)| {
            Ok(LocalFirst {
                hash: super::content_hash_at(&self.path, seq as u64, &hash)?,
                record,
                official,
            })
        })
        .transpose()
    }

    /// Keyings not yet acknowledged by the centre, oldest first.
    pub fn unsent_keyings(&self, limit: usize) -> Result<Vec<(i64, Keying)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, kind, nat_key, content_hash, record, official, keyed_at
                 FROM keyings WHERE sent_at IS NULL ORDER BY id LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, nat_key, hash, record, official, at) = row.map_err(|e| self.err(e))?;
            let corrupt = |detail: String| JournalError::Corrupt {
                path: self.path.clone(),
                seq: 0,
                detail: format!("keying {id}: {detail}"),
            };
            let kind = KeyingKind::parse(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?;
            let hash = ContentHash::from_slice(&hash)
                .ok_or_else(|| corrupt("content hash is not 32 bytes".into()))?;
            let record = record
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?;
            out.push((
                id,
                Keying {
                    kind,
                    record,
                    nat_key: (kind == KeyingKind::Confirm).then_some(nat_key),
                    confirms: (kind == KeyingKind::Confirm).then_some(hash),
                    official,
                    keyed_at: Timestamp(at),
                },
            ));
        }
        Ok(out)
    }

    pub fn mark_keyings_sent(&self, ids: &[i64]) -> Result<(), JournalError> {
        self.mark_sent("keyings", ids)
    }

    /// Keeps a book's closing declaration until the centre has it.
    pub fn close_book(&mut self, closure: &BookClosure) -> Result<(), JournalError> {
        let text = serde_json::to_string(closure).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            seq: 0,
            detail: e.to_string(),
        })?;
        self.conn
            .execute(
                "INSERT INTO book_closures (closure, closed_at) VALUES (?1, ?2)",
                params![text, closure.closed_at.millis()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every closing declaration, oldest first, with whether it was sent.
    fn book_closures(&self) -> Result<Vec<(i64, BookClosure, bool)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, closure, sent_at IS NOT NULL FROM book_closures ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, text, sent) = row.map_err(|e| self.err(e))?;
            let closure = serde_json::from_str(&text).map_err(|e| JournalError::Corrupt {
                path: self.path.clone(),
                seq: 0,
                detail: format!("book closure {id}: {e}"),
            })?;
            out.push((id, closure, sent));
        }
        Ok(out)
    }

    pub fn unsent_book_closures(&self) -> Result<Vec<(i64, BookClosure)>, JournalError> {
        Ok(self
            .book_closures()?
            .into_iter()
            .filter(|(_, _, sent)| !sent)
            .map(|(id, c, _)| (id, c))
            .collect())
    }

    pub fn mark_book_closures_sent(&self, ids: &[i64]) -> Result<(), JournalError> {
        self.mark_sent("book_closures", ids)
    }

    fn mark_sent(&self, table: &str, ids: &[i64]) -> Result<(), JournalError> {
        let now = ms(Timestamp::now());
        let mut stmt = self
            .conn
            .prepare_cached(&format!("UPDATE {table} SET sent_at = ?1 WHERE id = ?2"))
            .map_err(|e| self.err(e))?;
        for id in ids {
            stmt.execute(params![now, id]).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Whether keyings or closed books wait to be sent.
    pub fn book_news_unsent(&self) -> Result<bool, JournalError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM keyings WHERE sent_at IS NULL)
                     OR EXISTS (SELECT 1 FROM book_closures WHERE sent_at IS NULL)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The books as this PC alone knows them (when the centre cannot be
    /// asked): its own entries, keyings and declarations.
    pub fn local_book_reports(&self) -> Result<Vec<BookReport>, JournalError> {
        let mut books: BTreeMap<BookId, BookTally> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.nat_key, u.state, e.supersedes IS NOT NULL
                 FROM entries e JOIN uploads u ON u.seq = e.seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, EntryState>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (key, state, correction) = row.map_err(|e| self.err(e))?;
            let Some((book, entry)) = BookId::of_storage_key(&key) else {
                continue;
            };
            let t = books.entry(book).or_default();
            match state {
                EntryState::Pending | EntryState::Acked => {
                    t.captured.insert(entry);
                }
                EntryState::Parked => {
                    t.refused.insert(entry);
                }
                EntryState::Closed => {}
            }
            if correction {
                t.corrected.insert(entry);
            }
        }
        let mut later: HashMap<String, Vec<KeptKeying>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, nat_key, content_hash, record, official, keyed_at FROM keyings ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (kind, key, hash, record, official, at) = row.map_err(|e| self.err(e))?;
            let (Some(kind), Some(hash)) =
                (KeyingKind::parse(&kind), ContentHash::from_slice(&hash))
            else {
                continue;
            };
            let record = record.and_then(|t| serde_json::from_str(&t).ok());
            later.entry(key).or_default().push(KeptKeying {
                kind,
                hash,
                record,
                official,
                keyed_at: Timestamp(at),
            });
        }
        for (key, ks) in &later {
            let Some((book, _)) = BookId::of_storage_key(key) else {
                continue;
            };
            let first = self.first_keying(key)?;
            let first_value = first
                .as_ref()
                .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.record).ok());
            let first = first
                .as_ref()
                .zip(first_value.as_ref())
                .map(|(f, record)| FirstKeying {
                    hash: &f.hash,
                    record,
                    official: f.official.as_deref(),
                });
            let views: Vec<LaterKeying<'_>> = ks
                .iter()
                .map(|k| LaterKeying {
                    kind: k.kind,
                    hash: &k.hash,
                    record: k.record.as_ref(),
                    official: &k.official,
                    keyed_at: k.keyed_at,
                })
                .collect();
            books
                .entry(book)
                .or_default()
                .count(&check_entry(key, first, &views));
        }
        for (_, closure, _) in self.book_closures()? {
            let book = closure.book.clone();
            books.entry(book).or_default().closure = Some(closure);
        }
        Ok(books
            .into_iter()
            .map(|(book, tally)| tally.report(book))
            .collect())
    }
}
