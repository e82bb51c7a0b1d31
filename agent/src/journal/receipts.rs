//! The centre's receipts: what it acknowledged of each batch, signed, kept
//! so the commune can prove it later (`hotich-agent receipts verify`).

use hotich_protocol::ChainHash;
use hotich_protocol::wire::Receipt;
use rusqlite::params;

use super::Journal;
use crate::error::JournalError;

/// Keeps a receipt; run in the transaction that applies its batch's answers.
pub(super) fn insert(
    conn: &rusqlite::Connection,
    receipt: &Receipt,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO receipts (agent_id, first_seq, last_seq, chain, signature, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        receipt.agent_id,
        receipt.first_seq as i64,
        receipt.last_seq as i64,
        receipt.chain.as_bytes().as_slice(),
        receipt.signature,
        now
    ])
    .map(|_| ())
}

impl Journal {
    /// Every receipt kept, in the order received, with its row id.
    pub fn receipts(&self) -> Result<Vec<(i64, Receipt)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, agent_id, first_seq, last_seq, chain, signature FROM receipts ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, agent_id, first, last, chain, signature) = row.map_err(|e| self.err(e))?;
            // A damaged chain field still yields a receipt: verification says
            // it does not match rather than the whole list failing.
            let chain = ChainHash::from_slice(&chain).unwrap_or(ChainHash::from_bytes([0; 32]));
            out.push((
                id,
                Receipt {
                    agent_id,
                    first_seq: first as u64,
                    last_seq: last as u64,
                    chain,
                    signature,
                },
            ));
        }
        Ok(out)
    }
}
