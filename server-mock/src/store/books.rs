//! Second keyings, third looks and closed books, as each backend keeps them
//! ([`BookStore`]); what they mean (verified, discrepancy, the per-book
//! report) is worked out once, in `crate::books`.

use std::future::Future;

use hotich_protocol::books::{BookClosure, KeyingKind};
use hotich_protocol::{ContentHash, Timestamp};

use super::StoreError;

/// A second keying or a third look, as kept centrally. Rows are only ever
/// added: the same official keying the same content for the same entry
/// twice is one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyingRow {
    pub commune: String,
    pub kind: KeyingKind,
    pub nat_key: String,
    /// Second: the typed record's content hash; confirm: the version of the
    /// first keying confirmed.
    pub hash: ContentHash,
    /// Second: the typed record's canonical text.
    pub record: Option<String>,
    pub official: String,
    pub keyed_at: Timestamp,
    pub agent_id: i64,
}

/// `WHERE` for one commune's rows or all: two spellings, because a
/// condition like `?1 IS NULL OR commune = ?1` keeps the planner from the
/// commune index.
pub(super) fn commune_filter(commune: Option<&str>, column: &str, placeholder: &str) -> String {
    match commune {
        Some(_) => format!("{column} = {placeholder}"),
        None => format!("{placeholder} IS NULL"),
    }
}

pub(super) fn kind_from_sql(text: &str) -> Result<KeyingKind, StoreError> {
    KeyingKind::parse(text).ok_or_else(|| StoreError::Corrupt(format!("keying kind {text:?}")))
}

/// The current version of a book entry and who entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRecord {
    pub hash: ContentHash,
    pub record: String,
    pub official: Option<String>,
}

/// One stored record, for the per-book counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookEntryRow {
    pub nat_key: String,
    pub is_correction: bool,
}

pub trait BookStore: Send + Sync + 'static {
    fn add_keyings(
        &self,
        rows: Vec<KeyingRow>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keyings of `commune` (all communes: `None`), oldest first.
    fn keyings(
        &self,
        commune: Option<&str>,
    ) -> impl Future<Output = Result<Vec<KeyingRow>, StoreError>> + Send;

    /// Declares books closed; a book closed again keeps its latest
    /// declaration (by when it was closed, not when it arrived).
    fn close_books(
        &self,
        agent_id: i64,
        closures: Vec<BookClosure>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn book_closures(
        &self,
        commune: Option<&str>,
    ) -> impl Future<Output = Result<Vec<BookClosure>, StoreError>> + Send;

    /// The current version of each of these book entries the centre holds.
    fn current_records(
        &self,
        nat_keys: Vec<String>,
    ) -> impl Future<Output = Result<Vec<(String, CurrentRecord)>, StoreError>> + Send;

    /// Every stored record's book entry (all communes: `None`).
    fn book_entries(
        &self,
        commune: Option<&str>,
    ) -> impl Future<Output = Result<Vec<BookEntryRow>, StoreError>> + Send;

    /// The content of every entry the centre refused from agents of
    /// `commune`, as the agent sent it, with the sending agent's commune.
    fn refused_entries(
        &self,
        commune: Option<&str>,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;
}
