//! `receipts verify`: checks every receipt the centre gave against this
//! journal and the centre's public key, so a commune can prove what the
//! centre acknowledged.

use std::process::ExitCode;

use ed25519_dalek::{Signature, VerifyingKey};
use hotich_protocol::wire::{Receipt, receipt_digest};
use serde_json::json;

use crate::config::{AgentConfig, DataDir};
use crate::error::AgentError;
use crate::journal::{Access, Journal};
use crate::tr;

/// Why one receipt does not hold, if it does not.
fn problem(
    journal: &Journal,
    key: &VerifyingKey,
    receipt: &Receipt,
) -> Result<Option<String>, AgentError> {
    if receipt.first_seq == 0 || receipt.first_seq > receipt.last_seq {
        return Ok(Some(tr!("receipt-bad-span")));
    }
    match journal.chain_at(receipt.last_seq)? {
        None => return Ok(Some(tr!("receipt-no-entry", seq = receipt.last_seq))),
        Some(chain) if chain != receipt.chain => {
            return Ok(Some(tr!("receipt-chain-differs", seq = receipt.last_seq)));
        }
        Some(_) => {}
    }
    let signature = hex::decode(&receipt.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .map(|b| Signature::from_bytes(&b));
    let digest = receipt_digest(
        receipt.agent_id,
        receipt.first_seq,
        receipt.last_seq,
        &receipt.chain,
    );
    match signature {
        Some(s) if key.verify_strict(&digest, &s).is_ok() => Ok(None),
        _ => Ok(Some(tr!("receipt-bad-signature"))),
    }
}

fn parse_key(hex_key: &str) -> Result<VerifyingKey, AgentError> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| AgentError::Usage(tr!("receipt-bad-key", key = hex_key)))
}

pub(super) fn verify(
    data_dir: &DataDir,
    key: Option<String>,
    json: bool,
) -> Result<ExitCode, AgentError> {
    let config = AgentConfig::load(data_dir)?;
    let key = match key {
        Some(k) => k,
        None => {
            let client = crate::client::ApiClient::new(&config)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| AgentError::io("cannot start the async runtime", e))?;
            runtime.block_on(client.receipt_key())?.public_key
        }
    };
    let key = parse_key(&key)?;
    let journal = data_dir.open_journal(Access::ReadOnly)?;
    let receipts = journal.receipts()?;
    let mut failed = Vec::new();
    let mut covered = 0u64;
    for (id, receipt) in &receipts {
        match problem(&journal, &key, receipt)? {
            None => covered = covered.max(receipt.last_seq),
            Some(why) => failed.push((*id, receipt.clone(), why)),
        }
    }
    if json {
        println!(
            "{}",
            json!({"receipts": receipts.len(), "verified": receipts.len() - failed.len(),
                   "entries_acknowledged_through": covered, "public_key": hex::encode(key.as_bytes()),
                   "failed": failed.iter().map(|(id, r, why)| json!({
                       "receipt": id, "first_seq": r.first_seq, "last_seq": r.last_seq, "problem": why
                   })).collect::<Vec<_>>()})
        );
    } else {
        for (id, r, why) in &failed {
            println!(
                "{}",
                tr!(
                    "receipt-failed",
                    id = *id,
                    first = r.first_seq,
                    last = r.last_seq,
                    problem = why.as_str()
                )
            );
        }
        println!(
            "{}",
            tr!(
                "receipts-summary",
                verified = receipts.len() - failed.len(),
                total = receipts.len(),
                through = covered
            )
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::EXIT_PROBLEMS)
    })
}
