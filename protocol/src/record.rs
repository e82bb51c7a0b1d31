//! Record model v1: the typed form of the three record kinds, normalization,
//! the natural key, and `prepare_record`, which turns user input into what the
//! journal stores (canonical text + content hash) or a list of field errors.
//!
//! The journal and the wire keep the record as canonical JSON text, not as
//! these structs: a field this version does not know is refused by validation
//! rather than dropped by a round trip through a struct. The structs are the
//! documented shape, used to build records in code and tests; a test checks
//! that everything validation accepts also deserializes into them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{hash_canonical, jcs, nfc};
use crate::hash::ContentHash;
use crate::time::{CivilDate, PartialDate};
use crate::validate::{FieldError, Problem, validate_record};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Birth,
    Marriage,
    Death,
}

impl RecordKind {
    pub const ALL: [RecordKind; 3] = [RecordKind::Birth, RecordKind::Marriage, RecordKind::Death];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Birth => "birth",
            RecordKind::Marriage => "marriage",
            RecordKind::Death => "death",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// Where the entry stands in the paper book (Quyển số / Số).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub year: i32,
    pub book: String,
    pub entry: u32,
    /// The issuing authority as written in the book; it may no longer exist
    /// after the 2025 reorganisation of administrative units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Since July 2025 one office may hold the books of several former
    /// communes: the 5-digit code of the commune whose book this is. It is
    /// part of the natural key, so two former communes' "book 01, entry 5"
    /// are two records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_commune_code: Option<String>,
}

/// A page scan, uploaded separately; the record carries only its reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRef {
    pub sha256: ContentHash,
    pub bytes: u64,
    pub media_type: String,
}

/// Fields every kind has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Common {
    pub commune_code: String,
    pub register: Register,
    pub registered_on: CivilDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scans: Vec<ScanRef>,
    /// Set only on a correction (cải chính): the hash of the record it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<ContentHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub full_name: String,
    pub sex: Sex,
    pub date_of_birth: PartialDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hometown: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Parent {
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Declarant {
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Spouse {
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deceased {
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BirthRecord {
    #[serde(flatten)]
    pub common: Common,
    pub child: Child,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother: Option<Parent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father: Option<Parent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declarant: Option<Declarant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarriageRecord {
    #[serde(flatten)]
    pub common: Common,
    pub husband: Spouse,
    pub wife: Spouse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeathRecord {
    #[serde(flatten)]
    pub common: Common,
    pub deceased: Deceased,
    pub date_of_death: PartialDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_death: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declarant: Option<Declarant>,
}

/// A civil-status record, model v1. Serializes with `"kind"` as the tag.
/// Built and inspected one at a time, so the variants' size difference is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Birth(BirthRecord),
    Marriage(MarriageRecord),
    Death(DeathRecord),
}

impl Record {
    pub fn to_value(&self) -> Value {
        // Serializing these plain structs cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Whether `code` is written as a commune code: exactly 5 digits, e.g. `00004`.
pub fn is_commune_code(code: &str) -> bool {
    code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Identity of a digitized book entry: two different contents under one
/// natural key are a conflict to surface, never to overwrite silently.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NaturalKey {
    pub commune_code: String,
    pub kind: RecordKind,
    pub year: i64,
    pub book: String,
    pub entry: i64,
    /// The former commune whose book it is (`register.former_commune_code`).
    pub former_commune_code: Option<String>,
}

impl NaturalKey {
    /// A stable single-string form for database keys:
    /// `00004/birth/1998/01/123`, or with the book of a former commune
    /// `00004:00123/birth/1998/01/123` (keys without one are unchanged).
    pub fn storage_key(&self) -> String {
        match &self.former_commune_code {
            None => format!(
                "{}/{}/{}/{}/{}",
                self.commune_code, self.kind, self.year, self.book, self.entry
            ),
            Some(former) => format!(
                "{}:{former}/{}/{}/{}/{}",
                self.commune_code, self.kind, self.year, self.book, self.entry
            ),
        }
    }
}

impl fmt::Display for NaturalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} register {} of commune {}",
            self.kind, self.year, self.commune_code
        )?;
        if let Some(former) = &self.former_commune_code {
            write!(f, " (book of former commune {former})")?;
        }
        write!(f, ", book {}, entry {}", self.book, self.entry)
    }
}

/// A validated record in its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRecord {
    pub kind: RecordKind,
    pub key: NaturalKey,
    /// `key.storage_key()`, computed once.
    pub storage_key: String,
    pub supersedes: Option<ContentHash>,
    /// `canonical(normalize(input))`: exactly the bytes that are hashed and stored.
    pub canonical: String,
    pub hash: ContentHash,
}

impl PreparedRecord {
    pub fn commune_code(&self) -> &str {
        &self.key.commune_code
    }
}

/// The version of the normal form below. 2: book codes and entry numbers
/// lose their leading zeros, and whole-number fields written as digits are
/// numbers (1 kept "01" and "1" as two books).
pub const NORMAL_FORM: u32 = 2;

/// Puts user input in normal form: every string trimmed and in NFC, keys in
/// NFC, members that carry nothing (null, empty text, empty object or list)
/// removed, so that a CSV row with empty cells and the same record typed as
/// JSON are one record with one hash; and one spelling of a book entry
/// whatever a spreadsheet did to it: a purely numeric book code has no
/// leading zeros ("01" and "1" are one book), and a whole-number field
/// written as digits ("0101") is that number.
///
/// Fails only when two keys of one object become the same text.
pub fn normalize(mut value: Value) -> Result<Value, FieldError> {
    normalize_in_place(&mut value, &mut String::new())?;
    normalize_numbers(&mut value);
    Ok(value)
}

/// `"007"` as the number 7, for a whole-number field written as digits.
fn digits_as_number(s: &str) -> Option<Value> {
    if s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().map(|n| Value::Number(n.into()))
}

/// `"0012"` → `"12"`; `"000"` → `"0"`; anything not all digits is kept.
fn without_leading_zeros(s: &str) -> Option<String> {
    if s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = s.trim_start_matches('0');
        Some(if trimmed.is_empty() { "0" } else { trimmed }.to_string())
    } else {
        None
    }
}

/// The whole-number fields and the book code, where a spreadsheet may have
/// put leading zeros or written a number as text. Only these few places are
/// visited: this runs on every imported record.
fn normalize_numbers(value: &mut Value) {
    let Value::Object(map) = value else { return };
    let as_number = |v: &mut Value| {
        if let Value::String(s) = v
            && let Some(n) = digits_as_number(s)
        {
            *v = n;
        }
    };
    if let Some(Value::Object(register)) = map.get_mut("register") {
        if let Some(Value::String(book)) = register.get_mut("book")
            && let Some(b) = without_leading_zeros(book)
        {
            *book = b;
        }
        for key in ["year", "entry"] {
            if let Some(v) = register.get_mut(key) {
                as_number(v);
            }
        }
    }
    for parent in ["mother", "father"] {
        if let Some(Value::Object(p)) = map.get_mut(parent)
            && let Some(v) = p.get_mut("birth_year")
        {
            as_number(v);
        }
    }
    if let Some(Value::Array(scans)) = map.get_mut("scans") {
        for scan in scans {
            if let Value::Object(scan) = scan
                && let Some(v) = scan.get_mut("bytes")
            {
                as_number(v);
            }
        }
    }
}

fn carries_nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_normal_text(s: &str) -> bool {
    s.trim().len() == s.len() && matches!(nfc(s), std::borrow::Cow::Borrowed(_))
}

/// Works in place: most input is already in normal form, and rebuilding
/// every string and map would cost more than checking them.
fn normalize_in_place(value: &mut Value, path: &mut String) -> Result<(), FieldError> {
    match value {
        Value::String(s) if !is_normal_text(s) => *s = nfc(s.trim()).into_owned(),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                normalize_in_place(item, path)?;
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            if map.keys().all(|k| is_normal_text(k)) {
                for (key, member) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    normalize_in_place(member, path)?;
                    path.truncate(len);
                }
                map.retain(|_, member| !carries_nothing(member));
            } else {
                // Rare: a key with spaces or in decomposed form. Rebuild the map.
                let mut out = Map::new();
                for (key, mut member) in std::mem::take(map) {
                    let key = nfc(key.trim()).into_owned();
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key);
                    normalize_in_place(&mut member, path)?;
                    if !carries_nothing(&member) && out.insert(key, member).is_some() {
                        return Err(FieldError::of(path.clone(), Problem::DuplicateKey));
                    }
                    path.truncate(len);
                }
                *map = out;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Normalizes, validates and hashes one record. Returns every problem at once.
pub fn prepare_record(raw: Value, today: CivilDate) -> Result<PreparedRecord, Vec<FieldError>> {
    let value = normalize(raw).map_err(|e| vec![e])?;
    let facts = validate_record(&value, today)?;
    // Normal form already has every string and key in NFC, so the JCS step
    // alone gives the canonical bytes.
    let canonical = jcs(&value).map_err(|e| {
        vec![FieldError::of(
            "(record)",
            Problem::InvalidJson {
                detail: e.to_string(),
            },
        )]
    })?;
    let hash = hash_canonical(&canonical);
    Ok(PreparedRecord {
        kind: facts.key.kind,
        storage_key: facts.key.storage_key(),
        key: facts.key,
        supersedes: facts.supersedes,
        canonical,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_trims_nfcs_and_drops_empty_members() {
        let v = json!({
            " kind ": "birth",
            "child": {"full_name": "  Nguye\u{302}\u{303}n Va\u{306}n An ", "hometown": "", "x": null},
            "father": {"full_name": "  "},
            "scans": [],
            "register": {"year": 1998}
        });
        let n = normalize(v).unwrap();
        assert_eq!(
            n,
            json!({"kind": "birth", "child": {"full_name": "Nguyễn Văn An"}, "register": {"year": 1998}})
        );
    }

    #[test]
    fn a_former_communes_book_is_its_own_natural_key_and_old_keys_are_unchanged() {
        let mut key = NaturalKey {
            commune_code: "00004".into(),
            kind: RecordKind::Birth,
            year: 1998,
            book: "1".into(),
            entry: 5,
            former_commune_code: None,
        };
        assert_eq!(key.storage_key(), "00004/birth/1998/1/5");
        key.former_commune_code = Some("00123".into());
        assert_eq!(key.storage_key(), "00004:00123/birth/1998/1/5");
        assert!(key.to_string().contains("former commune 00123"), "{key}");
    }

    #[test]
    fn normalize_reports_keys_that_collide() {
        let v = json!({"child": {"full_name": "A", " full_name": "B"}});
        let err = normalize(v).unwrap_err();
        assert_eq!(err.field, "child.full_name");
    }
}
