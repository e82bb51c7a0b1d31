//! [`MonitorStore`] on PostgreSQL.

use hotich_protocol::Timestamp;
use hotich_protocol::wire::Heartbeat;
use tokio_postgres::Row;

use super::monitor::{
    AgentStatusRow, BeatIn, BookCount, CONTACT_KEEP_MS, Contact, DatedAlert, MonitorStore,
    NewViewer, Scope, Viewer, count_books, history_rows,
};
use super::postgres::{AGENT_COLUMNS, PgStore, agent_from_row};
use super::{StoreError, cap_text};

const VIEWER_COLUMNS: &str = "id, name, province, area, admin, created_at, revoked_at";

fn viewer_from_row(r: &Row) -> Result<Viewer, StoreError> {
    Ok(Viewer {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        province: r.try_get(2)?,
        area: r.try_get(3)?,
        admin: r.try_get(4)?,
        created_at: Timestamp(r.try_get(5)?),
        revoked_at: r.try_get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored heartbeat is not readable: {e}"))
}

impl MonitorStore for PgStore {
    async fn record_heartbeats(&self, beats: Vec<BeatIn>) -> Result<(), StoreError> {
        if beats.is_empty() {
            return Ok(());
        }
        /// An agent's row as this group leaves it.
        struct Current {
            heartbeat: Option<Heartbeat>,
            device: Option<String>,
            contact_at: Option<i64>,
            json: String,
            at: i64,
        }
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        let mut ids: Vec<i64> = beats.iter().map(|b| b.agent_id).collect();
        ids.sort_unstable();
        ids.dedup();
        // Row locks, taken in id order so that two replicas storing
        // overlapping groups wait for each other instead of deadlocking: an
        // agent's history is decided by one of them at a time.
        let locked = tx
            .query(
                "SELECT id, heartbeat, device, contact_at FROM agents
                 WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&ids],
            )
            .await?;
        let mut current = std::collections::HashMap::with_capacity(locked.len());
        for row in locked {
            let old: Option<String> = row.try_get(1)?;
            current.insert(
                row.try_get::<_, i64>(0)?,
                Current {
                    heartbeat: old
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(corrupt)?,
                    device: row.try_get(2)?,
                    contact_at: row.try_get(3)?,
                    json: String::new(),
                    at: 0,
                },
            );
        }
        // Everything is decided here, in arrival order, then written with one
        // statement per table: a group of 500 is a handful of round trips.
        let (mut c_agent, mut c_at, mut c_kind, mut c_detail) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut a_agent, mut a_detail, mut a_at) = (Vec::new(), Vec::new(), Vec::new());
        let mut prune: std::collections::BTreeMap<i64, i64> = Default::default();
        for BeatIn { agent_id, beat, at } in beats {
            let Some(cur) = current.get_mut(&agent_id) else {
                continue;
            };
            let rows = history_rows(
                cur.heartbeat.as_ref(),
                cur.device.as_deref(),
                cur.contact_at,
                &beat,
                at,
            );
            for (kind, detail) in rows.iter() {
                let detail = cap_text(detail);
                if kind == "device" {
                    a_agent.push(agent_id);
                    a_detail.push(detail.clone());
                    a_at.push(at.millis());
                }
                c_agent.push(agent_id);
                c_at.push(at.millis());
                c_kind.push(kind.to_string());
                c_detail.push(detail);
            }
            if !rows.is_empty() {
                cur.contact_at = Some(at.millis());
                prune.insert(agent_id, at.millis() - CONTACT_KEEP_MS);
            }
            if beat.device.is_some() {
                cur.device.clone_from(&beat.device);
            }
            cur.json = serde_json::to_string(&beat).map_err(corrupt)?;
            cur.at = at.millis();
            cur.heartbeat = Some(beat);
        }
        if !c_agent.is_empty() {
            tx.execute(
                "INSERT INTO contacts (agent_id, at, kind, detail)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
                &[&c_agent, &c_at, &c_kind, &c_detail],
            )
            .await?;
        }
        if !a_agent.is_empty() {
            tx.execute(
                "INSERT INTO alerts (agent_id, seq, kind, detail, at)
                 SELECT u.a, NULL, 'two-devices', u.d, u.t
                 FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(a, d, t)",
                &[&a_agent, &a_detail, &a_at],
            )
            .await?;
        }
        if !prune.is_empty() {
            let (p_agent, p_cutoff): (Vec<i64>, Vec<i64>) = prune.into_iter().unzip();
            tx.execute(
                "DELETE FROM contacts c USING unnest($1::bigint[], $2::bigint[]) AS u(id, cutoff)
                 WHERE c.agent_id = u.id AND c.at < u.cutoff",
                &[&p_agent, &p_cutoff],
            )
            .await?;
        }
        let (mut u_id, mut u_json, mut u_at, mut u_device, mut u_contact) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for id in ids {
            if let Some(cur) = current.remove(&id).filter(|cur| cur.at != 0) {
                u_id.push(id);
                u_json.push(cur.json);
                u_at.push(cur.at);
                u_device.push(cur.device);
                u_contact.push(cur.contact_at);
            }
        }
        tx.execute(
            "UPDATE agents a SET heartbeat = u.hb, heartbeat_at = u.at, last_seen_at = u.at,
                 device = u.device, contact_at = u.contact
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])
                 AS u(id, hb, at, device, contact)
             WHERE a.id = u.id",
            &[&u_id, &u_json, &u_at, &u_device, &u_contact],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn status_rows(&self, scope: &Scope) -> Result<Vec<AgentStatusRow>, StoreError> {
        let mut conn = self.get().await?;
        let client = conn.client()?;
        let mut alerts: std::collections::HashMap<i64, (u64, i64)> = Default::default();
        for row in client
            .query(
                "SELECT agent_id, count(*), max(at) FROM alerts GROUP BY agent_id",
                &[],
            )
            .await?
        {
            let n: i64 = row.try_get(1)?;
            alerts.insert(row.try_get(0)?, (n as u64, row.try_get(2)?));
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {AGENT_COLUMNS}, heartbeat, heartbeat_at FROM agents
                     WHERE revoked_at IS NULL AND ($1::text IS NULL OR province = $1) ORDER BY commune, id"
                ),
                &[&scope.province],
            )
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let agent = agent_from_row(&r)?;
            if !scope.contains(agent.province.as_deref(), agent.area.as_deref()) {
                continue;
            }
            let heartbeat: Option<String> = r.try_get(10)?;
            let heartbeat = heartbeat
                .as_deref()
                .map(serde_json::from_str::<Heartbeat>)
                .transpose()
                .map_err(corrupt)?;
            let (count, last) = alerts.get(&agent.id).copied().unwrap_or((0, 0));
            out.push(AgentStatusRow {
                heartbeat,
                heartbeat_at: r.try_get::<_, Option<i64>>(11)?.map(Timestamp),
                alerts: count,
                last_alert_at: (count > 0).then_some(Timestamp(last)),
                agent,
            });
        }
        Ok(out)
    }

    async fn records_per_commune(
        &self,
        communes: Vec<String>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut conn = self.get().await?;
        let found: std::collections::HashMap<String, i64> = conn
            .client()?
            .query(
                "SELECT commune, records FROM commune_records WHERE commune = ANY($1)",
                &[&communes],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(communes
            .into_iter()
            .map(|c| {
                let n = found.get(&c).copied().unwrap_or(0) as u64;
                (c, n)
            })
            .collect())
    }

    async fn commune_history(
        &self,
        commune: &str,
        limit: i64,
    ) -> Result<(Vec<Contact>, Vec<DatedAlert>), StoreError> {
        let mut conn = self.get().await?;
        let client = conn.client()?;
        let contacts = client
            .query(
                "SELECT c.agent_id, c.at, c.kind, c.detail FROM contacts c JOIN agents a ON a.id = c.agent_id
                 WHERE a.commune = $1 ORDER BY c.at DESC, c.id DESC LIMIT $2",
                &[&commune, &limit],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Contact {
                    agent_id: r.try_get(0)?,
                    at: Timestamp(r.try_get(1)?),
                    kind: r.try_get(2)?,
                    detail: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let alerts = client
            .query(
                "SELECT l.agent_id, l.at, l.seq, l.kind, l.detail FROM alerts l JOIN agents a ON a.id = l.agent_id
                 WHERE a.commune = $1 ORDER BY l.at DESC, l.id DESC LIMIT $2",
                &[&commune, &limit],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DatedAlert {
                    agent_id: r.try_get(0)?,
                    at: Timestamp(r.try_get(1)?),
                    seq: r.try_get::<_, Option<i64>>(2)?.map(|s| s as u64),
                    kind: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((contacts, alerts))
    }

    async fn book_counts(&self, commune: &str) -> Result<Vec<BookCount>, StoreError> {
        let mut conn = self.get().await?;
        let keys: Vec<String> = conn
            .client()?
            .query(
                "SELECT nat_key FROM records WHERE commune = $1",
                &[&commune],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(count_books(keys.iter().map(String::as_str)))
    }

    async fn add_viewer(&self, viewer: NewViewer) -> Result<Viewer, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                &format!(
                    "INSERT INTO viewers (name, password_hash, province, area, admin, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING
                     RETURNING {VIEWER_COLUMNS}"
                ),
                &[
                    &viewer.name,
                    &viewer.password_hash,
                    &viewer.province,
                    &viewer.area,
                    &viewer.admin,
                    &Timestamp::now().millis(),
                ],
            )
            .await?;
        match row {
            Some(r) => viewer_from_row(&r),
            None => Err(StoreError::Conflict(format!(
                "a viewer named \"{}\" exists already",
                viewer.name
            ))),
        }
    }

    async fn list_viewers(&self) -> Result<Vec<Viewer>, StoreError> {
        let mut conn = self.get().await?;
        conn.client()?
            .query(
                &format!("SELECT {VIEWER_COLUMNS} FROM viewers ORDER BY id"),
                &[],
            )
            .await?
            .iter()
            .map(viewer_from_row)
            .collect()
    }

    async fn revoke_viewer(&self, id: i64) -> Result<bool, StoreError> {
        let mut conn = self.get().await?;
        let tx = conn.client()?.transaction().await?;
        let n = tx
            .execute(
                "UPDATE viewers SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                &[&id, &Timestamp::now().millis()],
            )
            .await?;
        tx.execute("DELETE FROM sessions WHERE viewer_id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn viewer_login(&self, name: &str) -> Result<Option<(Viewer, String)>, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                &format!(
                    "SELECT {VIEWER_COLUMNS}, password_hash FROM viewers WHERE name = $1 AND revoked_at IS NULL"
                ),
                &[&name],
            )
            .await?;
        row.map(|r| Ok((viewer_from_row(&r)?, r.try_get(7)?)))
            .transpose()
    }

    async fn create_session(
        &self,
        token_hash: [u8; 32],
        viewer_id: i64,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        let client = conn.client()?;
        let now = Timestamp::now().millis();
        client
            .execute("DELETE FROM sessions WHERE expires_at < $1", &[&now])
            .await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, viewer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash.as_slice(), &viewer_id, &now, &expires_at.millis()],
            )
            .await?;
        Ok(())
    }

    async fn session_viewer(
        &self,
        token_hash: [u8; 32],
        now: Timestamp,
    ) -> Result<Option<Viewer>, StoreError> {
        let mut conn = self.get().await?;
        let row = conn
            .client()?
            .query_opt(
                "SELECT v.id, v.name, v.province, v.area, v.admin, v.created_at, v.revoked_at
                 FROM sessions s JOIN viewers v ON v.id = s.viewer_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND v.revoked_at IS NULL",
                &[&token_hash.as_slice(), &now.millis()],
            )
            .await?;
        row.map(|r| viewer_from_row(&r)).transpose()
    }

    async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        let mut conn = self.get().await?;
        conn.client()?
            .execute(
                "DELETE FROM sessions WHERE token_hash = $1",
                &[&token_hash.as_slice()],
            )
            .await?;
        Ok(())
    }
}
