//! Every problem validation can report, with a stable code and its values,
//! so that each side words it in its own language: the agent renders
//! `code` and `args` through its message catalog (Vietnamese for officials),
//! and the English sentence travels as `reason` for logs, scripts and older
//! peers. A new problem gets a code here and a message in every catalog (a
//! test of the agent checks that).

use std::collections::BTreeMap;
use std::fmt;

/// One problem, before it is tied to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Required,
    UnknownField {
        suggestion: Option<String>,
    },
    NotObject {
        found: &'static str,
    },
    NotList {
        found: &'static str,
    },
    ItemNotObject {
        found: &'static str,
    },
    TooManyItems {
        count: usize,
        max: usize,
    },
    NumberLosesZeros {
        value: String,
    },
    NotText {
        found: &'static str,
    },
    NotWholeNumber {
        found: &'static str,
        value: Option<String>,
    },
    YearOutOfRange {
        year: i64,
        min: i64,
        max: i64,
    },
    EntryOutOfRange {
        entry: i64,
    },
    ImplausibleSize {
        bytes: i64,
    },
    UnknownKind {
        value: String,
    },
    ControlCharacter {
        code: String,
    },
    TooLong {
        chars: usize,
        max: usize,
    },
    NotCommuneCode {
        value: String,
    },
    BadDateFormat {
        value: String,
        partial_allowed: bool,
    },
    NotARealDate {
        value: String,
    },
    DateInFuture {
        date: String,
        today: String,
    },
    DateTooEarly {
        date: String,
        earliest: String,
    },
    NotSex {
        value: String,
    },
    NotPersonalId {
        value: String,
    },
    NotProvinceCode {
        value: String,
        prefix: String,
    },
    NotAHash {
        detail: String,
    },
    MediaType {
        value: String,
        allowed: String,
    },
    /// `field` is before the event (`birth`, `death`, `husband-birth`,
    /// `wife-birth`) given in `other_field`.
    BeforeEvent {
        date: String,
        event: &'static str,
        other_field: String,
        other_date: String,
    },
    ParentBornAfterChild {
        year: i64,
        child_year: i64,
    },
    IdSexMismatch {
        id_says: String,
        record_says: String,
    },
    IdYearMismatch {
        id_year: i64,
        record_year: i64,
    },
    MoreProblems {
        count: usize,
    },
    DuplicateKey,
    RecordTooLarge {
        kb: usize,
        max_kb: usize,
    },
    InvalidJson {
        detail: String,
    },
    NotAnObject {
        found: &'static str,
    },
}

impl Problem {
    /// The stable code (the agent's catalog has `problem-<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::UnknownField { suggestion: None } => "unknown-field",
            Problem::UnknownField {
                suggestion: Some(_),
            } => "unknown-field-near",
            Problem::NotObject { .. } => "not-object",
            Problem::NotList { .. } => "not-list",
            Problem::ItemNotObject { .. } => "item-not-object",
            Problem::TooManyItems { .. } => "too-many-items",
            Problem::NumberLosesZeros { .. } => "number-loses-zeros",
            Problem::NotText { .. } => "not-text",
            Problem::NotWholeNumber { .. } => "not-whole-number",
            Problem::YearOutOfRange { .. } => "year-out-of-range",
            Problem::EntryOutOfRange { .. } => "entry-out-of-range",
            Problem::ImplausibleSize { .. } => "implausible-size",
            Problem::UnknownKind { .. } => "unknown-kind",
            Problem::ControlCharacter { .. } => "control-character",
            Problem::TooLong { .. } => "too-long",
            Problem::NotCommuneCode { .. } => "not-commune-code",
            Problem::BadDateFormat {
                partial_allowed: true,
                ..
            } => "bad-date-format-partial",
            Problem::BadDateFormat { .. } => "bad-date-format",
            Problem::NotARealDate { .. } => "not-a-real-date",
            Problem::DateInFuture { .. } => "date-in-future",
            Problem::DateTooEarly { .. } => "date-too-early",
            Problem::NotSex { .. } => "not-sex",
            Problem::NotPersonalId { .. } => "not-personal-id",
            Problem::NotProvinceCode { .. } => "not-province-code",
            Problem::NotAHash { .. } => "not-a-hash",
            Problem::MediaType { .. } => "media-type",
            Problem::BeforeEvent { .. } => "before-event",
            Problem::ParentBornAfterChild { .. } => "parent-born-after-child",
            Problem::IdSexMismatch { .. } => "id-sex-mismatch",
            Problem::IdYearMismatch { .. } => "id-year-mismatch",
            Problem::MoreProblems { .. } => "more-problems",
            Problem::DuplicateKey => "duplicate-key",
            Problem::RecordTooLarge { .. } => "record-too-large",
            Problem::InvalidJson { .. } => "invalid-json",
            Problem::NotAnObject { .. } => "record-not-object",
        }
    }

    /// The values a message quotes, by name.
    pub fn args(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            a.insert(k.to_string(), v);
        };
        match self {
            Problem::Required | Problem::DuplicateKey => {}
            Problem::UnknownField { suggestion } => {
                if let Some(s) = suggestion {
                    put("suggestion", s.clone());
                }
            }
            Problem::NotObject { found }
            | Problem::NotList { found }
            | Problem::ItemNotObject { found }
            | Problem::NotText { found }
            | Problem::NotAnObject { found } => put("found", (*found).into()),
            Problem::TooManyItems { count, max } => {
                put("count", count.to_string());
                put("max", max.to_string());
            }
            Problem::NumberLosesZeros { value }
            | Problem::UnknownKind { value }
            | Problem::NotCommuneCode { value }
            | Problem::BadDateFormat { value, .. }
            | Problem::NotARealDate { value }
            | Problem::NotSex { value }
            | Problem::NotPersonalId { value } => put("value", value.clone()),
            Problem::NotWholeNumber { found, value } => {
                put("found", (*found).into());
                if let Some(v) = value {
                    put("value", v.clone());
                }
            }
            Problem::YearOutOfRange { year, min, max } => {
                put("year", year.to_string());
                put("min", min.to_string());
                put("max", max.to_string());
            }
            Problem::EntryOutOfRange { entry } => put("entry", entry.to_string()),
            Problem::ImplausibleSize { bytes } => put("bytes", bytes.to_string()),
            Problem::ControlCharacter { code } => put("code", code.clone()),
            Problem::TooLong { chars, max } => {
                put("chars", chars.to_string());
                put("max", max.to_string());
            }
            Problem::DateInFuture { date, today } => {
                put("date", date.clone());
                put("today", today.clone());
            }
            Problem::DateTooEarly { date, earliest } => {
                put("date", date.clone());
                put("earliest", earliest.clone());
            }
            Problem::NotProvinceCode { value, prefix } => {
                put("value", value.clone());
                put("prefix", prefix.clone());
            }
            Problem::NotAHash { detail } | Problem::InvalidJson { detail } => {
                put("detail", detail.clone())
            }
            Problem::MediaType { value, allowed } => {
                put("value", value.clone());
                put("allowed", allowed.clone());
            }
            Problem::BeforeEvent {
                date,
                event,
                other_field,
                other_date,
            } => {
                put("date", date.clone());
                put("event", (*event).into());
                put("other_field", other_field.clone());
                put("other_date", other_date.clone());
            }
            Problem::ParentBornAfterChild { year, child_year } => {
                put("year", year.to_string());
                put("child_year", child_year.to_string());
            }
            Problem::IdSexMismatch {
                id_says,
                record_says,
            } => {
                put("id_says", id_says.clone());
                put("record_says", record_says.clone());
            }
            Problem::IdYearMismatch {
                id_year,
                record_year,
            } => {
                put("id_year", id_year.to_string());
                put("record_year", record_year.to_string());
            }
            Problem::MoreProblems { count } => put("count", count.to_string()),
            Problem::RecordTooLarge { kb, max_kb } => {
                put("kb", kb.to_string());
                put("max_kb", max_kb.to_string());
            }
        }
        a
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("is required"),
            Problem::UnknownField { suggestion: None } => f.write_str("unknown field"),
            Problem::UnknownField {
                suggestion: Some(s),
            } => write!(f, "unknown field (did you mean {s}?)"),
            Problem::NotObject { found } => write!(
                f,
                "must be an object with fields, found {}",
                type_phrase(found)
            ),
            Problem::NotList { found } => {
                write!(f, "must be a list, found {}", type_phrase(found))
            }
            Problem::ItemNotObject { found } => {
                write!(f, "must be an object, found {}", type_phrase(found))
            }
            Problem::TooManyItems { count, max } => {
                write!(f, "has {count} items; at most {max} are allowed")
            }
            Problem::NumberLosesZeros { value } => write!(
                f,
                "must be written as text in quotes (\"{value}\" as a number loses leading zeros)"
            ),
            Problem::NotText { found } => write!(f, "must be text, found {}", type_phrase(found)),
            Problem::NotWholeNumber {
                found,
                value: Some(v),
            } => write!(
                f,
                "must be a whole number, found {} \"{v}\"",
                type_phrase(found)
            ),
            Problem::NotWholeNumber { found, value: None } => {
                write!(f, "must be a whole number, found {}", type_phrase(found))
            }
            Problem::YearOutOfRange { year, min, max } => {
                write!(f, "year {year} is not between {min} and {max}")
            }
            Problem::EntryOutOfRange { entry } => {
                write!(f, "entry number {entry} must be 1 or more")
            }
            Problem::ImplausibleSize { bytes } => {
                write!(f, "{bytes} is not a plausible file size in bytes")
            }
            Problem::UnknownKind { value } => write!(
                f,
                "unknown kind \"{value}\" (expected birth, marriage or death)"
            ),
            Problem::ControlCharacter { code } => {
                write!(f, "contains the control character {code}")
            }
            Problem::TooLong { chars, max } => {
                write!(f, "is {chars} characters long; at most {max} are allowed")
            }
            Problem::NotCommuneCode { value } => {
                write!(
                    f,
                    "\"{value}\" is not a commune code (5 digits, e.g. 00004)"
                )
            }
            Problem::BadDateFormat {
                value,
                partial_allowed: false,
            } => write!(f, "\"{value}\": must be a date written YYYY-MM-DD"),
            Problem::BadDateFormat {
                value,
                partial_allowed: true,
            } => write!(
                f,
                "\"{value}\": must be a date written YYYY-MM-DD (or YYYY-MM, or YYYY when the book gives no more)"
            ),
            Problem::NotARealDate { value } => write!(f, "\"{value}\": {value} is not a real date"),
            Problem::DateInFuture { date, today } => {
                write!(f, "{date} is in the future (today is {today})")
            }
            Problem::DateTooEarly { date, earliest } => write!(f, "{date} is before {earliest}"),
            Problem::NotSex { value } => write!(f, "\"{value}\" is not male or female"),
            Problem::NotPersonalId { value } => {
                write!(f, "\"{value}\" is not a personal id (12 digits)")
            }
            Problem::NotProvinceCode { value, prefix } => write!(
                f,
                "\"{value}\" starts with {prefix}, which is not a province code"
            ),
            Problem::NotAHash { detail } => write!(f, "is not a SHA-256 hash: {detail}"),
            Problem::MediaType { value, allowed } => {
                write!(f, "\"{value}\" is not one of {allowed}")
            }
            Problem::BeforeEvent {
                date,
                event,
                other_field,
                other_date,
            } => {
                let event = match *event {
                    "death" => "the death",
                    "husband-birth" => "the husband's birth",
                    "wife-birth" => "the wife's birth",
                    _ => "the birth",
                };
                write!(f, "{date} is before {event} ({other_field} {other_date})")
            }
            Problem::ParentBornAfterChild { year, child_year } => {
                write!(f, "{year} is not before the child's birth ({child_year})")
            }
            Problem::IdSexMismatch {
                id_says,
                record_says,
            } => write!(
                f,
                "digit 4 says {id_says}, but the record says {record_says}"
            ),
            Problem::IdYearMismatch {
                id_year,
                record_year,
            } => write!(
                f,
                "digits 4-6 say born in {id_year}, but the record says {record_year}"
            ),
            Problem::MoreProblems { count } => write!(f, "… and {count} more problems"),
            Problem::DuplicateKey => {
                f.write_str("appears twice (spelled in two Unicode forms or with spaces)")
            }
            Problem::RecordTooLarge { kb, max_kb } => {
                write!(f, "is {kb} KB; a record is at most {max_kb} KB")
            }
            Problem::InvalidJson { detail } => write!(f, "invalid JSON: {detail}"),
            Problem::NotAnObject { found } => {
                write!(f, "must be a JSON object, found {}", type_phrase(found))
            }
        }
    }
}

/// The English words for a JSON type code (`found` in messages).
pub fn type_phrase(code: &str) -> &'static str {
    match code {
        "null" => "null",
        "boolean" => "true/false",
        "number" => "a number",
        "text" => "text",
        "list" => "a list",
        _ => "an object",
    }
}

/// Every code, for catalogs to be checked against.
pub const CODES: &[&str] = &[
    "required",
    "unknown-field",
    "unknown-field-near",
    "not-object",
    "not-list",
    "item-not-object",
    "too-many-items",
    "number-loses-zeros",
    "not-text",
    "not-whole-number",
    "year-out-of-range",
    "entry-out-of-range",
    "implausible-size",
    "unknown-kind",
    "control-character",
    "too-long",
    "not-commune-code",
    "bad-date-format",
    "bad-date-format-partial",
    "not-a-real-date",
    "date-in-future",
    "date-too-early",
    "not-sex",
    "not-personal-id",
    "not-province-code",
    "not-a-hash",
    "media-type",
    "before-event",
    "parent-born-after-child",
    "id-sex-mismatch",
    "id-year-mismatch",
    "more-problems",
    "duplicate-key",
    "record-too-large",
    "invalid-json",
    "record-not-object",
];
