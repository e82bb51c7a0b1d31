//! Validation of record model v1: every problem of a record at once, each with
//! its field path and a plain reason. Runs on normalized input (see
//! [`crate::record::normalize`]) on both the agent and the server.
//!
//! - `schema`: the fields of each kind, their types and limits;
//! - `checker`: walks a record against the schema;
//! - `personal_id`: the 12-digit id and what its digits say;
//! - `cross_checks`: rules between fields (dates in order, ids that fit);
//! - `suggest`: "did you mean" for misspelt names.

mod checker;
mod cross_checks;
mod personal_id;
mod problem;
mod schema;
mod suggest;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::ContentHash;
use crate::record::{NaturalKey, RecordKind};
use crate::time::CivilDate;

use checker::{Checker, type_name};
use cross_checks::{cross_checks, get_int, get_str};
use schema::{COMMON, schema};

pub use problem::{CODES, Problem, type_phrase};
pub use schema::{
    MAX_ERRORS, MAX_KEY_CHARS, MAX_LIST_ITEMS, MAX_RECORD_BYTES, MEDIA_TYPES,
    always_required_paths, is_integer_field, known_field_paths, shown,
};
pub use suggest::closest;

/// One problem with one field, e.g. `child.date_of_birth: 1998-02-30 is not a real date`.
/// `reason` is the English sentence; `code` and `args` let each side word
/// it in its own language (see [`Problem`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl FieldError {
    /// A problem without a code (said in English only).
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
            code: String::new(),
            args: BTreeMap::new(),
        }
    }

    /// A problem from the catalog of [`Problem`]s.
    pub fn of(field: impl Into<String>, problem: Problem) -> Self {
        FieldError {
            field: field.into(),
            reason: problem.to_string(),
            code: problem.code().to_string(),
            args: problem.args(),
        }
    }

    /// A problem coded elsewhere (the agent's readers, the server).
    pub fn coded(
        field: impl Into<String>,
        code: &str,
        args: BTreeMap<String, String>,
        reason: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
            code: code.to_string(),
            args,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Joins errors into one line, for a server's rejection reason.
pub fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Refuses a record too large to be one, before it is parsed.
pub fn check_record_size(bytes: usize) -> Result<(), FieldError> {
    if bytes > MAX_RECORD_BYTES {
        return Err(FieldError::of(
            "(record)",
            Problem::RecordTooLarge {
                kb: bytes.div_ceil(1024),
                max_kb: MAX_RECORD_BYTES / 1024,
            },
        ));
    }
    Ok(())
}

/// What the rest of the system needs to know about a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFacts {
    pub key: NaturalKey,
    pub supersedes: Option<ContentHash>,
}

/// Checks one normalized record. On success returns its natural key.
pub fn validate_record(record: &Value, today: CivilDate) -> Result<RecordFacts, Vec<FieldError>> {
    let mut c = Checker::new(today);
    let Value::Object(map) = record else {
        return Err(vec![FieldError::of(
            "(record)",
            Problem::NotAnObject {
                found: type_name(record),
            },
        )]);
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .and_then(RecordKind::parse);
    match kind {
        Some(kind) => c.object(map, schema(kind), "", true),
        // Without a kind only the common fields can be checked.
        None => c.object(map, COMMON, "", false),
    }
    if let Some(kind) = kind {
        cross_checks(&mut c, record, kind);
    }
    if !c.errors.is_empty() {
        return Err(c.finish());
    }
    let (Some(kind), Some(commune), Some(year), Some(book), Some(entry)) = (
        kind,
        get_str(record, &["commune_code"]),
        get_int(record, &["register", "year"]),
        get_str(record, &["register", "book"]),
        get_int(record, &["register", "entry"]),
    ) else {
        return Err(vec![FieldError::new(
            "(record)",
            "natural key is incomplete",
        )]);
    };
    let supersedes = get_str(record, &["supersedes"]).and_then(|s| ContentHash::from_hex(s).ok());
    Ok(RecordFacts {
        key: NaturalKey {
            commune_code: commune.to_string(),
            kind,
            year,
            book: book.to_string(),
            entry,
            // The commune's own code there names its own books: the same key.
            former_commune_code: get_str(record, &["register", "former_commune_code"])
                .filter(|former| *former != commune)
                .map(str::to_string),
        },
        supersedes,
    })
}
