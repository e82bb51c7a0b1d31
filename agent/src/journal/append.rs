//! Adding records to the journal, and the rules that keep one book entry one
//! record: the same content is already present, different content under the
//! same natural key is a conflict unless it corrects the current version.

use hotich_protocol::{PreparedRecord, Timestamp, chain_hash};
use rusqlite::{OptionalExtension, params};

use super::{EntryState, Journal, Origin, content_hash_at, ms, read_head};
use crate::error::JournalError;
use hotich_protocol::{ContentHash, FieldError};

/// What happened to one record offered to the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Accepted {
        seq: u64,
    },
    /// The same content is already in the journal; nothing was written.
    AlreadyPresent {
        seq: u64,
    },
    /// The journal holds this book entry with the same content but fewer
    /// scans: the new ones were attached to it (its hash is unchanged).
    Attached {
        seq: u64,
        scans: u64,
    },
    /// The journal holds different content for the same book entry.
    Conflict {
        existing_seq: u64,
        existing_hash: ContentHash,
        /// Why, with what to do (coded, for the official's language).
        problem: FieldError,
    },
}

impl Journal {
    /// Appends records in one durable transaction and reports each one's fate.
    /// Nothing is reported accepted unless the commit succeeded.
    pub fn append_batch(
        &mut self,
        records: &[(&PreparedRecord, Option<Origin<'_>>)],
    ) -> Result<Vec<AppendOutcome>, JournalError> {
        let now = ms(Timestamp::now());
        let (tx, path) = self.write_tx()?;
        let err = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut outcomes = Vec::with_capacity(records.len());
        {
            let (mut head_seq, mut head_chain) = read_head(&tx, &path)?;
            // Content is found under its natural key (see schema 9): the
            // same content always has the same key.
            let mut by_key_and_hash = tx
                .prepare_cached("SELECT seq FROM entries WHERE nat_key = ?1 AND content_hash = ?2")
                .map_err(err)?;
            let mut head_of_key = tx
                .prepare_cached(
                    "SELECT seq, content_hash FROM entries WHERE nat_key = ?1 ORDER BY seq DESC LIMIT 1",
                )
                .map_err(err)?;
            // A correction closes the refused entries it answers: the one it
            // names, or one of the same book entry refused because the
            // centre held the version it names.
            let mut resolve = tx
                .prepare_cached(&format!(
                    "UPDATE uploads SET state = {closed}, state_at = ?2,
                     state_reason = json_object('closed', 'resolved', 'by', ?1, 'refusal', state_reason)
                     WHERE state = {parked} AND EXISTS (
                         SELECT 1 FROM entries e WHERE e.seq = uploads.seq AND (
                             e.content_hash = ?3
                             OR (e.nat_key = ?4
                                 AND json_valid(uploads.state_reason)
                                 AND json_extract(uploads.state_reason, '$.existing') = ?5)))",
                    closed = EntryState::Closed.sql(),
                    parked = EntryState::Parked.sql()
                ))
                .map_err(err)?;
            let mut source_id = tx
                .prepare_cached(
                    "INSERT INTO sources (path) VALUES (?1)
                     ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id",
                )
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (seq, content_hash, chain_hash, record, nat_key, supersedes,
                                          entered_at, source_id, source_line, official,
                                          correction_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(err)?;
            let mut queue = tx
                .prepare_cached("INSERT INTO uploads (seq) VALUES (?1)")
                .map_err(err)?;
            let mut last_source: Option<(&str, i64)> = None;
            for (record, origin) in records {
                let source = match origin {
                    None => None,
                    Some(o) => match last_source {
                        Some((file, id)) if file == o.file => Some(id),
                        _ => {
                            let id: i64 =
                                source_id.query_row([o.file], |r| r.get(0)).map_err(err)?;
                            last_source = Some((o.file, id));
                            Some(id)
                        }
                    },
                };
                let hash = record.hash.as_bytes().as_slice();
                let key = record.storage_key.as_str();
                // The same content always has the same natural key, so a new
                // key means a new record: one index probe on the common path.
                let head = head_of_key
                    .query_row([&key], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .optional()
                    .map_err(err)?;
                if let Some((existing_seq, existing)) = head {
                    let existing_hash = content_hash_at(&path, existing_seq as u64, &existing)?;
                    if existing_hash == record.hash {
                        outcomes.push(AppendOutcome::AlreadyPresent {
                            seq: existing_seq as u64,
                        });
                        continue;
                    }
                    // An older version of this entry (since corrected) imported again.
                    if let Some(seq) = by_key_and_hash
                        .query_row(params![key, hash], |r| r.get::<_, i64>(0))
                        .optional()
                        .map_err(err)?
                    {
                        outcomes.push(AppendOutcome::AlreadyPresent { seq: seq as u64 });
                        continue;
                    }
                    // A correction must replace the current version. One that
                    // names a version this journal never held under this key
                    // corrects what the central database holds (another PC's,
                    // or an older digitization): that is for the server to
                    // check, which also refuses one naming a version held
                    // under another key while this key has its own.
                    let corrects_head = record.supersedes == Some(existing_hash);
                    let corrects_elsewhere = match record.supersedes {
                        Some(other) if !corrects_head => by_key_and_hash
                            .query_row(params![key, other.as_bytes().as_slice()], |r| {
                                r.get::<_, i64>(0)
                            })
                            .optional()
                            .map_err(err)?
                            .is_none(),
                        _ => false,
                    };
                    // The same entry again with a page scanned since: the
                    // scans attach to the record as it is.
                    if record.canonical.contains("\"scans\":") {
                        let existing_text: String = tx
                            .prepare_cached("SELECT record FROM entries WHERE seq = ?1")
                            .and_then(|mut s| s.query_row([existing_seq], |r| r.get(0)))
                            .map_err(err)?;
                        if let Some(added) = scans_added(&existing_text, &record.canonical) {
                            let mut attached = 0u64;
                            for scan in added {
                                attached += super::scans::attach(
                                    &tx,
                                    existing_seq,
                                    &scan,
                                    now,
                                    source,
                                    origin.map(|o| o.line as i64),
                                )
                                .map_err(err)?;
                            }
                            outcomes.push(if attached == 0 {
                                AppendOutcome::AlreadyPresent {
                                    seq: existing_seq as u64,
                                }
                            } else {
                                AppendOutcome::Attached {
                                    seq: existing_seq as u64,
                                    scans: attached,
                                }
                            });
                            continue;
                        }
                    }
                    if !corrects_head && !corrects_elsewhere {
                        let mut args = std::collections::BTreeMap::from([
                            ("key".to_string(), record.key.to_string()),
                            ("seq".to_string(), existing_seq.to_string()),
                            ("existing".to_string(), existing_hash.to_hex()),
                        ]);
                        let problem = match record.supersedes {
                            None => FieldError::coded(
                                "register",
                                "conflict-new",
                                args,
                                format!(
                                    "{} is already in the journal as entry #{existing_seq} with different content. \
                                     If this record corrects it, add \"supersedes\": \"{existing_hash}\"; if it is \
                                     another entry, from the book of a former commune merged into this one, give \
                                     that commune's code (column Mã xã cũ, or import --former-commune CODE)",
                                    record.key
                                ),
                            ),
                            Some(other) => {
                                args.insert("supersedes".into(), other.to_hex());
                                FieldError::coded(
                                    "register",
                                    "conflict-stale",
                                    args,
                                    format!(
                                        "supersedes {other}, but the current version of {} is entry #{existing_seq} ({existing_hash})",
                                        record.key
                                    ),
                                )
                            }
                        };
                        outcomes.push(AppendOutcome::Conflict {
                            existing_seq: existing_seq as u64,
                            existing_hash,
                            problem,
                        });
                        continue;
                    }
                }
                let seq = head_seq + 1;
                let chain = chain_hash(&head_chain, seq, &record.hash);
                insert
                    .execute(params![
                        seq as i64,
                        hash,
                        chain.as_bytes().as_slice(),
                        record.canonical,
                        key,
                        record.supersedes.as_ref().map(|h| h.as_bytes().as_slice()),
                        now,
                        source,
                        origin.map(|o| o.line as i64),
                        origin.and_then(|o| o.official),
                        origin.and_then(|o| o.correction_reason),
                    ])
                    .map_err(err)?;
                queue.execute([seq as i64]).map_err(err)?;
                // The scans it names wait to be uploaded (once each).
                if record.canonical.contains("\"scans\":") {
                    for sql in super::scans::NOTE_SCANS {
                        tx.prepare_cached(sql)
                            .and_then(|mut note| {
                                note.execute(params![seq as i64, record.canonical])
                            })
                            .map_err(err)?;
                    }
                }
                if let Some(superseded) = &record.supersedes {
                    resolve
                        .execute(params![
                            seq as i64,
                            now,
                            superseded.as_bytes().as_slice(),
                            key,
                            superseded.to_hex()
                        ])
                        .map_err(err)?;
                }
                head_seq = seq;
                head_chain = chain;
                outcomes.push(AppendOutcome::Accepted { seq });
            }
        }
        tx.commit().map_err(err)?;
        Ok(outcomes)
    }
}

/// The scans `offered` names that `existing` does not, if the two records
/// are otherwise the same (`None` when anything else differs).
fn scans_added(existing: &str, offered: &str) -> Option<Vec<serde_json::Value>> {
    let mut existing: serde_json::Value = serde_json::from_str(existing).ok()?;
    let mut offered: serde_json::Value = serde_json::from_str(offered).ok()?;
    let scans_of = |v: &mut serde_json::Value| match v.as_object_mut()?.remove("scans") {
        Some(serde_json::Value::Array(scans)) => Some(scans),
        _ => Some(Vec::new()),
    };
    let had = scans_of(&mut existing)?;
    let offered_scans = scans_of(&mut offered)?;
    if existing != offered {
        return None;
    }
    let sha = |v: &serde_json::Value| v.get("sha256").cloned();
    Some(
        offered_scans
            .into_iter()
            .filter(|s| !had.iter().any(|h| sha(h) == sha(s)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::scans_added;

    #[test]
    fn only_scans_may_differ_for_an_attachment() {
        let a = r#"{"kind":"birth","n":1}"#;
        let b = r#"{"kind":"birth","n":1,"scans":[{"sha256":"aa"},{"sha256":"bb"}]}"#;
        let c = r#"{"kind":"birth","n":2,"scans":[{"sha256":"aa"}]}"#;
        let d = r#"{"kind":"birth","n":1,"scans":[{"sha256":"aa"}]}"#;
        assert_eq!(scans_added(a, b).map(|v| v.len()), Some(2));
        assert_eq!(scans_added(d, b).map(|v| v.len()), Some(1));
        assert_eq!(scans_added(b, d).map(|v| v.len()), Some(0));
        assert_eq!(scans_added(a, c), None);
    }
}
