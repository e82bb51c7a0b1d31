//! Shared by the commune agent and the central server: the record model v1,
//! its validation, the canonical form and content hash, the journal chain hash
//! and the wire types of API v1.
//!
//! Nothing here does I/O; both sides must agree on every byte this crate
//! produces, so nothing it computes depends on a feature flag or the
//! platform. The one exception is the `signals` feature: the shutdown future
//! both binaries share, kept here because this is the crate they share.

pub mod books;
pub mod canonical;
pub mod chain;
pub mod hash;
pub mod json;
pub mod record;
#[cfg(feature = "signals")]
pub mod signals;
pub mod text;
pub mod time;
pub mod validate;
pub mod wire;

pub use canonical::{canonical, content_hash, jcs};
pub use chain::{GENESIS, chain_hash};
pub use hash::{ChainHash, ContentHash, Digest32};
pub use json::{JsonError, parse_strict};
pub use record::{
    NaturalKey, PreparedRecord, RecordKind, is_commune_code, normalize, prepare_record,
};
pub use time::{CivilDate, PartialDate, Timestamp};
pub use validate::{FieldError, validate_record};
