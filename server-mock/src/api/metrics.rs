//! Counters since start, served at `/metrics` in the Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub upload_requests: AtomicU64,
    pub entries_stored: AtomicU64,
    pub entries_duplicate: AtomicU64,
    pub entries_rejected: AtomicU64,
    pub entries_conflict: AtomicU64,
    pub have_requests: AtomicU64,
    pub heartbeats: AtomicU64,
    pub auth_failures: AtomicU64,
}

impl Metrics {
    pub fn count(&self, results: &[hotich_protocol::wire::EntryResult]) {
        use hotich_protocol::wire::EntryStatus;
        for r in results {
            let counter = match r.status {
                EntryStatus::Stored => &self.entries_stored,
                EntryStatus::Duplicate => &self.entries_duplicate,
                EntryStatus::Rejected => &self.entries_rejected,
                EntryStatus::Conflict | EntryStatus::Unknown => &self.entries_conflict,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP hotich_upload_requests_total Upload requests answered.\n\
             # TYPE hotich_upload_requests_total counter\n\
             hotich_upload_requests_total {}\n\
             # HELP hotich_entries_total Uploaded journal entries by outcome.\n\
             # TYPE hotich_entries_total counter\n\
             hotich_entries_total{{outcome=\"stored\"}} {}\n\
             hotich_entries_total{{outcome=\"duplicate\"}} {}\n\
             hotich_entries_total{{outcome=\"rejected\"}} {}\n\
             hotich_entries_total{{outcome=\"conflict\"}} {}\n\
             # HELP hotich_have_requests_total Have/lack questions answered.\n\
             # TYPE hotich_have_requests_total counter\n\
             hotich_have_requests_total {}\n\
             # HELP hotich_heartbeats_total Agent heartbeats received.\n\
             # TYPE hotich_heartbeats_total counter\n\
             hotich_heartbeats_total {}\n\
             # HELP hotich_auth_failures_total Requests refused for a missing, unknown or revoked token.\n\
             # TYPE hotich_auth_failures_total counter\n\
             hotich_auth_failures_total {}\n",
            get(&self.upload_requests),
            get(&self.entries_stored),
            get(&self.entries_duplicate),
            get(&self.entries_rejected),
            get(&self.entries_conflict),
            get(&self.have_requests),
            get(&self.heartbeats),
            get(&self.auth_failures),
        )
    }
}
