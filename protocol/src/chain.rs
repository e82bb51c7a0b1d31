//! The journal's hash chain.
//!
//! Every journal entry carries `chain = sha256("hotich-chain-v1" || prev || seq || content)`
//! with `seq` as 8 big-endian bytes. Rewriting, removing or reordering any entry
//! changes every chain hash after it, so the agent's `verify` and the central
//! server can both tell a gap or a rewrite from a clean history.

use sha2::{Digest, Sha256};

use crate::hash::{ChainHash, ContentHash};

/// The `prev` of the first entry.
pub const GENESIS: ChainHash = ChainHash(crate::hash::Digest32([0u8; 32]));

const DOMAIN: &[u8] = b"hotich-chain-v1";

pub fn chain_hash(prev: &ChainHash, seq: u64, content: &ContentHash) -> ChainHash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(content.as_bytes());
    ChainHash::from_bytes(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest32;

    #[test]
    fn chain_depends_on_every_input() {
        let a = ContentHash(Digest32::of(b"a"));
        let b = ContentHash(Digest32::of(b"b"));
        let base = chain_hash(&GENESIS, 1, &a);
        assert_ne!(base, chain_hash(&GENESIS, 2, &a));
        assert_ne!(base, chain_hash(&GENESIS, 1, &b));
        assert_ne!(base, chain_hash(&base, 1, &a));
        assert_eq!(base, chain_hash(&GENESIS, 1, &a));
    }
}
