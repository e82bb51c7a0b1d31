//! [`MonitorStore`] on SQLite.

use hotich_protocol::Timestamp;
use hotich_protocol::wire::Heartbeat;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::monitor::{
    AgentStatusRow, BeatIn, BookCount, CONTACT_KEEP_MS, Contact, DatedAlert, MonitorStore,
    NewViewer, Scope, Viewer, count_books, history_rows,
};
use super::sqlite::{AGENT_COLUMNS, SqliteStore, agent_from_row};
use super::{StoreError, cap_text};

const VIEWER_COLUMNS: &str = "id, name, province, area, admin, created_at, revoked_at";

fn viewer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Viewer> {
    Ok(Viewer {
        id: r.get(0)?,
        name: r.get(1)?,
        province: r.get(2)?,
        area: r.get(3)?,
        admin: r.get::<_, i64>(4)? != 0,
        created_at: Timestamp(r.get(5)?),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored heartbeat is not readable: {e}"))
}

impl MonitorStore for SqliteStore {
    async fn record_heartbeats(&self, beats: Vec<BeatIn>) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut previous = tx.prepare_cached(
                    "SELECT heartbeat, device, contact_at FROM agents WHERE id = ?1",
                )?;
                let mut update = tx.prepare_cached(
                    "UPDATE agents SET heartbeat = ?2, heartbeat_at = ?3, last_seen_at = ?3,
                         device = coalesce(?4, device), contact_at = coalesce(?5, contact_at)
                     WHERE id = ?1",
                )?;
                let mut contact = tx.prepare_cached(
                    "INSERT INTO contacts (agent_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut prune =
                    tx.prepare_cached("DELETE FROM contacts WHERE agent_id = ?1 AND at < ?2")?;
                let mut alert = tx.prepare_cached(
                    "INSERT INTO alerts (agent_id, seq, kind, detail, at) VALUES (?1, NULL, 'two-devices', ?2, ?3)",
                )?;
                for BeatIn { agent_id, beat, at } in beats {
                    let Some((old, device, contact_at)) = previous
                        .query_row([agent_id], |r| {
                            Ok((
                                r.get::<_, Option<String>>(0)?,
                                r.get::<_, Option<String>>(1)?,
                                r.get::<_, Option<i64>>(2)?,
                            ))
                        })
                        .optional()?
                    else {
                        continue;
                    };
                    let old: Option<Heartbeat> = old
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(corrupt)?;
                    let rows = history_rows(
                        old.as_ref(),
                        device.as_deref(),
                        contact_at,
                        &beat,
                        at,
                    );
                    for (kind, detail) in &rows {
                        let detail = cap_text(detail);
                        contact.execute(params![agent_id, at.millis(), kind, detail])?;
                        if kind == "device" {
                            alert.execute(params![agent_id, detail, at.millis()])?;
                        }
                    }
                    if !rows.is_empty() {
                        prune.execute(params![agent_id, at.millis() - CONTACT_KEEP_MS])?;
                    }
                    let json = serde_json::to_string(&beat).map_err(corrupt)?;
                    update.execute(params![
                        agent_id,
                        json,
                        at.millis(),
                        beat.device,
                        (!rows.is_empty()).then_some(at.millis()),
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn status_rows(&self, scope: &Scope) -> Result<Vec<AgentStatusRow>, StoreError> {
        let scope = scope.clone();
        self.read(move |conn| {
            let mut alerts: std::collections::HashMap<i64, (u64, i64)> = Default::default();
            let mut stmt = conn.prepare_cached(
                "SELECT agent_id, count(*), max(at) FROM alerts GROUP BY agent_id",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })? {
                let (id, n, at) = row?;
                alerts.insert(id, (n as u64, at));
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS}, heartbeat, heartbeat_at FROM agents
                 WHERE revoked_at IS NULL AND (?1 IS NULL OR province = ?1) ORDER BY commune, id"
            ))?;
            let mut out = Vec::new();
            let mut rows = stmt.query([scope.province.as_deref()])?;
            while let Some(r) = rows.next()? {
                let agent = agent_from_row(r)?;
                if !scope.contains(agent.province.as_deref(), agent.area.as_deref()) {
                    continue;
                }
                let heartbeat: Option<String> = r.get(10)?;
                let heartbeat = heartbeat
                    .as_deref()
                    .map(serde_json::from_str::<Heartbeat>)
                    .transpose()
                    .map_err(corrupt)?;
                let (count, last) = alerts.get(&agent.id).copied().unwrap_or((0, 0));
                out.push(AgentStatusRow {
                    heartbeat,
                    heartbeat_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
                    alerts: count,
                    last_alert_at: (count > 0).then_some(Timestamp(last)),
                    agent,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn records_per_commune(
        &self,
        communes: Vec<String>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT records FROM commune_records WHERE commune = ?1")?;
            let mut out = Vec::with_capacity(communes.len());
            for c in communes {
                let n: Option<i64> = stmt.query_row([&c], |r| r.get(0)).optional()?;
                out.push((c, n.unwrap_or(0) as u64));
            }
            Ok(out)
        })
        .await
    }

    async fn commune_history(
        &self,
        commune: &str,
        limit: i64,
    ) -> Result<(Vec<Contact>, Vec<DatedAlert>), StoreError> {
        let commune = commune.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.agent_id, c.at, c.kind, c.detail FROM contacts c JOIN agents a ON a.id = c.agent_id
                 WHERE a.commune = ?1 ORDER BY c.at DESC, c.id DESC LIMIT ?2",
            )?;
            let contacts = stmt
                .query_map(params![commune, limit], |r| {
                    Ok(Contact {
                        agent_id: r.get(0)?,
                        at: Timestamp(r.get(1)?),
                        kind: r.get(2)?,
                        detail: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut stmt = conn.prepare_cached(
                "SELECT l.agent_id, l.at, l.seq, l.kind, l.detail FROM alerts l JOIN agents a ON a.id = l.agent_id
                 WHERE a.commune = ?1 ORDER BY l.at DESC, l.id DESC LIMIT ?2",
            )?;
            let alerts = stmt
                .query_map(params![commune, limit], |r| {
                    Ok(DatedAlert {
                        agent_id: r.get(0)?,
                        at: Timestamp(r.get(1)?),
                        seq: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                        kind: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((contacts, alerts))
        })
        .await
    }

    async fn book_counts(&self, commune: &str) -> Result<Vec<BookCount>, StoreError> {
        let commune = commune.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT nat_key FROM records WHERE commune = ?1")?;
            let keys = stmt
                .query_map([commune], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(count_books(keys.iter().map(String::as_str)))
        })
        .await
    }

    async fn add_viewer(&self, viewer: NewViewer) -> Result<Viewer, StoreError> {
        self.write(move |conn| {
            let now = Timestamp::now().millis();
            let inserted = conn.execute(
                "INSERT INTO viewers (name, password_hash, province, area, admin, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                params![
                    viewer.name,
                    viewer.password_hash,
                    viewer.province,
                    viewer.area,
                    viewer.admin as i64,
                    now
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "a viewer named \"{}\" exists already",
                    viewer.name
                )));
            }
            let id = conn.last_insert_rowid();
            Ok(conn.query_row(
                &format!("SELECT {VIEWER_COLUMNS} FROM viewers WHERE id = ?1"),
                [id],
                viewer_from_row,
            )?)
        })
        .await
    }

    async fn list_viewers(&self) -> Result<Vec<Viewer>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {VIEWER_COLUMNS} FROM viewers ORDER BY id"))?;
            Ok(stmt
                .query_map([], viewer_from_row)?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_viewer(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE viewers SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                params![id, Timestamp::now().millis()],
            )?;
            tx.execute("DELETE FROM sessions WHERE viewer_id = ?1", [id])?;
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    async fn viewer_login(&self, name: &str) -> Result<Option<(Viewer, String)>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {VIEWER_COLUMNS}, password_hash FROM viewers WHERE name = ?1 AND revoked_at IS NULL"
                    ),
                    [name],
                    |r| Ok((viewer_from_row(r)?, r.get::<_, String>(7)?)),
                )
                .optional()?)
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: [u8; 32],
        viewer_id: i64,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let now = Timestamp::now().millis();
            conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
            conn.execute(
                "INSERT INTO sessions (token_hash, viewer_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash.as_slice(), viewer_id, now, expires_at.millis()],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_viewer(
        &self,
        token_hash: [u8; 32],
        now: Timestamp,
    ) -> Result<Option<Viewer>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT v.id, v.name, v.province, v.area, v.admin, v.created_at, v.revoked_at
                     FROM sessions s JOIN viewers v ON v.id = s.viewer_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND v.revoked_at IS NULL",
                    params![token_hash.as_slice(), now.millis()],
                    viewer_from_row,
                )
                .optional()?)
        })
        .await
    }

    async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [token_hash.as_slice()],
            )?;
            Ok(())
        })
        .await
    }
}
