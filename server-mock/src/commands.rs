//! The administrative commands: agents and export.

use std::io::Write;

use serde_json::json;

use crate::auth::{hash_password, new_password, new_token, token_hash};
use crate::config::Database;
use crate::store::monitor::{MonitorStore, NewViewer, Viewer};
use crate::store::scans::ScanStore;
use crate::store::{AgentInfo, NewAgent, Storage, StoreError};
use crate::{AnyStore, ServerError, open_store};

macro_rules! with_store {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            AnyStore::Sqlite($s) => $body,
            AnyStore::Postgres($s) => $body,
        }
    };
}

pub struct AddedAgent {
    pub agent: AgentInfo,
    pub token: String,
}

pub async fn add_agent(
    database: &Database,
    commune: &str,
    name: Option<String>,
    province: Option<String>,
    area: Option<String>,
) -> Result<AddedAgent, ServerError> {
    if !hotich_protocol::is_commune_code(commune) {
        return Err(ServerError::Usage(format!(
            "commune code \"{commune}\" must be 5 digits, e.g. 00004"
        )));
    }
    let store = open_store(database, 1).await?;
    let token = new_token()?;
    let new = NewAgent {
        commune: commune.to_string(),
        name,
        province,
        area,
        token_hash: token_hash(&token),
    };
    let agent = with_store!(&store, s => s.add_agent(new).await)
        .map_err(|e| ServerError::store(database, e))?;
    Ok(AddedAgent { agent, token })
}

pub async fn list_agents(database: &Database) -> Result<Vec<AgentInfo>, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => s.list_agents().await).map_err(|e| ServerError::store(database, e))
}

pub async fn revoke_agent(database: &Database, id: i64) -> Result<bool, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => s.revoke_agent(id).await).map_err(|e| ServerError::store(database, e))
}

/// A one-time recovery code for agent `id` (only its hash is stored).
pub async fn recovery_code(
    database: &Database,
    id: i64,
    hours: u64,
) -> Result<String, ServerError> {
    let store = open_store(database, 1).await?;
    let agents = with_store!(&store, s => s.list_agents().await)
        .map_err(|e| ServerError::store(database, e))?;
    if !agents.iter().any(|a| a.id == id && a.revoked_at.is_none()) {
        return Err(ServerError::Usage(format!(
            "no active agent with id {id} (see `agent list`)"
        )));
    }
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Internal(format!("no randomness available: {e}")))?;
    let code = format!("hrc_{}", hex::encode(bytes));
    let expires = hotich_protocol::Timestamp::now().plus_ms((hours * 3_600_000) as i64);
    with_store!(&store, s => s.add_recovery_code(id, crate::auth::token_hash(&code), expires).await)
        .map_err(|e| ServerError::store(database, e))?;
    Ok(code)
}

/// Writes every stored record (of one commune, or all) as JSON Lines, in
/// the order received. Returns how many were written.
pub async fn export(
    database: &Database,
    commune: Option<&str>,
    out: &mut dyn Write,
) -> Result<u64, ServerError> {
    let store = open_store(database, 1).await?;
    let mut after = 0i64;
    let mut written = 0u64;
    loop {
        let page = with_store!(&store, s => s.export_page(commune, after, 5000).await)
            .map_err(|e| ServerError::store(database, e))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let hashes = page.iter().map(|r| r.content_hash).collect();
        let mut scans = with_store!(&store, s => s.scans_of_records(hashes).await)
            .map_err(|e| ServerError::store(database, e))?;
        let mut page = page;
        for row in &mut page {
            row.scans = scans.remove(&row.content_hash).unwrap_or_default();
        }
        for row in &page {
            let line = serde_json::to_string(row)
                .map_err(|e| ServerError::Internal(format!("record {}: {e}", row.id)))?;
            writeln!(out, "{line}").map_err(|source| ServerError::Io {
                context: "writing the export".into(),
                source,
            })?;
            written += 1;
        }
    }
    out.flush().map_err(|source| ServerError::Io {
        context: "writing the export".into(),
        source,
    })?;
    Ok(written)
}

/// `corrections`: every stored correction with who entered it and why, in
/// the order received.
pub async fn corrections(
    database: &Database,
    commune: Option<&str>,
) -> Result<Vec<serde_json::Value>, ServerError> {
    let store = open_store(database, 1).await?;
    let mut after = 0i64;
    let mut out = Vec::new();
    loop {
        let page = with_store!(&store, s => s.export_page(commune, after, 5000).await)
            .map_err(|e| ServerError::store(database, e))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in page {
            let record: serde_json::Value = serde_json::from_str(row.record.get())
                .map_err(|e| ServerError::Internal(format!("record {}: {e}", row.id)))?;
            let Some(supersedes) = record.get("supersedes").cloned() else {
                continue;
            };
            out.push(json!({
                "commune_code": row.commune_code,
                "content_hash": row.content_hash,
                "supersedes": supersedes,
                "official": row.official,
                "correction_reason": row.correction_reason,
                "agent": row.agent,
                "received_at": row.received_at.to_string(),
            }));
        }
    }
    Ok(out)
}

/// `scans`: stored records still missing page scans, oldest first.
pub async fn missing_scans(
    database: &Database,
    commune: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::store::scans::MissingScans>, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => s.records_missing_scans(commune, limit).await)
        .map_err(|e| ServerError::store(database, e))
}

pub fn agent_json(a: &AgentInfo) -> serde_json::Value {
    json!(a)
}

/// Creates a viewer with a fresh password; returns it with the password.
pub async fn add_viewer(
    database: &Database,
    name: &str,
    province: Option<String>,
    area: Option<String>,
    admin: bool,
) -> Result<(Viewer, String), ServerError> {
    let valid = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if !valid {
        return Err(ServerError::Usage(format!(
            "viewer name \"{name}\": 1 to 64 letters, digits or . _ - @"
        )));
    }
    let store = open_store(database, 1).await?;
    let password = new_password()?;
    let password_hash = hash_password(&password)?;
    let new = NewViewer {
        name: name.to_string(),
        password_hash,
        province,
        area,
        admin,
    };
    let viewer = with_store!(&store, s => s.add_viewer(new).await).map_err(|e| match e {
        StoreError::Conflict(m) => ServerError::Usage(m),
        e => ServerError::store(database, e),
    })?;
    Ok((viewer, password))
}

pub async fn list_viewers(database: &Database) -> Result<Vec<Viewer>, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => s.list_viewers().await).map_err(|e| ServerError::store(database, e))
}

pub async fn revoke_viewer(database: &Database, id: i64) -> Result<bool, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => s.revoke_viewer(id).await).map_err(|e| ServerError::store(database, e))
}

/// `books`: each book's completeness and checks, in book order.
pub async fn books(
    database: &Database,
    commune: Option<&str>,
) -> Result<Vec<hotich_protocol::books::BookReport>, ServerError> {
    let store = open_store(database, 1).await?;
    with_store!(&store, s => crate::books::book_reports(s, commune).await)
        .map_err(|e| ServerError::store(database, e))
}

/// One book's report on one line, for a terminal.
pub fn book_line(b: &hotich_protocol::books::BookReport) -> String {
    let list = |ns: &[u32]| ns.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let mut line = format!("{} {} {} book {}", b.commune_code, b.kind, b.year, b.book);
    if let Some(former) = &b.former_commune_code {
        line.push_str(&format!(" (former commune {former})"));
    }
    match b.declared {
        Some(n) => line.push_str(&format!(": {} of {n} entries captured", b.captured)),
        None => line.push_str(&format!(": {} entries captured, not closed", b.captured)),
    }
    if !b.missing.is_empty() {
        line.push_str(&format!("; never captured: {}", list(&b.missing)));
    }
    if !b.declared_missing.is_empty() {
        let lost: Vec<u32> = b.declared_missing.iter().map(|d| d.entry).collect();
        line.push_str(&format!(
            "; declared lost: {} ({})",
            list(&lost),
            b.declared_missing[0].reason
        ));
    }
    line.push_str(&format!(
        "; verified {}, discrepancies {}, refused {}, corrected {}",
        b.verified, b.discrepancies, b.refused, b.corrected
    ));
    line
}
