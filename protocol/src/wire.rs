//! Wire types of API v1 (JSON over HTTP). Every field added after v1 must be
//! `#[serde(default)]` so that an older peer's messages still parse, and no
//! type here denies unknown fields, so that a newer peer's messages do too.
//! Examples of each message are in `protocol/README.md`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::hash::{ChainHash, ContentHash};
use crate::time::Timestamp;

pub const UPLOAD_PATH: &str = "/api/v1/upload";

/// The highest journal sequence number either side accepts: 2^53, what every
/// store (SQLite and PostgreSQL integers, JSON numbers read as doubles)
/// holds exactly.
pub const MAX_SEQ: u64 = 1 << 53;
pub const HAVE_PATH: &str = "/api/v1/have";
pub const CHAIN_PATH: &str = "/api/v1/chain";
pub const HEARTBEAT_PATH: &str = "/api/v1/heartbeat";
pub const WHOAMI_PATH: &str = "/api/v1/whoami";
/// `GET /api/v1/journal?from=SEQ&limit=N`: the calling agent's journal as
/// the server holds it, for `recover`; needs a recovery code in
/// [`RECOVERY_HEADER`] besides the token.
pub const JOURNAL_PATH: &str = "/api/v1/journal";
pub const RECOVERY_HEADER: &str = "x-hotich-recovery";
/// `GET /api/v1/blobs/{sha256}`: how much of a page scan the server holds
/// for the calling agent ([`BlobStatus`]); `PATCH` with `?offset=N&length=L`
/// appends the body (a chunk, its SHA-256 in [`CHUNK_SHA256_HEADER`]) at
/// byte N of a scan of L bytes. The scan becomes visible only once all L
/// bytes hash to its name.
pub const BLOBS_PATH: &str = "/api/v1/blobs";
pub const CHUNK_SHA256_HEADER: &str = "x-chunk-sha256";
/// The largest page scan either side takes.
pub const MAX_BLOB_BYTES: u64 = 50 * 1024 * 1024;
/// The largest chunk of a scan in one request.
pub const MAX_BLOB_CHUNK: usize = 1024 * 1024;

/// What the server holds of one scan for the calling agent's commune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// Bytes committed so far (the whole length once complete).
    pub offset: u64,
    /// Stored, checked against its hash, and visible.
    #[serde(default)]
    pub complete: bool,
}

/// `POST /api/v1/attachments`: scans found after their record was entered (a
/// page scanned later), attached to the record by its content hash. The
/// record's own hash does not change: this is not a correction.
pub const ATTACHMENTS_PATH: &str = "/api/v1/attachments";

/// Attachments per request, at most.
pub const MAX_ATTACHMENTS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentsRequest {
    pub attachments: Vec<Attachment>,
}

/// One scan attached to one record of the calling agent's commune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The content hash of the record the scan belongs to.
    pub record: ContentHash,
    pub scan: crate::record::ScanRef,
    /// When the official attached it on the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_at: Option<Timestamp>,
    /// The record's seq in the sending agent's journal: the server finds the
    /// record through that entry's link. Without it (an older agent) the
    /// server reads the commune's records in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentsResponse {
    /// One per attachment, in order.
    pub results: Vec<AttachmentResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentResult {
    /// Stored (now or before).
    Stored,
    /// The commune holds no record with this hash (yet): send it again
    /// after the record.
    UnknownRecord,
    /// Not a scan this server takes (size, media type): not sent again.
    Refused,
}

/// Entries per journal page, at most.
pub const JOURNAL_PAGE_MAX: usize = 2000;

/// A page of the calling agent's journal, in order of `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPage {
    pub entries: Vec<JournalEntry>,
    /// The server holds entries 1..=contiguous_seq of this journal.
    pub contiguous_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub hash: ContentHash,
    /// The chain hash of this entry, as the agent sent it.
    pub chain: ChainHash,
    /// Stored centrally (as this agent's record or another's); otherwise
    /// refused, and `record` is the content as it was sent.
    pub stored: bool,
    /// The record's canonical JSON (absent if the server never had it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// `POST /api/v1/upload`: consecutive journal entries of the calling agent.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadRequest {
    pub entries: Vec<UploadEntry>,
}

/// One journal entry. The server recomputes the content hash from `record`
/// and the chain hash from `prev`, `seq` and the content hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadEntry {
    /// The agent's journal sequence number, from 1.
    pub seq: u64,
    /// `sha256(canonical(record))` as the agent computed it.
    pub hash: ContentHash,
    /// The chain hash of entry `seq - 1`. Omitted when the previous element
    /// of the same batch is entry `seq - 1`: the server then uses that
    /// element's chain hash, which keeps 32 incompressible bytes per entry
    /// off a slow link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<ChainHash>,
    /// When the record entered the agent's journal (the PC's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entered_at: Option<Timestamp>,
    /// The record in canonical form, sent as is.
    pub record: Box<RawValue>,
    /// Who entered it, from the office's list of officials (not part of
    /// the record or its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<String>,
    /// Why, for a correction (`supersedes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_reason: Option<String>,
}

/// The answer to an upload: one result per entry, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub results: Vec<EntryResult>,
    /// The centre's signed acknowledgement of this batch (absent from
    /// servers before receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// `GET /api/v1/receipt-key`: the public key receipts are signed with.
pub const RECEIPT_KEY_PATH: &str = "/api/v1/receipt-key";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptKey {
    /// Ed25519 public key, hex.
    pub public_key: String,
}

/// What the centre acknowledged of one batch: an Ed25519 signature over
/// [`receipt_digest`] of (agent, first and last seq, the chain hash of the
/// last entry). The chain hash covers every entry before it, so one
/// signature per batch vouches for all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub agent_id: i64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub chain: ChainHash,
    /// Ed25519 signature, hex (64 bytes).
    pub signature: String,
}

/// The 32 bytes a receipt signs.
pub fn receipt_digest(agent_id: i64, first_seq: u64, last_seq: u64, chain: &ChainHash) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"hotich-receipt-v1\0");
    h.update(agent_id.to_be_bytes());
    h.update(first_seq.to_be_bytes());
    h.update(last_seq.to_be_bytes());
    h.update(chain.as_bytes());
    h.finalize().into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryResult {
    pub seq: u64,
    pub status: EntryStatus,
    /// Why a record was rejected, in words an official can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `conflict`: the hash the server holds for the same natural key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<ContentHash>,
    /// For `rejected`: each problem with its field, code and values, so the
    /// agent can word it in the official's language (`reason` joins them in
    /// English).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<crate::validate::FieldError>,
}

impl EntryResult {
    pub fn new(seq: u64, status: EntryStatus) -> Self {
        EntryResult {
            seq,
            status,
            reason: None,
            existing: None,
            errors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Newly stored.
    Stored,
    /// The server already held this exact content (sent before, or by another agent).
    Duplicate,
    /// The record is refused; `reason` says why. Sending it again will not help.
    Rejected,
    /// The server holds different content for the same book entry; `existing` names it.
    Conflict,
    /// A status added by a newer server; the agent retries such entries later.
    #[serde(other)]
    Unknown,
}

impl EntryStatus {
    /// Whether the server now holds the record.
    pub fn is_held(self) -> bool {
        matches!(self, EntryStatus::Stored | EntryStatus::Duplicate)
    }
}

/// `POST /api/v1/have`: which of these records does the server lack?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaveRequest {
    pub hashes: Vec<ContentHash>,
    /// The calling agent's journal sequence numbers of those records, in the
    /// same order (optional): the server then also says which of them it has
    /// no chain link for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seqs: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaveResponse {
    /// The subset of the asked hashes that the server does not hold.
    pub lacking: Vec<ContentHash>,
    /// Of the asked `seqs`, those the server holds no link for from this
    /// agent (e.g. the agent was registered again under a new token): the
    /// agent sends them again so that its chain is whole at the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlinked: Vec<u64>,
    /// The calling agent's chain as the server holds it.
    pub chain: ChainState,
}

/// `GET /api/v1/chain`: how much of the calling agent's journal the server holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChainState {
    /// The server has seen every entry 1..=contiguous_seq.
    pub contiguous_seq: u64,
    /// Chain hash of entry `contiguous_seq` (absent when it is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<ChainHash>,
    /// The highest sequence number seen, contiguous or not.
    #[serde(default)]
    pub highest_seq: u64,
    /// Integrity alerts recorded for this agent (gaps, rewrites, forks).
    #[serde(default)]
    pub alerts: u64,
}

/// `POST /api/v1/heartbeat`: the agent's own view, for the district dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    pub sent_at: Timestamp,
    #[serde(default)]
    pub agent_version: String,
    #[serde(default)]
    pub journal_seq: u64,
    #[serde(default)]
    pub pending: u64,
    #[serde(default)]
    pub acked: u64,
    #[serde(default)]
    pub parked: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<Timestamp>,
    /// The class of the last error (`connect`, `unauthorized`, ...: the
    /// agent's `ApiError::kind`), so the dashboard can group failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_kind: Option<String>,
    /// The last warnings and errors of the agent's log, newest last, so IT
    /// staff can read them without going to the commune.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<LogLine>,
    /// Free space on the data directory's disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_disk_bytes: Option<u64>,
    /// Size of the journal (database and its WAL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_bytes: Option<u64>,
    /// The journal's random id: two PCs sharing one token send two ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Refused entries an official dismissed since the last heartbeat the
    /// server took (they stay in the agent's journal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dismissed: Vec<Dismissal>,
}

/// A refused journal entry an official closed as never to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dismissal {
    pub seq: u64,
    /// The entry's content hash, hex.
    pub hash: String,
    pub reason: String,
    pub at: Timestamp,
}

/// At most this many log lines travel in a heartbeat.
pub const HEARTBEAT_WARNINGS: usize = 20;
/// A log line in a heartbeat is cut to this many characters.
pub const HEARTBEAT_WARNING_CHARS: usize = 300;

/// One line of an agent's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: Timestamp,
    /// `WARN` or `ERROR`.
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub server_time: Timestamp,
}

/// `GET /api/v1/whoami`: who the server takes this token for, so that
/// `init` and `doctor` can confirm the token, the commune and the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub agent_id: i64,
    pub commune: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The province's official name (not its code), for people to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// The server's clock, for the agent to measure its own against.
    pub server_time: Timestamp,
    #[serde(default)]
    pub server_version: String,
    /// How many of this agent's journal entries the server holds (1..=n
    /// without a gap): a new PC set up with the token of a journal that
    /// had already sent records must not start numbering from 1 again.
    #[serde(default)]
    pub journal_seq: u64,
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `unauthorized`, `body_too_large`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// Whether the same request may succeed later.
    #[serde(default)]
    pub retryable: bool,
    /// With [`AGENT_TOO_OLD`]: the oldest agent version the server accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<String>,
}

/// The error code of a server that refuses this agent's version.
pub const AGENT_TOO_OLD: &str = "agent_too_old";

/// The agent's name and version as it sends them in `User-Agent`.
pub const AGENT_PRODUCT: &str = "hotich-agent";

/// A release version `MAJOR.MINOR.PATCH` (a `-pre` or `+build` tail is
/// ignored), comparable, for the server's oldest accepted agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let mut next = || -> Option<u64> {
            let p = parts.next()?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let v = Version(next()?, next()?, next()?);
        parts.next().is_none().then_some(v)
    }

    /// The version in a `User-Agent` of the form `hotich-agent/1.2.3`.
    pub fn from_user_agent(user_agent: &str) -> Option<Version> {
        user_agent.split_whitespace().find_map(|product| {
            let (name, version) = product.split_once('/')?;
            (name == AGENT_PRODUCT).then(|| Version::parse(version))?
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_and_fields_from_newer_peers_parse() {
        let r: UploadResponse = serde_json::from_str(
            r#"{"results":[{"seq":1,"status":"quarantined","note":"x"}],"server_build":"9"}"#,
        )
        .unwrap();
        assert_eq!(r.results[0].status, EntryStatus::Unknown);
        let c: ChainState = serde_json::from_str(r#"{"contiguous_seq":4}"#).unwrap();
        assert_eq!(c.highest_seq, 0);
        let h: Heartbeat = serde_json::from_str(r#"{"sent_at":"2026-11-27T00:00:00Z"}"#).unwrap();
        assert_eq!(h.pending, 0);
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(Version::parse("0.10.2"), Some(Version(0, 10, 2)));
        assert!(Version::parse("0.10.0") > Version::parse("0.9.9"));
        assert_eq!(Version::parse("1.2.3-rc1"), Some(Version(1, 2, 3)));
        for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1..3", "-1.2.3"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Version::from_user_agent("hotich-agent/0.3.1"),
            Some(Version(0, 3, 1))
        );
        assert_eq!(Version::from_user_agent("curl/8.0.0"), None);
    }
}
