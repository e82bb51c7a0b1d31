//! Each commune's sync state, derived from what its agents last said
//! (heartbeats), when they were last heard from (heartbeats and uploads) and
//! what the chain check found (alerts). The dashboard, `/api/v1/status` and
//! `/metrics` all read [`overview`], so they always agree.

use std::collections::BTreeMap;
use std::time::Duration;

use hotich_protocol::Timestamp;
use hotich_protocol::text::fold;
use hotich_protocol::wire::LogLine;
use serde::Serialize;

use crate::provinces;
use crate::store::monitor::{AgentStatusRow, Scope};
use crate::store::{Storage, StoreError};

/// When a commune counts as behind or silent, and how often the dashboard
/// looks again.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Thresholds {
    /// No contact for this long: silent.
    #[serde(rename = "silent_after_secs", serialize_with = "secs")]
    pub silent_after: Duration,
    /// A record waiting this long: behind.
    #[serde(rename = "behind_after_secs", serialize_with = "secs")]
    pub behind_after: Duration,
    /// The dashboard fetches a fresh list this often.
    #[serde(rename = "refresh_secs", serialize_with = "secs")]
    pub refresh: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            silent_after: Duration::from_secs(24 * 3600),
            behind_after: Duration::from_secs(3600),
            refresh: Duration::from_secs(30),
        }
    }
}

/// An integrity alert keeps a commune flagged this long.
pub const ALERT_RECENT: Duration = Duration::from_secs(30 * 24 * 3600);

/// A commune's state, worst first: the order the dashboard sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The chain check found a gap, fork or rewrite, or two PCs share a token.
    Alert,
    /// The agent reports failures and no success since.
    Failing,
    /// Not heard from for longer than [`Thresholds::silent_after`].
    Silent,
    /// Records waiting longer than [`Thresholds::behind_after`].
    Behind,
    /// Registered, never heard from (not installed yet?).
    NeverSeen,
    InSync,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Alert,
        State::Failing,
        State::Silent,
        State::Behind,
        State::NeverSeen,
        State::InSync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Alert => "alert",
            State::Failing => "failing",
            State::Silent => "silent",
            State::Behind => "behind",
            State::NeverSeen => "never_seen",
            State::InSync => "in_sync",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvinceRef {
    pub code: String,
    pub name: String,
}

impl ProvinceRef {
    fn of(code: Option<&str>) -> Option<ProvinceRef> {
        let code = code?;
        Some(ProvinceRef {
            code: code.to_string(),
            name: provinces::by_code(code).map_or_else(|| code.to_string(), |p| p.name.into()),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub kind: Option<String>,
    pub message: String,
    pub at: Option<Timestamp>,
}

/// One agent (one PC) as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: i64,
    pub name: Option<String>,
    pub state: State,
    pub since: Option<Timestamp>,
    pub version: Option<String>,
    pub device: Option<String>,
    pub last_contact_at: Option<Timestamp>,
    pub waiting: u64,
    pub oldest_waiting_at: Option<Timestamp>,
    pub refused: u64,
    pub sent: u64,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<ErrorView>,
    /// The agent's clock minus the server's, when it last reported.
    pub clock_skew_secs: Option<i64>,
    pub free_disk_bytes: Option<u64>,
    pub journal_bytes: Option<u64>,
    pub journal_seq: u64,
    pub server_seq: u64,
    pub alerts: u64,
    pub warnings: Vec<LogLine>,
}

/// One commune: the worst of its agents, and their sums.
#[derive(Debug, Clone, Serialize)]
pub struct CommuneStatus {
    pub commune: String,
    pub name: Option<String>,
    pub province: Option<ProvinceRef>,
    pub area: Option<String>,
    pub state: State,
    pub since: Option<Timestamp>,
    pub waiting: u64,
    pub oldest_waiting_at: Option<Timestamp>,
    pub refused: u64,
    pub last_contact_at: Option<Timestamp>,
    pub last_error: Option<ErrorView>,
    pub records_stored: u64,
    /// Stored records whose page scans are not all stored centrally yet.
    pub records_missing_scans: u64,
    pub alerts: u64,
    pub agents: Vec<AgentView>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Filter {
    pub province: Option<String>,
    pub area: Option<String>,
    pub state: Option<State>,
    /// A commune code, or part of its name (accents and case ignored).
    pub q: Option<String>,
}

impl Filter {
    fn keeps(&self, c: &CommuneStatus) -> bool {
        if let Some(p) = &self.province
            && c.province.as_ref().map(|x| x.code.as_str()) != Some(p.as_str())
        {
            return false;
        }
        if let Some(a) = &self.area
            && c.area.as_deref().map(fold) != Some(fold(a))
        {
            return false;
        }
        if self.state.is_some_and(|s| s != c.state) {
            return false;
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let q = fold(q);
            let name = c.name.as_deref().map(fold).unwrap_or_default();
            if !c.commune.contains(&q) && !name.contains(&q) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub generated_at: Timestamp,
    pub scope: Scope,
    pub thresholds: Thresholds,
    /// Communes per state, over the whole scope (before filtering).
    pub totals: BTreeMap<&'static str, u64>,
    pub records_stored: u64,
    pub waiting: u64,
    pub communes: Vec<CommuneStatus>,
}

fn ago(now: Timestamp, t: Timestamp) -> Duration {
    Duration::from_millis(now.millis().saturating_sub(t.millis()).max(0) as u64)
}

/// One agent's state at `now`.
pub fn agent_view(row: &AgentStatusRow, now: Timestamp, th: &Thresholds) -> AgentView {
    let beat = row.heartbeat.as_ref();
    let last_contact = row.agent.last_seen_at;
    let failing =
        beat.is_some_and(|b| b.last_error_at.is_some() && b.last_error_at > b.last_success_at);
    let oldest = beat.and_then(|b| b.oldest_pending_at);
    let (state, since) = if row
        .last_alert_at
        .is_some_and(|t| ago(now, t) < ALERT_RECENT)
    {
        (State::Alert, row.last_alert_at)
    } else if last_contact.is_none() {
        (State::NeverSeen, Some(row.agent.created_at))
    } else if last_contact.is_some_and(|t| ago(now, t) > th.silent_after) {
        (State::Silent, last_contact)
    } else if failing {
        (
            State::Failing,
            beat.and_then(|b| b.last_success_at.or(b.oldest_pending_at)),
        )
    } else if beat.is_some_and(|b| b.pending > 0)
        && oldest.is_some_and(|t| ago(now, t) > th.behind_after)
    {
        (State::Behind, oldest)
    } else {
        (State::InSync, None)
    };
    AgentView {
        id: row.agent.id,
        name: row.agent.name.clone(),
        state,
        since,
        version: beat
            .map(|b| b.agent_version.clone())
            .filter(|v| !v.is_empty()),
        device: beat.and_then(|b| b.device.clone()),
        last_contact_at: last_contact,
        waiting: beat.map_or(0, |b| b.pending),
        oldest_waiting_at: oldest,
        refused: beat.map_or(0, |b| b.parked),
        sent: beat.map_or(0, |b| b.acked),
        last_success_at: beat.and_then(|b| b.last_success_at),
        last_error: beat.and_then(|b| {
            b.last_error.as_ref().map(|m| ErrorView {
                kind: b.last_error_kind.clone(),
                message: m.clone(),
                at: b.last_error_at,
            })
        }),
        clock_skew_secs: beat
            .zip(row.heartbeat_at)
            .map(|(b, at)| (b.sent_at.millis() - at.millis()) / 1000),
        free_disk_bytes: beat.and_then(|b| b.free_disk_bytes),
        journal_bytes: beat.and_then(|b| b.journal_bytes),
        journal_seq: beat.map_or(0, |b| b.journal_seq),
        server_seq: row.agent.contiguous_seq,
        alerts: row.alerts,
        warnings: beat.map(|b| b.warnings.clone()).unwrap_or_default(),
    }
}

/// Agents grouped into communes, worst first.
pub fn communes(rows: &[AgentStatusRow], now: Timestamp, th: &Thresholds) -> Vec<CommuneStatus> {
    let mut by_commune: BTreeMap<&str, Vec<&AgentStatusRow>> = BTreeMap::new();
    for r in rows {
        by_commune
            .entry(r.agent.commune.as_str())
            .or_default()
            .push(r);
    }
    let mut out: Vec<CommuneStatus> = by_commune
        .into_iter()
        .map(|(commune, rows)| {
            let agents: Vec<AgentView> = rows.iter().map(|r| agent_view(r, now, th)).collect();
            let worst = agents
                .iter()
                .min_by_key(|a| a.state)
                .map(|a| (a.state, a.since));
            let first = rows[0];
            CommuneStatus {
                commune: commune.to_string(),
                name: rows.iter().find_map(|r| r.agent.name.clone()),
                province: ProvinceRef::of(first.agent.province.as_deref()),
                area: rows.iter().find_map(|r| r.agent.area.clone()),
                state: worst.map_or(State::NeverSeen, |w| w.0),
                since: worst.and_then(|w| w.1),
                waiting: agents.iter().map(|a| a.waiting).sum(),
                oldest_waiting_at: agents.iter().filter_map(|a| a.oldest_waiting_at).min(),
                refused: agents.iter().map(|a| a.refused).sum(),
                last_contact_at: agents.iter().filter_map(|a| a.last_contact_at).max(),
                last_error: agents
                    .iter()
                    .filter(|a| a.state == State::Failing)
                    .filter_map(|a| a.last_error.clone())
                    .max_by_key(|e| e.at),
                records_stored: 0,
                records_missing_scans: 0,
                alerts: agents.iter().map(|a| a.alerts).sum(),
                agents,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(a.oldest_waiting_at.cmp(&b.oldest_waiting_at))
            .then(a.commune.cmp(&b.commune))
    });
    out
}

/// Everything the dashboard shows for `scope`, filtered.
pub async fn overview<S: Storage>(
    store: &S,
    scope: &Scope,
    filter: &Filter,
    th: &Thresholds,
) -> Result<Overview, StoreError> {
    let now = Timestamp::now();
    let rows = store.status_rows(scope).await?;
    let all = communes(&rows, now, th);
    let mut totals: BTreeMap<&'static str, u64> =
        State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for c in &all {
        *totals.entry(c.state.as_str()).or_default() += 1;
    }
    let waiting = all.iter().map(|c| c.waiting).sum();
    let counts = store
        .records_per_commune(all.iter().map(|c| c.commune.clone()).collect())
        .await?;
    let records_stored = counts.iter().map(|(_, n)| n).sum();
    let counts: std::collections::HashMap<String, u64> = counts.into_iter().collect();
    let mut communes: Vec<CommuneStatus> = all.into_iter().filter(|c| filter.keeps(c)).collect();
    let missing_scans = store.missing_scan_counts().await?;
    for c in &mut communes {
        c.records_stored = counts.get(&c.commune).copied().unwrap_or(0);
        c.records_missing_scans = missing_scans.get(&c.commune).copied().unwrap_or(0);
    }
    Ok(Overview {
        generated_at: now,
        scope: scope.clone(),
        thresholds: *th,
        totals,
        records_stored,
        waiting,
        communes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AgentInfo;
    use hotich_protocol::wire::Heartbeat;

    const HOUR: i64 = 3600 * 1000;

    fn row(commune: &str, seen: Option<i64>, beat: Option<Heartbeat>) -> AgentStatusRow {
        AgentStatusRow {
            agent: AgentInfo {
                id: 1,
                commune: commune.into(),
                name: Some(format!("UBND xã {commune}")),
                province: Some("66".into()),
                area: None,
                created_at: Timestamp(0),
                revoked_at: None,
                last_seen_at: seen.map(Timestamp),
                contiguous_seq: 0,
                highest_seq: 0,
            },
            heartbeat_at: seen.map(Timestamp),
            heartbeat: beat,
            alerts: 0,
            last_alert_at: None,
        }
    }

    #[test]
    fn each_state_from_what_the_agent_said_and_when() {
        let now = Timestamp(100 * HOUR);
        let th = Thresholds::default();
        let state = |r: &AgentStatusRow| agent_view(r, now, &th).state;
        assert_eq!(state(&row("1", None, None)), State::NeverSeen);
        assert_eq!(state(&row("1", Some(70 * HOUR), None)), State::Silent);
        let ok = Heartbeat {
            last_success_at: Some(Timestamp(99 * HOUR)),
            ..Heartbeat::default()
        };
        assert_eq!(state(&row("1", Some(99 * HOUR), Some(ok))), State::InSync);
        let behind = Heartbeat {
            pending: 5,
            oldest_pending_at: Some(Timestamp(97 * HOUR)),
            last_success_at: Some(Timestamp(99 * HOUR)),
            ..Heartbeat::default()
        };
        assert_eq!(
            state(&row("1", Some(99 * HOUR), Some(behind))),
            State::Behind
        );
        let failing = Heartbeat {
            pending: 5,
            oldest_pending_at: Some(Timestamp(99 * HOUR)),
            last_success_at: Some(Timestamp(90 * HOUR)),
            last_error_at: Some(Timestamp(99 * HOUR)),
            last_error: Some("connection refused".into()),
            ..Heartbeat::default()
        };
        let view = agent_view(&row("1", Some(99 * HOUR), Some(failing)), now, &th);
        assert_eq!(view.state, State::Failing);
        assert_eq!(
            view.since,
            Some(Timestamp(90 * HOUR)),
            "failing since the last success"
        );
        let mut alerted = row("1", Some(99 * HOUR), None);
        alerted.alerts = 1;
        alerted.last_alert_at = Some(Timestamp(98 * HOUR));
        assert_eq!(state(&alerted), State::Alert);
    }

    #[test]
    fn communes_take_their_worst_agent_and_sort_worst_first() {
        let now = Timestamp(100 * HOUR);
        let th = Thresholds::default();
        let rows = vec![
            row("00001", Some(99 * HOUR), Some(Heartbeat::default())),
            row("00002", None, None),
            row("00002", Some(99 * HOUR), Some(Heartbeat::default())),
            row("00003", Some(10 * HOUR), None),
        ];
        let out = communes(&rows, now, &th);
        let states: Vec<(&str, State)> =
            out.iter().map(|c| (c.commune.as_str(), c.state)).collect();
        assert_eq!(
            states,
            vec![
                ("00003", State::Silent),
                ("00002", State::NeverSeen),
                ("00001", State::InSync)
            ]
        );
        let filter = Filter {
            q: Some("xa 00002".into()),
            ..Filter::default()
        };
        assert!(filter.keeps(&out[1]) && !filter.keeps(&out[0]));
    }
}
