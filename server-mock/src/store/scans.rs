//! Which page scans each stored record has, whichever way they came (named
//! by the record, or attached to it later), and which of them the server
//! holds for the record's commune: a record is complete centrally only when
//! all its scans are. Both backends implement [`ScanStore`].

use std::collections::HashMap;
use std::future::Future;

use hotich_protocol::wire::{Attachment, AttachmentResult};
use hotich_protocol::{ContentHash, Timestamp};
use serde::Serialize;

use super::StoreError;

/// One scan of one record, as a row of `record_scans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    pub record: ContentHash,
    pub sha256: String,
    pub bytes: i64,
    pub media_type: String,
}

/// The scans a record's canonical text names (none for most records).
pub fn scans_named(record: &ContentHash, canonical: &str) -> Vec<ScanRow> {
    if !canonical.contains("\"scans\":") {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(canonical) else {
        return Vec::new();
    };
    let Some(scans) = value.get("scans").and_then(|s| s.as_array()) else {
        return Vec::new();
    };
    scans
        .iter()
        .filter_map(|s| {
            Some(ScanRow {
                record: *record,
                sha256: s.get("sha256")?.as_str()?.to_string(),
                bytes: s.get("bytes")?.as_i64()?,
                media_type: s.get("media_type")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// A scan of an exported record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordScanInfo {
    pub sha256: String,
    pub bytes: i64,
    pub media_type: String,
    /// Attached after the record was entered (not named by the record).
    pub attached: bool,
    /// The server holds the scan's bytes for the record's commune.
    pub stored: bool,
}

/// A stored record still missing some of its scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingScans {
    pub commune_code: String,
    pub content_hash: ContentHash,
    pub nat_key: String,
    pub agent_id: i64,
    /// All the record's scans, the missing ones with `stored: false`.
    pub scans: Vec<RecordScanInfo>,
}

pub trait ScanStore: Send + Sync + 'static {
    /// Notes the scans attached by an agent of `commune` to its records;
    /// one for a record the commune does not hold is `UnknownRecord` (never
    /// another commune's: one commune must not learn what another holds).
    fn attach_scans(
        &self,
        agent_id: i64,
        commune: &str,
        attachments: Vec<Attachment>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<AttachmentResult>, StoreError>> + Send;

    /// The scan's bytes are stored, checked, for `commune`.
    fn note_scan_held(
        &self,
        commune: &str,
        sha256: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records whose scans are not all held, oldest first, at most `limit`.
    fn records_missing_scans(
        &self,
        commune: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<MissingScans>, StoreError>> + Send;

    /// Per commune, how many records still miss scans (communes with none
    /// are absent).
    fn missing_scan_counts(
        &self,
    ) -> impl Future<Output = Result<HashMap<String, u64>, StoreError>> + Send;

    /// The scans of these records (those with none are absent).
    fn scans_of_records(
        &self,
        records: Vec<ContentHash>,
    ) -> impl Future<Output = Result<HashMap<ContentHash, Vec<RecordScanInfo>>, StoreError>> + Send;
}

/// Groups `(record, scan)` rows, in order, into one entry per record.
pub(super) fn group_missing(
    rows: Vec<(String, ContentHash, String, i64, RecordScanInfo)>,
) -> Vec<MissingScans> {
    let mut out: Vec<MissingScans> = Vec::new();
    for (commune_code, content_hash, nat_key, agent_id, scan) in rows {
        match out.last_mut() {
            Some(last) if last.content_hash == content_hash => last.scans.push(scan),
            _ => out.push(MissingScans {
                commune_code,
                content_hash,
                nat_key,
                agent_id,
                scans: vec![scan],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_are_read_from_the_canonical_record() {
        let h = ContentHash::from_bytes([7; 32]);
        let sha = "ab".repeat(32);
        let text = format!(
            r#"{{"kind":"birth","scans":[{{"bytes":12,"media_type":"image/jpeg","sha256":"{sha}"}}]}}"#
        );
        assert_eq!(
            scans_named(&h, &text),
            vec![ScanRow {
                record: h,
                sha256: sha,
                bytes: 12,
                media_type: "image/jpeg".into()
            }]
        );
        assert!(scans_named(&h, r#"{"kind":"birth"}"#).is_empty());
    }
}
