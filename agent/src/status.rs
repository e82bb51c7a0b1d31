//! `status`: what is waiting, what went wrong, and when the next try is, in
//! words for the official and as JSON for scripts and IT staff.

use hotich_protocol::Timestamp;
use serde::Serialize;

use crate::config::{AgentConfig, DataDir};
use crate::error::AgentError;
use crate::error::JournalError;
use crate::journal::{Access, Counts, ParkedEntry};
use crate::lock::SyncLock;
use crate::{i18n, tr};

/// A record the server (or the agent) refused, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub seq: u64,
    pub hash: String,
    /// Why, in English (for scripts and IT).
    pub reason: String,
    /// Why and what to do, in the reader's language.
    pub message: String,
    /// The problems with codes, when the server gave them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<hotich_protocol::FieldError>,
    pub source: Option<String>,
    pub parked_at: Option<Timestamp>,
    /// For a conflict: the content hash of the version the central database holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub central_hash: Option<String>,
}

impl Refused {
    fn from(p: ParkedEntry) -> Refused {
        let r = crate::sync::Refusal::parse(&p.reason);
        Refused {
            seq: p.seq,
            hash: p.hash,
            message: i18n::refusal(&p.reason),
            central_hash: r.existing.clone(),
            reason: r.text,
            errors: r.errors,
            source: p.source,
            parked_at: p.parked_at,
        }
    }
}

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
    /// `last_error` as kind and values.
    pub last_error_info: Option<crate::client::ErrorInfo>,
    pub parked_entries: Vec<Refused>,
    /// Refused entries closed since: resolved by a correction, or dismissed.
    pub closed: u64,
    pub closed_entries: Vec<crate::journal::ClosedEntry>,
    /// The journal cannot be used (missing, emptied, replaced): everything
    /// above is then unknown, and `status` exits non-zero.
    pub journal_problem: Option<String>,
    /// The upload rate limit (absent when there is none) and the rate in
    /// force now, in kbit/s (absent: unlimited now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_limit: Option<crate::ratelimit::UploadLimit>,
    pub upload_limit_now_kbit_per_s: Option<u64>,
    /// Page scans: waiting, stored centrally, damaged on this PC, and the
    /// records still waiting for theirs (not synced until they are).
    pub scans: crate::journal::ScanCounts,
    /// The first records still waiting for scans, each with all its scans
    /// (named by the record or attached later) and where each stands.
    #[serde(default)]
    pub records_waiting_for_scans: Vec<crate::journal::RecordScans>,
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
                last_error_info: None,
                parked_entries: Vec::new(),
                closed: 0,
                closed_entries: Vec::new(),
                journal_problem: Some(e.to_string()),
                upload_limit: None,
                upload_limit_now_kbit_per_s: None,
                scans: Default::default(),
                records_waiting_for_scans: Vec::new(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let Counts {
        total,
        pending,
        acked,
        parked,
        closed,
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
        last_error_info: state.last_error_info,
        parked_entries: journal.parked(20)?.into_iter().map(Refused::from).collect(),
        closed,
        closed_entries: journal.closed(10)?,
        journal_problem: None,
        upload_limit: (!config.upload_limit.is_off()).then(|| config.upload_limit.clone()),
        upload_limit_now_kbit_per_s: config
            .upload_limit
            .bytes_per_sec_now()
            .map(|b| b * 8 / 1000),
        scans: journal.scan_counts()?,
        records_waiting_for_scans: journal.records_waiting_for_scans(10)?,
    })
}

/// A natural key (`00004:00123/birth/1998/1/20`) as the official reads a
/// book entry: "Khai sinh 1998, quyển 1, số 20".
pub(crate) fn book_entry_text(key: &str) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    let [commune, kind, year, book, entry] = parts.as_slice() else {
        return key.to_string();
    };
    let Some(kind) = hotich_protocol::RecordKind::parse(kind) else {
        return key.to_string();
    };
    let text = tr!(
        "status-book-entry",
        kind = crate::columns::kind_name(kind),
        year = *year,
        book = *book,
        entry = *entry
    );
    match commune.split_once(':') {
        Some((_, former)) => format!("{text} ({})", tr!("status-former-commune", code = former)),
        None => text,
    }
}

/// A duration in words, in the reader's language.
pub fn human_duration(secs: i64) -> String {
    i18n::duration_text(secs)
}

fn when(t: Timestamp, now: Timestamp) -> String {
    let delta = (t.millis() - now.millis()) / 1000;
    let rel = if delta.abs() < 5 {
        tr!("when-now")
    } else if delta >= 0 {
        tr!("when-in", d = human_duration(delta))
    } else {
        tr!("when-ago", d = human_duration(delta))
    };
    format!("{} ({rel})", i18n::time_text(t))
}

/// One line of the report: a labelled value, or text of its own.
enum Line {
    Labelled(String, String),
    Text(String),
}

fn line(label: &str, value: String) -> Line {
    Line::Labelled(label.to_string(), value)
}

/// Labels padded to the longest one, so values line up in any language.
fn lay_out(lines: Vec<Line>) -> String {
    let width = lines
        .iter()
        .filter_map(|l| match l {
            Line::Labelled(label, _) => Some(label.chars().count()),
            Line::Text(_) => None,
        })
        .max()
        .unwrap_or(0);
    lines
        .into_iter()
        .map(|l| match l {
            Line::Labelled(label, value) => {
                let pad = width - label.chars().count();
                format!("{label}:{} {value}", " ".repeat(pad))
            }
            Line::Text(text) => text,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn render(r: &StatusReport) -> String {
    let now = Timestamp::now();
    let mut out = Vec::new();
    out.push(line(&tr!("status-commune"), r.commune.clone()));
    if let Some(problem) = &r.journal_problem {
        out.push(line(&tr!("status-server"), r.server.clone()));
        out.push(line(&tr!("status-journal-problem"), problem.clone()));
        out.push(line(&tr!("status-data-dir"), r.data_dir.clone()));
        return lay_out(out);
    }
    let reach = match r.server_reachable {
        Some(true) => tr!("status-server-reachable"),
        Some(false) => tr!("status-server-unreachable"),
        None => tr!("status-server-not-contacted"),
    };
    out.push(line(
        &tr!("status-server"),
        format!("{} ({reach})", r.server),
    ));
    out.push(line(
        &tr!("status-service"),
        if r.service_running {
            tr!("status-service-running")
        } else {
            tr!("status-service-not-running")
        },
    ));
    out.push(line(
        &tr!("status-records"),
        tr!(
            "status-records-value",
            total = r.journal_entries,
            sent = r.acked,
            waiting = r.pending,
            refused = r.parked
        ),
    ));
    if let Some(t) = r.oldest_pending_at {
        out.push(line(&tr!("status-oldest"), when(t, now)));
    }
    let scans = &r.scans;
    if scans.waiting + scans.stored + scans.damaged > 0 {
        out.push(line(
            &tr!("status-scans"),
            tr!(
                "status-scans-value",
                stored = scans.stored,
                waiting = scans.waiting,
                damaged = scans.damaged,
                records = scans.records_waiting_for_scans
            ),
        ));
        for record in &r.records_waiting_for_scans {
            let scans: Vec<String> = record
                .scans
                .iter()
                .map(|s| {
                    let state = if let Some(problem) = &s.problem {
                        tr!("status-scan-damaged", problem = problem.as_str())
                    } else if s.attachment_unsent {
                        tr!("status-scan-attachment-unsent")
                    } else if s.stored_centrally {
                        tr!("status-scan-stored")
                    } else {
                        tr!("status-scan-waiting")
                    };
                    let via = if s.via == "attachment" {
                        format!(" {}", tr!("status-scan-attached"))
                    } else {
                        String::new()
                    };
                    format!("{}…{via} {state}", &s.sha256[..s.sha256.len().min(12)])
                })
                .collect();
            out.push(Line::Text(format!(
                "    #{} {}: {}",
                record.seq,
                book_entry_text(&record.key),
                scans.join("; ")
            )));
        }
    }
    if let Some(limit) = &r.upload_limit {
        let rate = |kbit: u64| {
            if kbit == 0 {
                tr!("status-upload-unlimited")
            } else {
                format!("{kbit} kbit/s")
            }
        };
        out.push(line(
            &tr!("status-upload-limit"),
            tr!(
                "status-upload-limit-value",
                inside = rate(limit.kbit_per_s),
                days = limit.days.as_str(),
                hours = limit.hours.as_str(),
                outside = rate(limit.outside_kbit_per_s),
                now = rate(r.upload_limit_now_kbit_per_s.unwrap_or(0))
            ),
        ));
    }
    out.push(line(
        &tr!("status-last-success"),
        r.last_success_at
            .map_or(tr!("status-never"), |t| when(t, now)),
    ));
    if let (Some(e), Some(t)) = (&r.last_error, r.last_error_at) {
        out.push(line(
            &tr!("status-last-error"),
            format!(
                "{}: {}",
                when(t, now),
                i18n::error_info(r.last_error_info.as_ref(), e)
            ),
        ));
    }
    if let Some(t) = r.next_retry_at {
        // Only the service retries: without it the stored time means nothing.
        let value = if r.service_running {
            tr!(
                "status-next-retry-value",
                when = when(t, now),
                failures = r.consecutive_failures
            )
        } else {
            tr!("status-next-retry-no-service")
        };
        out.push(line(&tr!("status-next-retry"), value));
    } else if r.pending == 0 && r.parked == 0 && r.journal_entries > 0 {
        out.push(line(&tr!("status-in-sync"), tr!("status-in-sync-value")));
    }
    if r.divergence.is_some() {
        out.push(line(
            &tr!("status-warning"),
            i18n::error_info(
                r.last_error_info.as_ref(),
                r.divergence.as_deref().unwrap_or(""),
            ),
        ));
    }
    if let Some(n) = r.server_alerts.filter(|n| *n > 0) {
        out.push(line(
            &tr!("status-warning"),
            tr!("status-alerts", count = n),
        ));
    }
    if !r.parked_entries.is_empty() {
        out.push(Line::Text(String::new()));
        out.push(Line::Text(tr!("status-refused-header")));
        for p in &r.parked_entries {
            out.push(Line::Text(format!(
                "  #{} {}: {}",
                p.seq,
                p.source.as_deref().unwrap_or("-"),
                p.message
            )));
        }
        if r.parked > r.parked_entries.len() as u64 {
            out.push(Line::Text(format!(
                "  {}",
                tr!(
                    "status-refused-more",
                    count = r.parked - r.parked_entries.len() as u64
                )
            )));
        }
    }
    if !r.closed_entries.is_empty() {
        out.push(Line::Text(String::new()));
        out.push(Line::Text(tr!("status-closed-header", count = r.closed)));
        for c in &r.closed_entries {
            let what = match (&c.resolved_by, &c.dismissed) {
                (Some(by), _) => tr!("status-resolved-by", seq = *by),
                (None, Some(reason)) => tr!("status-dismissed", reason = reason.as_str()),
                (None, None) => String::new(),
            };
            out.push(Line::Text(format!("  #{}: {what}", c.seq)));
        }
        out.push(Line::Text(String::new()));
    }
    out.push(line(&tr!("status-data-dir"), r.data_dir.clone()));
    lay_out(out)
}
