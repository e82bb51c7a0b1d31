//! This process's request counters and latencies, for `/metrics` (the
//! per-state gauges there come from the database, see `crate::web`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Routes timed separately; everything else is `other`.
const ROUTES: [&str; 8] = [
    "upload",
    "have",
    "chain",
    "heartbeat",
    "status",
    "dashboard",
    "metrics",
    "other",
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, secs: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }
}

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
    latency: [Histogram; ROUTES.len()],
}

fn route_of(path: &str) -> usize {
    let name = match path {
        "/api/v1/upload" => "upload",
        "/api/v1/have" => "have",
        "/api/v1/chain" => "chain",
        "/api/v1/heartbeat" => "heartbeat",
        "/api/v1/status" => "status",
        "/metrics" => "metrics",
        p if p == "/" || p.starts_with("/commune/") || p.starts_with("/agents") => "dashboard",
        _ => "other",
    };
    ROUTES
        .iter()
        .position(|r| *r == name)
        .unwrap_or(ROUTES.len() - 1)
}

/// Times every request by route.
pub async fn time_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.latency[route].observe(started.elapsed().as_secs_f64());
    response
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
        let mut text = format!(
            "# HELP hotich_upload_requests_total Upload requests answered by this process.\n\
             # TYPE hotich_upload_requests_total counter\n\
             hotich_upload_requests_total {}\n\
             # HELP hotich_entries_total Uploaded journal entries by outcome, in this process.\n\
             # TYPE hotich_entries_total counter\n\
             hotich_entries_total{{outcome=\"stored\"}} {}\n\
             hotich_entries_total{{outcome=\"duplicate\"}} {}\n\
             hotich_entries_total{{outcome=\"rejected\"}} {}\n\
             hotich_entries_total{{outcome=\"conflict\"}} {}\n\
             # HELP hotich_have_requests_total Have/lack questions answered by this process.\n\
             # TYPE hotich_have_requests_total counter\n\
             hotich_have_requests_total {}\n\
             # HELP hotich_heartbeats_total Agent heartbeats received by this process.\n\
             # TYPE hotich_heartbeats_total counter\n\
             hotich_heartbeats_total {}\n\
             # HELP hotich_auth_failures_total Requests refused for a missing, unknown or revoked token.\n\
             # TYPE hotich_auth_failures_total counter\n\
             hotich_auth_failures_total {}\n\
             # HELP hotich_http_request_duration_seconds Time to answer a request, by route.\n\
             # TYPE hotich_http_request_duration_seconds histogram\n",
            get(&self.upload_requests),
            get(&self.entries_stored),
            get(&self.entries_duplicate),
            get(&self.entries_rejected),
            get(&self.entries_conflict),
            get(&self.have_requests),
            get(&self.heartbeats),
            get(&self.auth_failures),
        );
        for (route, h) in ROUTES.iter().zip(&self.latency) {
            for (bound, n) in BUCKETS.iter().zip(&h.buckets) {
                text.push_str(&format!(
                    "hotich_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}\n",
                    get(n)
                ));
            }
            let count = get(&h.count);
            text.push_str(&format!(
                "hotich_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}\n\
                 hotich_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 hotich_http_request_duration_seconds_count{{route=\"{route}\"}} {count}\n",
                get(&h.sum_us) as f64 / 1e6
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_every_bucket_at_or_above_them() {
        let m = Metrics::default();
        m.latency[route_of("/api/v1/upload")].observe(0.03);
        let text = m.render();
        assert!(text.contains("route=\"upload\",le=\"0.025\"} 0"), "{text}");
        assert!(text.contains("route=\"upload\",le=\"0.05\"} 1"), "{text}");
        assert!(
            text.contains("duration_seconds_count{route=\"upload\"} 1"),
            "{text}"
        );
        assert_eq!(route_of("/commune/00004"), route_of("/"));
    }
}
