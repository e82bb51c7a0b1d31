//! Receipts: the centre signs what it acknowledged of each batch (see
//! [`hotich_protocol::wire::Receipt`]), so a commune can later prove it. The
//! Ed25519 key lives in the database, so every replica signs with the same
//! one; its public half is published at `/api/v1/receipt-key`.

use ed25519_dalek::{Signer, SigningKey};
use hotich_protocol::ChainHash;
use hotich_protocol::wire::{Receipt, receipt_digest};

use crate::store::{Storage, StoreError};

/// Where the key is kept among the server's secrets.
const KEY_NAME: &str = "receipt-ed25519";

pub struct ReceiptSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("public_key", &self.public_hex())
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// The database's key, made on first use.
    pub async fn load<S: Storage>(store: &S) -> Result<ReceiptSigner, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| StoreError::Task(format!("no randomness for the receipt key: {e}")))?;
        let stored = store.server_secret(KEY_NAME, fresh.to_vec()).await?;
        let secret: [u8; 32] = stored
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("the receipt key is not 32 bytes".into()))?;
        Ok(ReceiptSigner {
            key: SigningKey::from_bytes(&secret),
        })
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    pub fn sign(&self, agent_id: i64, first_seq: u64, last_seq: u64, chain: ChainHash) -> Receipt {
        let digest = receipt_digest(agent_id, first_seq, last_seq, &chain);
        Receipt {
            agent_id,
            first_seq,
            last_seq,
            chain,
            signature: hex::encode(self.key.sign(&digest).to_bytes()),
        }
    }
}
