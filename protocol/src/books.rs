//! Paper books and the checks on their typing: a second keying of an entry
//! by another official, compared field by field with the first; a book
//! declared closed with its count of entries; and the per-book report both
//! sides show. Wire types, and the comparison both sides run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{RecordKind, is_commune_code};
use crate::{ContentHash, Timestamp};

/// One paper book: a commune's (or, since July 2025, a former commune's)
/// register of one kind and year, by its book code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BookId {
    pub commune_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_commune_code: Option<String>,
    pub kind: RecordKind,
    pub year: i64,
    pub book: String,
}

impl BookId {
    /// The commune a natural key's storage form names (`00004` of both
    /// `00004/birth/1998/1/5` and `00004:00123/birth/1998/1/5`): the office
    /// the record belongs to, not the former commune whose book it was.
    pub fn commune_of_storage_key(key: &str) -> &str {
        let communes = key.split('/').next().unwrap_or(key);
        communes.split(':').next().unwrap_or(communes)
    }

    /// The book and entry number of a natural key's storage form
    /// (`00004/birth/1998/1/5`, `00004:00123/birth/1998/1/5`).
    pub fn of_storage_key(key: &str) -> Option<(BookId, u32)> {
        // A book code may itself hold a '/' ("01/2015"): the book is
        // whatever lies between the year and the entry number.
        let mut parts = key.splitn(4, '/');
        let communes = parts.next()?;
        let kind = RecordKind::parse(parts.next()?)?;
        let year = parts.next()?.parse().ok()?;
        let (book, entry) = parts.next()?.rsplit_once('/')?;
        if book.is_empty() {
            return None;
        }
        let entry = entry.parse().ok()?;
        let (commune, former) = match communes.split_once(':') {
            Some((c, f)) => (c, Some(f.to_string())),
            None => (communes, None),
        };
        Some((
            BookId {
                commune_code: commune.to_string(),
                former_commune_code: former,
                kind,
                year,
                book: book.to_string(),
            },
            entry,
        ))
    }

    /// The book as records name it: the book code in normal form ("01" and
    /// "1" are one book) and no former commune equal to the commune itself.
    pub fn normalized(mut self) -> BookId {
        if let Ok(v) =
            crate::record::normalize(serde_json::json!({ "register": { "book": self.book } }))
            && let Some(book) = v["register"]["book"].as_str()
        {
            self.book = book.to_string();
        }
        if self.former_commune_code.as_deref() == Some(self.commune_code.as_str()) {
            self.former_commune_code = None;
        }
        self
    }

    /// The book and entry number a record names, read without validating
    /// it (a refused record may be invalid elsewhere).
    pub fn of_record(record: &Value) -> Option<(BookId, u32)> {
        let normal = crate::record::normalize(record.clone()).ok()?;
        let register = normal.get("register")?;
        let text = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let commune = text(normal.get("commune_code"))?;
        let former = text(register.get("former_commune_code")).filter(|f| *f != commune);
        Some((
            BookId {
                commune_code: commune,
                former_commune_code: former,
                kind: RecordKind::parse(normal.get("kind")?.as_str()?)?,
                year: register.get("year")?.as_i64()?,
                book: text(register.get("book"))?,
            },
            u32::try_from(register.get("entry")?.as_u64()?).ok()?,
        ))
    }

    /// The book's part of its entries' storage keys (`00004/birth/1998/1`).
    pub fn storage_prefix(&self) -> String {
        let communes = match &self.former_commune_code {
            Some(f) => format!("{}:{f}", self.commune_code),
            None => self.commune_code.clone(),
        };
        format!("{communes}/{}/{}/{}", self.kind, self.year, self.book)
    }

    /// The storage key of entry `entry` of this book.
    pub fn entry_key(&self, entry: u32) -> String {
        format!("{}/{entry}", self.storage_prefix())
    }

    /// Checks what an official typed for `book close`.
    pub fn check(&self) -> Result<(), String> {
        if !is_commune_code(&self.commune_code) {
            return Err(format!("{}: not a 5-digit commune code", self.commune_code));
        }
        if let Some(f) = &self.former_commune_code
            && !is_commune_code(f)
        {
            return Err(format!("{f}: not a 5-digit commune code"));
        }
        if !(1800..=2200).contains(&self.year) {
            return Err(format!("{}: not a register year", self.year));
        }
        if self.book.is_empty() || self.book.chars().count() > 20 {
            return Err(format!("{:?}: not a book code", self.book));
        }
        Ok(())
    }
}

/// One field typed differently by two keyings: dotted path, and each
/// keying's value (absent when that keying left it empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDifference {
    pub field: String,
    #[serde(default)]
    pub first: Option<Value>,
    #[serde(default)]
    pub second: Option<Value>,
}

/// Members that are not what an official types from the page: the scans
/// (attached separately) and which version a correction replaces.
const NOT_TYPED: [&str; 2] = ["scans", "supersedes"];

/// Field by field, what two keyings of one book entry typed differently
/// (both in normal form); empty when they agree. Scans and `supersedes` are
/// left out: a second keying re-types the page, not its attachments.
pub fn differences(first: &Value, second: &Value) -> Vec<FieldDifference> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten(first, String::new(), &mut a);
    flatten(second, String::new(), &mut b);
    let mut fields: Vec<&String> = a.keys().chain(b.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| a.get(*f) != b.get(*f))
        .map(|f| FieldDifference {
            field: f.clone(),
            first: a.get(f).cloned(),
            second: b.get(f).cloned(),
        })
        .collect()
}

fn flatten(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if path.is_empty() && NOT_TYPED.contains(&k.as_str()) {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// The same official, whatever the case and spacing they typed it in.
pub fn same_official(a: &str, b: Option<&str>) -> bool {
    // Each PC keeps its own list: "Nguyen Thi Lan" on one and "Nguyễn Thị
    // Lan" on another are one official, as `--official` matches them.
    b.is_some_and(|b| crate::text::fold(a) == crate::text::fold(b))
}

/// A book entry as it stands now (its current version), as both sides
/// judge keyings against it.
#[derive(Debug, Clone, Copy)]
pub struct FirstKeying<'a> {
    pub hash: &'a ContentHash,
    pub record: &'a Value,
    pub official: Option<&'a str>,
}

/// A second keying or a third look, as both sides judge it.
#[derive(Debug, Clone, Copy)]
pub struct LaterKeying<'a> {
    pub kind: KeyingKind,
    pub hash: &'a ContentHash,
    /// Second: what was typed.
    pub record: Option<&'a Value>,
    pub official: &'a str,
    pub keyed_at: Timestamp,
}

/// Where one book entry stands after its second keyings and third looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryCheck {
    /// Another official typed the same, or confirmed the current version.
    Verified(Verification),
    /// Another official typed something else (the latest such keying).
    Differs(Discrepancy),
    /// Only the official who typed the first keyed it again: that
    /// verifies nothing.
    OwnKeying,
    /// The first keying is not held yet.
    WaitingForFirst,
    /// Nothing that checks this version (a third look at an older one).
    Unchecked,
}

/// Judges one entry's later keyings (oldest first) against its first.
pub fn check_entry(
    nat_key: &str,
    first: Option<FirstKeying<'_>>,
    later: &[LaterKeying<'_>],
) -> EntryCheck {
    let Some(first) = first else {
        return EntryCheck::WaitingForFirst;
    };
    let by_others: Vec<&LaterKeying<'_>> = later
        .iter()
        .filter(|k| !same_official(k.official, first.official))
        .collect();
    let mut agreed = None;
    let mut latest_difference = None;
    for k in by_others.iter().filter(|k| k.kind == KeyingKind::Second) {
        let Some(typed) = k.record else { continue };
        let fields = differences(first.record, typed);
        if fields.is_empty() {
            agreed.get_or_insert_with(|| Verification::by(nat_key, k));
        } else {
            latest_difference = Some(Discrepancy {
                nat_key: nat_key.to_string(),
                first_hash: *first.hash,
                first_official: first.official.map(str::to_string),
                second_official: k.official.to_string(),
                second_keyed_at: k.keyed_at,
                fields,
            });
        }
    }
    if let Some(v) = agreed {
        return EntryCheck::Verified(v);
    }
    // A third look settles a discrepancy: it counts only where another
    // official's second keying differs, and only for the version it saw.
    if latest_difference.is_some()
        && let Some(k) = by_others
            .iter()
            .find(|k| k.kind == KeyingKind::Confirm && k.hash == first.hash)
    {
        return EntryCheck::Verified(Verification::by(nat_key, k));
    }
    match latest_difference {
        Some(d) => EntryCheck::Differs(d),
        None if later.iter().any(|k| k.kind == KeyingKind::Second) && by_others.is_empty() => {
            EntryCheck::OwnKeying
        }
        None => EntryCheck::Unchecked,
    }
}

/// Second keyings and third looks, sent like attachments.
pub const KEYINGS_PATH: &str = "/api/v1/keyings";
/// At most this many per request.
pub const MAX_KEYINGS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyingKind {
    /// The entry typed again, by another official, to check the first.
    Second,
    /// A third look at a discrepancy: the first keying is right as it is.
    Confirm,
}

impl KeyingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyingKind::Second => "second",
            KeyingKind::Confirm => "confirm",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [KeyingKind::Second, KeyingKind::Confirm]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyingsRequest {
    pub keyings: Vec<Keying>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keying {
    pub kind: KeyingKind,
    /// Second: the record as typed (validated and hashed again centrally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    /// Confirm: the book entry, and the version of it confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<ContentHash>,
    /// Who typed or looked (from the office's list of officials).
    pub official: String,
    pub keyed_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyingsResponse {
    /// One per keying, in order.
    pub results: Vec<KeyingResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum KeyingResult {
    /// Kept (now or before).
    Stored,
    /// Not acceptable (invalid record, another commune's book): not sent
    /// again.
    Refused { reason: String },
}

/// Books declared closed, sent like attachments.
pub const BOOKS_PATH: &str = "/api/v1/books";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookClosure {
    #[serde(flatten)]
    pub book: BookId,
    /// The number of entries the paper book holds.
    pub entries: u32,
    /// Entry numbers lost from the paper (a torn page), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<String>,
    pub closed_at: Timestamp,
}

/// The most entries one paper book holds (civil-status books hold
/// hundreds, a few thousand at most).
pub const MAX_BOOK_ENTRIES: u32 = 10_000;

impl BookClosure {
    pub fn check(&self) -> Result<(), String> {
        self.book.check()?;
        if self.entries == 0 || self.entries > MAX_BOOK_ENTRIES {
            return Err(format!("{}: not a number of entries", self.entries));
        }
        if self.missing.windows(2).any(|w| w[0] >= w[1]) {
            return Err("entries declared missing are listed once each, in order".into());
        }
        if let Some(n) = self.missing.iter().find(|n| **n == 0 || **n > self.entries) {
            return Err(format!(
                "entry {n} is not in a book of {} entries",
                self.entries
            ));
        }
        if !self.missing.is_empty() && self.reason.as_deref().unwrap_or("").trim().is_empty() {
            return Err("entries declared missing need a reason".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BooksRequest {
    pub books: Vec<BookClosure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BooksResponse {
    pub stored: u64,
}

/// A declared-missing entry and why it is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredMissing {
    pub entry: u32,
    pub reason: String,
}

/// One book's state: what `hotich-server books --json` prints per line and
/// `GET /api/v1/books` answers for the agent's commune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookReport {
    pub commune_code: String,
    pub former_commune_code: Option<String>,
    pub kind: RecordKind,
    pub year: i64,
    pub book: String,
    /// Distinct entries stored.
    pub captured: u64,
    /// The count the official declared on closing the book.
    pub declared: Option<u32>,
    /// Entry numbers up to the declared count never captured and not
    /// declared missing.
    pub missing: Vec<u32>,
    pub declared_missing: Vec<DeclaredMissing>,
    /// Entries a second keying by another official agreed with (or a
    /// third look confirmed).
    pub verified: u64,
    /// Entries whose second keying differs and are not resolved yet.
    pub discrepancies: u64,
    /// Entries the centre refused (a different content for a book entry
    /// it holds, a rewritten journal).
    pub refused: u64,
    /// Entries corrected at least once.
    pub corrected: u64,
}

impl BookReport {
    pub fn id(&self) -> BookId {
        BookId {
            commune_code: self.commune_code.clone(),
            former_commune_code: self.former_commune_code.clone(),
            kind: self.kind,
            year: self.year,
            book: self.book.clone(),
        }
    }
}

/// What is known of one book, gathered to make its [`BookReport`].
#[derive(Debug, Default)]
pub struct BookTally {
    pub captured: std::collections::BTreeSet<u32>,
    pub corrected: std::collections::BTreeSet<u32>,
    pub refused: std::collections::BTreeSet<u32>,
    pub verified: u64,
    pub discrepancies: u64,
    /// The latest closing declaration.
    pub closure: Option<BookClosure>,
}

impl BookTally {
    pub fn count(&mut self, check: &EntryCheck) {
        match check {
            EntryCheck::Verified(_) => self.verified += 1,
            EntryCheck::Differs(_) => self.discrepancies += 1,
            EntryCheck::OwnKeying | EntryCheck::WaitingForFirst | EntryCheck::Unchecked => {}
        }
    }

    pub fn report(self, book: BookId) -> BookReport {
        let declared = self.closure.as_ref().map(|c| c.entries);
        let declared_missing: Vec<DeclaredMissing> = self
            .closure
            .iter()
            .flat_map(|c| {
                c.missing.iter().map(|n| DeclaredMissing {
                    entry: *n,
                    reason: c.reason.clone().unwrap_or_default(),
                })
            })
            .collect();
        let lost: Vec<u32> = declared_missing.iter().map(|d| d.entry).collect();
        BookReport {
            missing: declared
                .map(|n| missing_entries(n, &self.captured, &lost))
                .unwrap_or_default(),
            commune_code: book.commune_code,
            former_commune_code: book.former_commune_code,
            kind: book.kind,
            year: book.year,
            book: book.book,
            captured: self.captured.len() as u64,
            declared,
            declared_missing,
            verified: self.verified,
            discrepancies: self.discrepancies,
            refused: self.refused.len() as u64,
            corrected: self.corrected.len() as u64,
        }
    }
}

/// Entry numbers `1..=declared` neither captured nor declared missing.
pub fn missing_entries(
    declared: u32,
    captured: &std::collections::BTreeSet<u32>,
    declared_missing: &[u32],
) -> Vec<u32> {
    let lost: std::collections::HashSet<u32> = declared_missing.iter().copied().collect();
    (1..=declared)
        .filter(|n| !captured.contains(n) && !lost.contains(n))
        .collect()
}

pub const REVIEW_PATH: &str = "/api/v1/review";

/// A book entry whose second keying differs from the first, unresolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    pub nat_key: String,
    /// The first keying's current version (what a third look confirms).
    pub first_hash: ContentHash,
    #[serde(default)]
    pub first_official: Option<String>,
    pub second_official: String,
    pub second_keyed_at: Timestamp,
    pub fields: Vec<FieldDifference>,
}

/// Who verified a book entry, and when: the second keying that agreed,
/// or the third look that confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub nat_key: String,
    pub kind: KeyingKind,
    pub official: String,
    pub at: Timestamp,
}

impl Verification {
    fn by(nat_key: &str, k: &LaterKeying<'_>) -> Self {
        Verification {
            nat_key: nat_key.to_string(),
            kind: k.kind,
            official: k.official.to_string(),
            at: k.keyed_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewResponse {
    pub discrepancies: Vec<Discrepancy>,
    /// Each verified entry: by whom, when.
    #[serde(default)]
    pub verifications: Vec<Verification>,
    /// Entries verified by a second keying (or confirmed).
    pub verified: u64,
    /// Second keyings by the official who typed the first: they verify
    /// nothing.
    #[serde(default)]
    pub own_keyings: u64,
    /// Second keyings whose first keying the centre does not hold yet.
    #[serde(default)]
    pub waiting_for_first: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_each_field_and_ignore_scans() {
        let a = json!({"kind":"birth","child":{"full_name":"Nguyễn Văn A","sex":"male"},
                       "scans":[{"sha256":"ab"}],"register":{"entry":5}});
        let b = json!({"kind":"birth","child":{"full_name":"Nguyễn Văn Á","sex":"male",
                       "ethnicity":"Kinh"},"register":{"entry":5}});
        let d = differences(&a, &b);
        assert_eq!(
            d.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
            ["child.ethnicity", "child.full_name"]
        );
        assert_eq!(d[0].first, None);
        assert_eq!(d[1].second, Some(json!("Nguyễn Văn Á")));
        assert!(differences(&a, &a).is_empty());
    }

    #[test]
    fn a_storage_key_names_the_commune_its_record_belongs_to() {
        assert_eq!(
            BookId::commune_of_storage_key("00004/birth/1998/1/5"),
            "00004"
        );
        assert_eq!(
            BookId::commune_of_storage_key("00004:00123/birth/1998/1/5"),
            "00004"
        );
        assert_eq!(
            BookId::commune_of_storage_key("00004/birth/2015/01/2015/9"),
            "00004"
        );
    }

    #[test]
    fn a_storage_key_names_its_book_and_entry() {
        let (book, entry) = BookId::of_storage_key("00004:00123/birth/1998/1/5").unwrap();
        assert_eq!(entry, 5);
        assert_eq!(book.former_commune_code.as_deref(), Some("00123"));
        assert_eq!(book.entry_key(5), "00004:00123/birth/1998/1/5");
        let (book, _) = BookId::of_storage_key("00004/death/2001/A2/17").unwrap();
        assert_eq!(book.entry_key(17), "00004/death/2001/A2/17");
        let (book, entry) = BookId::of_storage_key("00004/birth/2015/01/2015/9").unwrap();
        assert_eq!((book.book.as_str(), entry), ("01/2015", 9));
        assert!(BookId::of_storage_key("00004/birth/1998/1").is_none());
    }

    #[test]
    fn one_official_whatever_the_spelling_on_each_pc() {
        assert!(same_official("Nguyen Thi  Lan", Some("Nguyễn Thị Lan")));
        assert!(!same_official("Nguyễn Thị Lan", Some("Trần Văn Hùng")));
        assert!(!same_official("Nguyễn Thị Lan", None));
    }

    #[test]
    fn a_book_code_is_in_normal_form() {
        let (book, _) = BookId::of_storage_key("00004:00004/birth/1998/01/5").unwrap();
        let book = book.normalized();
        assert_eq!(book.book, "1");
        assert_eq!(book.former_commune_code, None);
    }

    #[test]
    fn missing_entries_leave_out_captured_and_declared_lost() {
        let captured = (1..=245)
            .filter(|n| ![7, 100, 200, 12].contains(n))
            .collect();
        assert_eq!(missing_entries(245, &captured, &[12]), vec![7, 100, 200]);
    }

    #[test]
    fn a_closure_with_missing_entries_needs_a_reason() {
        let mut c = BookClosure {
            book: BookId::of_storage_key("00004/birth/1998/1/1").unwrap().0,
            entries: 245,
            missing: vec![12, 13],
            reason: None,
            official: None,
            closed_at: Timestamp(0),
        };
        assert!(c.check().is_err());
        c.reason = Some("trang 4 bị rách".into());
        assert!(c.check().is_ok());
        c.missing.push(246);
        assert!(c.check().is_err());
    }
}
