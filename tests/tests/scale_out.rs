//! Two `hotich-server` replicas on one PostgreSQL database, with agents
//! moved between them mid-sync by the fault proxy (as a load balancer failing
//! over would): nothing lost, nothing stored twice, and either replica shows
//! the same dashboard. Skipped without PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hotich_tests::harness::{Db, FAST_SYNC, assert_export_matches_journal, stderr, wait_until};
use hotich_tests::pg::{TempDatabase, postgres_url};
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent, TestServer};
use serde_json::Value;

/// The communes' rows of `/api/v1/status`, without what is computed at the
/// moment of the request (ages, the clock).
fn dashboard(server: &TestServer, login: &hotich_tests::harness::Login) -> Vec<Value> {
    let answer = server.get_as(login, "/api/v1/status");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let mut rows: Vec<Value> = answer.json()["communes"]
        .as_array()
        .expect("communes")
        .clone();
    for row in &mut rows {
        if let Some(o) = row.as_object_mut() {
            o.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "commune"
                        | "province"
                        | "area"
                        | "state"
                        | "waiting"
                        | "records_stored"
                        | "refused"
                        | "alerts"
                )
            });
        }
    }
    rows
}

#[test]
fn two_replicas_on_one_postgres_lose_and_double_nothing_when_agents_switch_mid_sync() {
    let Some(url) = postgres_url("two_replicas_on_one_postgres") else {
        return;
    };
    let db = TempDatabase::create(&url);
    let shared = db.url.clone();
    let a = TestServer::start_with(Db::Postgres(db), &[]);
    let b = TestServer::start_with(Db::Shared(shared), &[]);
    let replicas = [a.addr, b.addr];

    let communes = [
        ("00004", "Đắk Lắk"),
        ("00005", "Đắk Lắk"),
        ("00101", "Hà Nội"),
        ("00102", "Hà Nội"),
    ];
    let mut agents = Vec::new();
    let mut proxies = Vec::new();
    for (i, (commune, province)) in communes.iter().enumerate() {
        let token = a.add_agent_with(commune, &["--province", province]);
        // Half the agents start on each replica.
        let proxy = FaultProxy::start(replicas[i % 2], Mode::Pass).expect("proxy");
        // Small batches, so that each agent's sync spans many switches.
        let agent = TestAgent::init_with(
            &proxy.url(),
            &token,
            commune,
            &format!("{FAST_SYNC}batch_max = 250\n"),
        );
        let file = agent.dir.path().join("records.jsonl");
        RecordGen::new(40 + i as u64, commune)
            .write_jsonl(&file, 0, 3_000)
            .expect("records");
        let out = agent.import(&file);
        assert!(out.status.success(), "import: {}", stderr(&out));
        agents.push(agent);
        proxies.push(proxy);
    }
    for agent in &mut agents {
        agent.start_service();
    }

    // Move every agent to the other replica every 100 ms, cutting whatever
    // request was under way, until all queues are empty.
    let proxies = Arc::new(proxies);
    let done = Arc::new(AtomicBool::new(false));
    let switcher = {
        let proxies = proxies.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut switches = 0u32;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                for proxy in proxies.iter() {
                    let next = if proxy.upstream() == replicas[0] {
                        replicas[1]
                    } else {
                        replicas[0]
                    };
                    proxy.set_upstream(next);
                }
                switches += 1;
            }
            switches
        })
    };
    let drained = wait_until(Duration::from_secs(240), || {
        agents.iter().all(|agent| agent.pending() == 0)
    });
    done.store(true, Ordering::Relaxed);
    let switches = switcher.join().expect("switcher");
    assert!(
        drained,
        "still waiting: {:?}",
        agents.iter().map(TestAgent::pending).collect::<Vec<_>>()
    );
    assert!(switches >= 3, "agents switched replicas {switches} times");
    for agent in &mut agents {
        assert!(agent.stop_service());
    }

    let refs: Vec<&TestAgent> = agents.iter().collect();
    assert_export_matches_journal(&a, &refs);
    assert_eq!(a.export().len(), 12_000);

    // One dashboard: both replicas read the same rows. Heartbeats are written
    // in groups, so give the last ones a moment to land.
    let viewer = a.add_viewer("it-quoc-gia", &[]);
    let mut last = (Vec::new(), Vec::new());
    let same = wait_until(Duration::from_secs(15), || {
        last = (dashboard(&a, &viewer), dashboard(&b, &viewer));
        last.0 == last.1
            && last.0.len() == 4
            && last.0.iter().all(|row| row["records_stored"] == 3_000)
    });
    assert!(same, "replicas disagree:\n{:#?}\n{:#?}", last.0, last.1);
    for row in &last.0 {
        assert_eq!(row["state"], "in_sync", "{row}");
        assert_eq!(row["waiting"], 0, "{row}");
    }
    // Both replicas took uploads, and between them stored each record once.
    let stored_by = |server: &TestServer| -> u64 {
        let answer = server.get_as(&viewer, "/metrics");
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("hotich_entries_total{outcome=\"stored\"} "))
            .and_then(|n| n.trim().parse().ok())
            .expect("stored counter")
    };
    let (on_a, on_b) = (stored_by(&a), stored_by(&b));
    assert!(on_a > 0 && on_b > 0, "stored on a: {on_a}, on b: {on_b}");
    assert_eq!(on_a + on_b, 12_000);
    let cut: u64 = proxies
        .iter()
        .map(|p| p.counters.connections.load(Ordering::Relaxed))
        .sum();
    assert!(cut > 8, "only {cut} connections: the agents were not moved");

    // And a viewer logged in on one replica is logged in on the other: the
    // sessions live in the database.
    let login = a.post_login(&viewer.name, &viewer.password);
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let page = hotich_tests::http::request(b.addr, "GET", "/", &[("Cookie", &cookie)], b"")
        .expect("dashboard");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("00101"), "{}", page.text());
}
