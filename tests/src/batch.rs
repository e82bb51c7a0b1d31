//! Builds upload batches the way an agent does, for testing the server alone.

use hotich_protocol::wire::{UploadEntry, UploadRequest};
use hotich_protocol::{ChainHash, CivilDate, ContentHash, Timestamp, chain_hash, prepare_record};
use serde_json::Value;
use serde_json::value::RawValue;

pub struct Batch {
    /// The request body, uncompressed JSON.
    pub json: Vec<u8>,
    pub hashes: Vec<ContentHash>,
    /// The chain hash of the last entry: `prev` for the next batch.
    pub last_chain: ChainHash,
}

/// Entries `first_seq..` for `records`, chained from `prev`.
pub fn batch(records: &[Value], first_seq: u64, prev: ChainHash) -> Batch {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut chain = prev;
    let mut entries = Vec::new();
    let mut hashes = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let seq = first_seq + i as u64;
        let p = prepare_record(r.clone(), today)
            .unwrap_or_else(|e| panic!("test record {i} is invalid: {e:?}"));
        entries.push(UploadEntry {
            seq,
            hash: p.hash,
            prev: (i == 0).then_some(chain),
            entered_at: None,
            record: RawValue::from_string(p.canonical.clone()).expect("canonical JSON"),
            official: None,
            correction_reason: None,
        });
        chain = chain_hash(&chain, seq, &p.hash);
        hashes.push(p.hash);
    }
    Batch {
        json: serde_json::to_vec(&UploadRequest { entries }).expect("serialize"),
        hashes,
        last_chain: chain,
    }
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).expect("zstd")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}
