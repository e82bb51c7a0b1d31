//! What the dashboard reads and the people who may read it: agents' latest
//! heartbeats, their contact history, records per commune and per book,
//! viewers and their sessions. Both backends implement [`MonitorStore`];
//! how a commune's state is derived from these rows is in `crate::monitor`.

use std::future::Future;

use crate::wording::english;
use hotich_protocol::Timestamp;
use hotich_protocol::wire::Heartbeat;
use serde::Serialize;

use super::{AgentInfo, StoreError};

/// Which communes a viewer may see: a whole province, an area of one
/// (former district or any group IT staff look after), or everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// A province code (`66`); `None` is national.
    pub province: Option<String>,
    /// An area within `province`, compared after folding case and accents.
    pub area: Option<String>,
}

impl Scope {
    pub fn national() -> Scope {
        Scope::default()
    }

    /// Whether an agent registered in `province`/`area` is inside.
    pub fn contains(&self, province: Option<&str>, area: Option<&str>) -> bool {
        use hotich_protocol::text::fold;
        match (&self.province, &self.area) {
            (None, _) => true,
            (Some(p), None) => province == Some(p.as_str()),
            (Some(p), Some(a)) => {
                province == Some(p.as_str()) && area.is_some_and(|x| fold(x) == fold(a))
            }
        }
    }
}

/// An agent with what the dashboard shows about it.
#[derive(Debug, Clone)]
pub struct AgentStatusRow {
    pub agent: AgentInfo,
    pub heartbeat: Option<Heartbeat>,
    pub heartbeat_at: Option<Timestamp>,
    /// Integrity alerts recorded for it, and when the last one was.
    pub alerts: u64,
    pub last_alert_at: Option<Timestamp>,
}

/// One line of an agent's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub agent_id: i64,
    pub at: Timestamp,
    /// `contact` (it was heard from), `error` (it reported a new failure),
    /// `recovered` (it sent again after one), `device` (another PC used its token).
    pub kind: String,
    pub detail: String,
}

/// An alert with its agent and time, for a commune's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatedAlert {
    pub agent_id: i64,
    pub at: Timestamp,
    pub seq: Option<u64>,
    pub kind: String,
    pub detail: String,
}

/// Records stored for one book of one register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookCount {
    pub kind: String,
    pub year: i64,
    pub book: String,
    pub records: u64,
}

/// A person allowed to look at the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Viewer {
    pub id: i64,
    pub name: String,
    pub province: Option<String>,
    pub area: Option<String>,
    /// May register and revoke agents within its scope.
    pub admin: bool,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Viewer {
    pub fn scope(&self) -> Scope {
        Scope {
            province: self.province.clone(),
            area: self.area.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewViewer {
    pub name: String,
    pub password_hash: String,
    pub province: Option<String>,
    pub area: Option<String>,
    pub admin: bool,
}

/// A heartbeat to store, with the time the server received it.
#[derive(Debug, Clone)]
pub struct BeatIn {
    pub agent_id: i64,
    pub beat: Heartbeat,
    pub at: Timestamp,
}

/// A contact row is written at most this often per agent when nothing
/// changed, so the history shows when it was heard from without a row per
/// heartbeat.
pub const CONTACT_EVERY_MS: i64 = 60 * 60 * 1000;
/// History older than this is dropped as new rows arrive.
pub const CONTACT_KEEP_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// What a new heartbeat adds to an agent's history, given the one before:
/// (kind, detail) rows, and whether its device changed.
pub fn history_rows(
    previous: Option<&Heartbeat>,
    previous_device: Option<&str>,
    last_contact_at: Option<i64>,
    beat: &Heartbeat,
    at: Timestamp,
) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    // Dismissed entries stay in the commune's history: the centre knows
    // which refused records will never come, and why.
    for d in &beat.dismissed {
        rows.push((
            "dismissed".to_string(),
            format!("entry #{} ({}): {}", d.seq, d.hash, d.reason),
        ));
    }
    if let (Some(old), Some(new)) = (previous_device, beat.device.as_deref())
        && old != new
    {
        rows.push((
            "device".to_string(),
            english("history-device", &[("old", &old), ("new", &new)]),
        ));
    }
    let new_error = beat.last_error_at.is_some()
        && beat.last_error_at != previous.and_then(|p| p.last_error_at)
        && beat.last_error_at > beat.last_success_at;
    let recovered = previous.is_some_and(|p| p.last_error_at > p.last_success_at)
        && beat.last_success_at > beat.last_error_at;
    if new_error {
        let kind = beat.last_error_kind.as_deref().unwrap_or("error");
        let message = beat.last_error.as_deref().unwrap_or("");
        rows.push((
            "error".to_string(),
            english("history-error", &[("kind", &kind), ("message", &message)]),
        ));
    } else if recovered {
        rows.push(("recovered".to_string(), english("history-recovered", &[])));
    } else if last_contact_at.is_none_or(|t| at.millis() - t >= CONTACT_EVERY_MS) {
        rows.push((
            "contact".to_string(),
            english(
                "history-contact",
                &[("waiting", &beat.pending), ("refused", &beat.parked)],
            ),
        ));
    }
    rows
}

/// What the dashboard needs from a database, besides [`super::Storage`].
pub trait MonitorStore: Send + Sync + 'static {
    /// Stores heartbeats in one transaction (the server groups those that
    /// arrive together); adds history rows and device-change alerts.
    fn record_heartbeats(
        &self,
        beats: Vec<BeatIn>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Active (not revoked) agents inside `scope`, with their last heartbeat.
    fn status_rows(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<AgentStatusRow>, StoreError>> + Send;
    /// Records stored per commune, for the communes given.
    fn records_per_commune(
        &self,
        communes: Vec<String>,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;
    /// A commune's history (newest first, at most `limit`), alerts and books.
    fn commune_history(
        &self,
        commune: &str,
        limit: i64,
    ) -> impl Future<Output = Result<(Vec<Contact>, Vec<DatedAlert>), StoreError>> + Send;
    fn book_counts(
        &self,
        commune: &str,
    ) -> impl Future<Output = Result<Vec<BookCount>, StoreError>> + Send;

    fn add_viewer(
        &self,
        viewer: NewViewer,
    ) -> impl Future<Output = Result<Viewer, StoreError>> + Send;
    fn list_viewers(&self) -> impl Future<Output = Result<Vec<Viewer>, StoreError>> + Send;
    /// Revokes a viewer and ends its sessions; false when there is none.
    fn revoke_viewer(&self, id: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// An active viewer by login name, with its password hash.
    fn viewer_login(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(Viewer, String)>, StoreError>> + Send;
    fn create_session(
        &self,
        token_hash: [u8; 32],
        viewer_id: i64,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The active viewer of an unexpired session.
    fn session_viewer(
        &self,
        token_hash: [u8; 32],
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Viewer>, StoreError>> + Send;
    fn end_session(
        &self,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `00004/birth/1998/1/101` split into its book: (kind, year, book). The
/// book of a former commune (`00004:00123/…`) is named with its code
/// (`00123:1`): two former communes' "book 1" are two books.
pub fn book_of(nat_key: &str) -> Option<(String, i64, String)> {
    let mut parts = nat_key.split('/');
    let commune = parts.next()?;
    let kind = parts.next()?.to_string();
    let year = parts.next()?.parse().ok()?;
    let book = parts.next()?;
    let book = match commune.split_once(':') {
        Some((_, former)) => format!("{former}:{book}"),
        None => book.to_string(),
    };
    Some((kind, year, book))
}

/// Counts records per book from their natural keys.
pub fn count_books<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<BookCount> {
    let mut counts: std::collections::BTreeMap<(String, i64, String), u64> = Default::default();
    for key in keys {
        if let Some(book) = book_of(key) {
            *counts.entry(book).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((kind, year, book), records)| BookCount {
            kind,
            year,
            book,
            records,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(error_at: Option<i64>, success_at: Option<i64>) -> Heartbeat {
        Heartbeat {
            last_error_at: error_at.map(Timestamp),
            last_success_at: success_at.map(Timestamp),
            last_error: error_at.map(|_| "connection refused".into()),
            last_error_kind: error_at.map(|_| "connect".into()),
            ..Heartbeat::default()
        }
    }

    #[test]
    fn history_says_what_changed_and_is_quiet_otherwise() {
        let at = Timestamp(10 * CONTACT_EVERY_MS);
        // First contact ever.
        let rows = history_rows(None, None, None, &beat(None, Some(1)), at);
        assert_eq!(rows[0].0, "contact");
        // Nothing new an hour later: nothing written.
        let rows = history_rows(
            Some(&beat(None, Some(1))),
            None,
            Some(at.millis() - 1000),
            &beat(None, Some(2)),
            at,
        );
        assert!(rows.is_empty(), "{rows:?}");
        // A new failure, then the recovery.
        let failing = beat(Some(5), Some(1));
        let rows = history_rows(
            Some(&beat(None, Some(1))),
            None,
            Some(at.millis()),
            &failing,
            at,
        );
        assert_eq!(rows[0].0, "error");
        assert!(rows[0].1.starts_with("connect: "), "{rows:?}");
        let rows = history_rows(
            Some(&failing),
            None,
            Some(at.millis()),
            &beat(Some(5), Some(9)),
            at,
        );
        assert_eq!(rows[0].0, "recovered");
        // Another PC with the same token.
        let mut other = beat(None, Some(1));
        other.device = Some("b".into());
        let rows = history_rows(None, Some("a"), Some(at.millis()), &other, at);
        assert_eq!(rows[0].0, "device");
    }

    #[test]
    fn scopes_contain_their_own_communes_only() {
        let province = Scope {
            province: Some("66".into()),
            area: None,
        };
        let area = Scope {
            province: Some("66".into()),
            area: Some("Krông Ana".into()),
        };
        assert!(Scope::national().contains(Some("01"), None));
        assert!(province.contains(Some("66"), Some("anything")));
        assert!(!province.contains(Some("01"), None));
        assert!(area.contains(Some("66"), Some("KRONG ANA")));
        assert!(!area.contains(Some("66"), Some("Buôn Đôn")));
        assert!(!area.contains(Some("66"), None));
    }

    #[test]
    fn books_are_counted_from_natural_keys() {
        let keys = [
            "00004/birth/1998/1/1",
            "00004/birth/1998/1/2",
            "00004/death/1998/1/1",
        ];
        let books = count_books(keys.into_iter());
        assert_eq!(books.len(), 2);
        assert_eq!((books[0].kind.as_str(), books[0].records), ("birth", 2));
    }
}
