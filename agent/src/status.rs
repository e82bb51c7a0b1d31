//! `status`: what is waiting, what went wrong, and when the next try is, in
//! words for the official and as JSON for scripts and district IT.

use hotich_protocol::Timestamp;
use serde::Serialize;

use crate::config::{AgentConfig, DataDir};
use crate::error::AgentError;
use crate::error::JournalError;
use crate::journal::{Access, Counts, ParkedEntry};
use crate::lock::SyncLock;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub data_dir: String,
    pub server: String,
    pub commune: String,
    pub service_running: bool,
    pub journal_entries: u64,
    pub pending: u64,
    pub acked: u64,
    pub parked: u64,
    pub oldest_pending_at: Option<Timestamp>,
    pub oldest_pending_age_secs: Option<i64>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub next_retry_at: Option<Timestamp>,
    pub consecutive_failures: u32,
    /// Whether the server answered at the last attempt (null before any).
    pub server_reachable: Option<bool>,
    pub server_contiguous_seq: Option<u64>,
    pub server_alerts: Option<u64>,
    pub divergence: Option<String>,
    pub parked_entries: Vec<ParkedEntry>,
    /// The journal cannot be used (missing, emptied, replaced): everything
    /// above is then unknown, and `status` exits non-zero.
    pub journal_problem: Option<String>,
}

pub fn gather(data_dir: &DataDir, config: &AgentConfig) -> Result<StatusReport, AgentError> {
    let journal = match data_dir.open_journal(Access::ReadOnly) {
        Ok(j) => j,
        Err(e @ JournalError::Lost { .. }) => {
            return Ok(StatusReport {
                data_dir: data_dir.path().display().to_string(),
                server: config.server.clone(),
                commune: config.commune.clone(),
                service_running: SyncLock::is_held(data_dir.path()),
                journal_entries: 0,
                pending: 0,
                acked: 0,
                parked: 0,
                oldest_pending_at: None,
                oldest_pending_age_secs: None,
                last_attempt_at: None,
                last_success_at: None,
                last_error: None,
                last_error_at: None,
                next_retry_at: None,
                consecutive_failures: 0,
                server_reachable: None,
                server_contiguous_seq: None,
                server_alerts: None,
                divergence: None,
                parked_entries: Vec::new(),
                journal_problem: Some(e.to_string()),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let Counts {
        total,
        pending,
        acked,
        parked,
    } = journal.counts()?;
    let state = journal.sync_state()?;
    let oldest = journal.oldest_pending_at()?;
    let now = Timestamp::now();
    Ok(StatusReport {
        data_dir: data_dir.path().display().to_string(),
        server: config.server.clone(),
        commune: config.commune.clone(),
        service_running: SyncLock::is_held(data_dir.path()),
        journal_entries: total,
        pending,
        acked,
        parked,
        oldest_pending_at: oldest,
        oldest_pending_age_secs: oldest.map(|t| (now.millis() - t.millis()) / 1000),
        last_attempt_at: state.last_attempt_at,
        last_success_at: state.last_success_at,
        last_error: state.last_error,
        last_error_at: state.last_error_at,
        next_retry_at: (state.failures > 0).then_some(state.next_attempt_at),
        consecutive_failures: state.failures,
        server_reachable: state.reachable,
        server_contiguous_seq: state.server_contiguous,
        server_alerts: state.server_alerts,
        divergence: state.divergence,
        parked_entries: journal.parked(20)?,
        journal_problem: None,
    })
}

/// "3 h 5 min", "45 s", "2 days 4 h".
pub fn human_duration(secs: i64) -> String {
    let s = secs.abs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} days {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn when(t: Timestamp, now: Timestamp) -> String {
    let delta = (t.millis() - now.millis()) / 1000;
    let rel = if delta.abs() < 5 {
        "just now".to_string()
    } else if delta >= 0 {
        format!("in {}", human_duration(delta))
    } else {
        format!("{} ago", human_duration(delta))
    };
    format!("{} ({rel})", t.to_vietnam_local())
}

pub fn render(r: &StatusReport) -> String {
    let now = Timestamp::now();
    let mut out = Vec::new();
    out.push(format!("Commune:        {}", r.commune));
    if let Some(problem) = &r.journal_problem {
        out.push(format!("Server:         {}", r.server));
        out.push(format!("JOURNAL PROBLEM: {problem}"));
        out.push(format!("Data directory: {}", r.data_dir));
        return out.join("\n");
    }
    out.push(format!(
        "Server:         {}{}",
        r.server,
        match r.server_reachable {
            Some(true) => " (reachable at the last attempt)",
            Some(false) => " (NOT reachable at the last attempt)",
            None => " (not contacted yet)",
        }
    ));
    out.push(format!(
        "Service:        {}",
        if r.service_running {
            "running"
        } else {
            "not running"
        }
    ));
    out.push(format!(
        "Records:        {} in the journal: {} sent, {} waiting, {} refused by the server",
        r.journal_entries, r.acked, r.pending, r.parked
    ));
    if let Some(t) = r.oldest_pending_at {
        out.push(format!("Oldest waiting: entered {}", when(t, now)));
    }
    out.push(format!(
        "Last success:   {}",
        r.last_success_at
            .map_or("never".to_string(), |t| when(t, now))
    ));
    if let (Some(e), Some(t)) = (&r.last_error, r.last_error_at) {
        out.push(format!("Last error:     {}: {e}", when(t, now)));
    }
    if let Some(t) = r.next_retry_at {
        out.push(format!(
            "Next retry:     {} (after {} failed attempts)",
            when(t, now),
            r.consecutive_failures
        ));
    } else if r.pending == 0 && r.parked == 0 && r.journal_entries > 0 {
        out.push(
            "In sync:        everything in the journal is at the central database".to_string(),
        );
    }
    if let Some(d) = &r.divergence {
        out.push(format!("WARNING:        {d}"));
    }
    if let Some(n) = r.server_alerts.filter(|n| *n > 0) {
        out.push(format!(
            "WARNING:        the server recorded {n} integrity alert(s) for this agent; tell district IT"
        ));
    }
    if !r.parked_entries.is_empty() {
        out.push(String::new());
        out.push(
            "Refused by the server (fix the cause, then run `hotich-agent requeue`):".to_string(),
        );
        for p in &r.parked_entries {
            out.push(format!(
                "  #{} {}: {}",
                p.seq,
                p.source.as_deref().unwrap_or("(no source)"),
                p.reason
            ));
        }
        if r.parked > r.parked_entries.len() as u64 {
            out.push(format!(
                "  … and {} more",
                r.parked - r.parked_entries.len() as u64
            ));
        }
    }
    out.push(format!("Data directory: {}", r.data_dir));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(-185), "3 min");
        assert_eq!(human_duration(11_100), "3 h 5 min");
        assert_eq!(human_duration(187_200), "2 days 4 h");
    }
}
