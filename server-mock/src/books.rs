//! What second keyings, third looks and closed books mean centrally: which
//! entries are verified, which differ (field by field), and each book's
//! report. Worked out when asked, from what the store keeps, so a second
//! keying that arrives before the first, or a correction made since, is
//! judged against the entry as it stands now.

use std::collections::{BTreeMap, HashMap};

use hotich_protocol::books::{
    BookId, BookReport, BookTally, EntryCheck, FirstKeying, LaterKeying, ReviewResponse,
    check_entry,
};

use crate::store::StoreError;
use crate::store::books::{BookStore, CurrentRecord, KeyingRow};

fn check_stored(
    nat_key: &str,
    keyings: &[&KeyingRow],
    first: Option<&CurrentRecord>,
) -> EntryCheck {
    let first_value = first.and_then(|f| serde_json::from_str::<serde_json::Value>(&f.record).ok());
    let typed: Vec<Option<serde_json::Value>> = keyings
        .iter()
        .map(|k| {
            k.record
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
        })
        .collect();
    let later: Vec<LaterKeying<'_>> = keyings
        .iter()
        .zip(&typed)
        .map(|(k, record)| LaterKeying {
            kind: k.kind,
            hash: &k.hash,
            record: record.as_ref(),
            official: &k.official,
            keyed_at: k.keyed_at,
        })
        .collect();
    let first = first
        .zip(first_value.as_ref())
        .map(|(f, record)| FirstKeying {
            hash: &f.hash,
            record,
            official: f.official.as_deref(),
        });
    check_entry(nat_key, first, &later)
}

/// Every keyed entry of `commune` (all: `None`) and where it stands.
async fn checked_entries<S: BookStore>(
    store: &S,
    commune: Option<&str>,
) -> Result<BTreeMap<String, EntryCheck>, StoreError> {
    let keyings = store.keyings(commune).await?;
    let mut by_key: BTreeMap<&str, Vec<&KeyingRow>> = BTreeMap::new();
    for k in &keyings {
        by_key.entry(k.nat_key.as_str()).or_default().push(k);
    }
    let keys: Vec<String> = by_key.keys().map(|k| k.to_string()).collect();
    let mut current: HashMap<String, CurrentRecord> = HashMap::new();
    for chunk in keys.chunks(1000) {
        current.extend(store.current_records(chunk.to_vec()).await?);
    }
    Ok(by_key
        .into_iter()
        .map(|(key, ks)| {
            let check = check_stored(key, &ks, current.get(key));
            (key.to_string(), check)
        })
        .collect())
}

/// `GET /api/v1/review` and `hotich-agent review`: the commune's
/// unresolved discrepancies, oldest entry first, and the counts.
pub async fn review<S: BookStore>(
    store: &S,
    commune: Option<&str>,
) -> Result<ReviewResponse, StoreError> {
    let mut response = ReviewResponse {
        discrepancies: Vec::new(),
        verifications: Vec::new(),
        verified: 0,
        own_keyings: 0,
        waiting_for_first: 0,
    };
    for (_, check) in checked_entries(store, commune).await? {
        match check {
            EntryCheck::Verified(v) => {
                response.verified += 1;
                response.verifications.push(v);
            }
            EntryCheck::Differs(d) => response.discrepancies.push(d),
            EntryCheck::OwnKeying => response.own_keyings += 1,
            EntryCheck::WaitingForFirst => response.waiting_for_first += 1,
            EntryCheck::Unchecked => {}
        }
    }
    Ok(response)
}

/// Each book of `commune` (all: `None`) that has a stored record, a
/// keying, a refusal or a declaration, in book order.
pub async fn book_reports<S: BookStore>(
    store: &S,
    commune: Option<&str>,
) -> Result<Vec<BookReport>, StoreError> {
    let mut books: BTreeMap<BookId, BookTally> = BTreeMap::new();
    for row in store.book_entries(commune).await? {
        if let Some((book, entry)) = BookId::of_storage_key(&row.nat_key) {
            let tally = books.entry(book).or_default();
            tally.captured.insert(entry);
            if row.is_correction {
                tally.corrected.insert(entry);
            }
        }
    }
    for (sender, text) in store.refused_entries(commune).await? {
        let found = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| BookId::of_record(&v));
        // An agent may have sent another commune's record: it belongs to no
        // book of either commune's report.
        if let Some((book, entry)) = found
            && book.commune_code == sender
        {
            books.entry(book).or_default().refused.insert(entry);
        }
    }
    for (key, check) in checked_entries(store, commune).await? {
        let Some((book, _)) = BookId::of_storage_key(&key) else {
            continue;
        };
        books.entry(book).or_default().count(&check);
    }
    for closure in store.book_closures(commune).await? {
        let book = closure.book.clone();
        books.entry(book).or_default().closure = Some(closure);
    }
    Ok(books
        .into_iter()
        .map(|(book, tally)| tally.report(book))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotich_protocol::books::KeyingKind;
    use hotich_protocol::{ContentHash, Timestamp};

    fn keying(kind: KeyingKind, official: &str, record: &str, hash: u8) -> KeyingRow {
        KeyingRow {
            commune: "00004".into(),
            kind,
            nat_key: "00004/birth/1998/1/5".into(),
            hash: ContentHash::from_bytes([hash; 32]),
            record: Some(record.into()),
            official: official.into(),
            keyed_at: Timestamp(0),
            agent_id: 1,
        }
    }

    fn first(record: &str) -> CurrentRecord {
        CurrentRecord {
            hash: ContentHash::from_bytes([1; 32]),
            record: record.into(),
            official: Some("Nguyễn Thị Lan".into()),
        }
    }

    #[test]
    fn the_first_official_keying_again_verifies_nothing() {
        let k = keying(KeyingKind::Second, "nguyễn  thị lan", r#"{"a":1}"#, 1);
        assert_eq!(
            check_stored("k", &[&k], Some(&first(r#"{"a":1}"#))),
            EntryCheck::OwnKeying
        );
    }

    #[test]
    fn another_official_agrees_or_differs_field_by_field() {
        let same = keying(KeyingKind::Second, "Trần Văn Hùng", r#"{"a":1}"#, 1);
        assert_eq!(
            check_stored("k", &[&same], Some(&first(r#"{"a":1}"#))),
            EntryCheck::Verified(hotich_protocol::books::Verification {
                nat_key: "k".into(),
                kind: KeyingKind::Second,
                official: "Trần Văn Hùng".into(),
                at: Timestamp(0),
            })
        );
        let other = keying(KeyingKind::Second, "Trần Văn Hùng", r#"{"a":2}"#, 2);
        let EntryCheck::Differs(d) = check_stored("k", &[&other], Some(&first(r#"{"a":1}"#)))
        else {
            panic!("expected a discrepancy");
        };
        assert_eq!(d.fields[0].field, "a");
        // A third look confirming the first resolves it.
        let confirm = keying(KeyingKind::Confirm, "Lê Văn Nam", "", 1);
        assert_eq!(
            check_stored("k", &[&other, &confirm], Some(&first(r#"{"a":1}"#))),
            EntryCheck::Verified(hotich_protocol::books::Verification {
                nat_key: "k".into(),
                kind: KeyingKind::Confirm,
                official: "Lê Văn Nam".into(),
                at: Timestamp(0),
            })
        );
        assert_eq!(
            check_stored("k", &[&other], None),
            EntryCheck::WaitingForFirst
        );
    }
}
