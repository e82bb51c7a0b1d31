//! The sync engine under faults, with real processes: hotich-server,
//! hotich-agent and the fault proxy between them. Every test ends by
//! comparing the server's export with the journal: the same set of hashes,
//! no duplicates, nothing missing.

use std::time::{Duration, Instant};

use hotich_tests::harness::{
    Db, FAST_SYNC, assert_export_matches_journal, cpu_time, stderr, stdout, wait_until,
};
use hotich_tests::records::Rng;
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent, TestServer};
use serde_json::Value;

fn import(agent: &TestAgent, seed: u64, from: u64, to: u64) {
    let file = agent.dir.path().join(format!("r{seed}-{from}-{to}.jsonl"));
    RecordGen::new(seed, "00004")
        .write_jsonl(&file, from, to)
        .unwrap();
    let out = agent.import(&file);
    assert!(
        out.status.success(),
        "import: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn wait_drained(agent: &TestAgent, limit: Duration) {
    assert!(
        wait_until(limit, || agent.pending() == 0),
        "still waiting after {limit:?}: {}",
        agent.status()
    );
}

/// a. 10,000 records through a link that cuts every ~64 KB while the server
/// drops 20% of its answers after committing.
#[test]
fn cut_connections_and_lost_answers_lose_and_duplicate_nothing() {
    let server = TestServer::start_with(
        Db::Sqlite,
        &["--chaos-drop-after-commit", "0.2", "--chaos-seed", "11"],
    );
    let proxy = FaultProxy::start(
        server.addr,
        Mode::CutAfter {
            bytes: 64 * 1024,
            jitter: 16 * 1024,
        },
    )
    .unwrap();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&proxy.url(), &token, "00004");
    import(&agent, 1, 0, 10_000);
    agent.start_service();
    wait_drained(&agent, Duration::from_secs(300));
    assert!(
        proxy
            .counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            > 10,
        "the link was cut many times"
    );
    assert!(agent.stop_service());
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 10_000);
    let s = agent.status();
    assert_eq!(
        (
            s["pending"].as_u64(),
            s["acked"].as_u64(),
            s["parked"].as_u64()
        ),
        (Some(0), Some(10_000), Some(0))
    );
}

/// b. The agent is SIGKILLed at random moments during sync, ten times, and
/// restarted each time.
#[test]
fn agent_killed_ten_times_mid_sync_loses_and_duplicates_nothing() {
    let server = TestServer::start();
    // A slow link keeps the sync going long enough to be interrupted.
    let proxy = FaultProxy::start(server.addr, Mode::Latency(Duration::from_millis(40))).unwrap();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&proxy.url(), &token, "00004");
    import(&agent, 2, 0, 10_000);
    let mut rng = Rng::new(5);
    let mut killed_with_work_left = 0;
    for _ in 0..10 {
        agent.start_service();
        std::thread::sleep(Duration::from_millis(200 + rng.below(600)));
        if agent.pending() > 0 {
            killed_with_work_left += 1;
        }
        agent.kill_service();
    }
    assert!(
        killed_with_work_left >= 5,
        "kills must land mid-sync ({killed_with_work_left})"
    );
    proxy.set_mode(Mode::Pass);
    agent.start_service();
    wait_drained(&agent, Duration::from_secs(120));
    assert!(agent.stop_service());
    assert_export_matches_journal(&server, &[&agent]);
    let out = agent.cmd(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// c. The server is killed and restarted in the middle of a sync.
#[test]
fn server_killed_and_restarted_mid_sync() {
    let mut server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(server.addr, Mode::Latency(Duration::from_millis(30))).unwrap();
    let mut agent = TestAgent::init(&proxy.url(), &token, "00004");
    import(&agent, 3, 0, 8_000);
    agent.start_service();
    assert!(
        wait_until(Duration::from_secs(60), || agent.pending() < 7_000),
        "sync started"
    );
    server.kill();
    std::thread::sleep(Duration::from_secs(2));
    let waiting = agent.pending();
    assert!(waiting > 0, "the server died before the end");
    let s = agent.status();
    server.restart();
    wait_drained(&agent, Duration::from_secs(120));
    assert!(agent.stop_service());
    assert_export_matches_journal(&server, &[&agent]);
    assert!(s["pending"].as_u64().unwrap() > 0, "{s}");
}

/// d. A link that goes silent: the agent sleeps (near-zero CPU) and resumes
/// within one backoff period once the link returns.
#[test]
fn blackholed_link_idles_the_agent_and_it_resumes_promptly() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(server.addr, Mode::Pass).unwrap();
    let cap_secs = 2.0;
    let mut agent = TestAgent::init_with(
        &proxy.url(),
        &token,
        "00004",
        &FAST_SYNC.replace("request_timeout_secs = 5.0", "request_timeout_secs = 3.0"),
    );
    import(&agent, 4, 0, 500);
    agent.start_service();
    wait_drained(&agent, Duration::from_secs(60));
    proxy.set_mode(Mode::Blackhole);
    import(&agent, 4, 500, 3_000);
    let pid = agent.service_pid().unwrap();
    // Let it notice the outage, then measure a quiet window.
    std::thread::sleep(Duration::from_secs(4));
    let (cpu0, t0) = (cpu_time(pid).unwrap(), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let (cpu1, window) = (cpu_time(pid).unwrap(), t0.elapsed());
    let used = cpu1 - cpu0;
    eprintln!("agent CPU while offline: {used:?} over {window:?}");
    assert!(
        used.as_secs_f64() < window.as_secs_f64() * 0.03,
        "the offline agent used {used:?} of CPU in {window:?}"
    );
    let waiting = agent.pending();
    assert_eq!(waiting, 2_500, "nothing got through the blackhole");
    let s = agent.status();
    assert!(
        s["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{s}"
    );
    // The link returns: sending resumes within one backoff period.
    proxy.set_mode(Mode::Pass);
    let back = Instant::now();
    assert!(
        wait_until(Duration::from_secs_f64(cap_secs + 3.0), || agent.pending()
            < waiting),
        "no progress {:?} after the link returned: {}",
        back.elapsed(),
        agent.status()
    );
    eprintln!("resumed {:?} after the link returned", back.elapsed());
    wait_drained(&agent, Duration::from_secs(60));
    assert!(agent.stop_service());
    assert_export_matches_journal(&server, &[&agent]);
}

/// e. A record the server refuses is parked with its reason and does not
/// hold back the rest; a correction that names the central version goes through.
#[test]
fn a_refused_record_is_parked_and_the_rest_go_through() {
    let server = TestServer::start();
    // Another PC of the same office already uploaded a different version of entry 42.
    let other_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    let g = RecordGen::new(6, "00004");
    let mut theirs = g.record(42);
    theirs["notes"] = Value::String("digitized on the other PC".into());
    let file = other_pc.dir.path().join("theirs.jsonl");
    std::fs::write(&file, format!("{theirs}\n")).unwrap();
    assert!(other_pc.import(&file).status.success());
    assert!(other_pc.cmd(&["sync"]).status.success());

    let agent = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    import(&agent, 6, 0, 100);
    let out = agent.cmd(&["sync"]);
    // Refused is not "complete": it is said apart and the exit code is 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("99 record(s) stored centrally, 1 refused, 0 waiting")
            && stdout(&out).contains("1 record(s) were not stored"),
        "{}",
        stdout(&out)
    );
    let s = agent.status();
    assert_eq!(
        (
            s["pending"].as_u64(),
            s["acked"].as_u64(),
            s["parked"].as_u64()
        ),
        (Some(0), Some(99), Some(1))
    );
    let parked = &s["parked_entries"][0];
    assert_eq!(parked["seq"], 43);
    assert!(
        parked["reason"].as_str().unwrap().contains("conflict"),
        "{parked}"
    );
    assert!(
        parked["source"].as_str().unwrap().ends_with(":43"),
        "{parked}"
    );
    let text = stdout(&agent.cmd(&["status"]));
    assert!(
        text.contains("Refused by the server") && text.contains("#43"),
        "{text}"
    );
    assert_eq!(
        server.export().len(),
        100,
        "99 of ours and the other PC's version"
    );

    // The official resolves it with a correction of the central version.
    let central = other_pc.journal_hashes()[0].clone();
    let mut fix = g.record(42);
    fix["supersedes"] = Value::String(central);
    fix["correction_reason"] = Value::String("sửa theo sổ gốc".into());
    let fix_file = agent.dir.path().join("fix.jsonl");
    std::fs::write(&fix_file, format!("{fix}\n")).unwrap();
    let out = agent.import(&fix_file);
    assert!(out.status.success(), "{}", stdout(&out));
    let out = agent.cmd(&["sync"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(server.export().len(), 101);
    // The correction closed the refused original: nothing is left to requeue.
    let status = agent.status();
    assert_eq!(status["parked"], 0, "{status}");
    assert_eq!(status["closed_entries"][0]["seq"], 43, "{status}");
    assert_eq!(status["closed_entries"][0]["resolved_by"], 101, "{status}");
    assert!(stdout(&agent.cmd(&["requeue"])).contains("0 refused record(s) put back"));
}

/// Answers lost after commit: when the connection breaks, the agent asks the
/// server about that batch and marks what it holds as sent, without sending
/// it again.
#[test]
fn records_the_server_already_holds_are_not_sent_again() {
    let mut server = TestServer::start_with(Db::Sqlite, &["--chaos-drop-after-commit", "1.0"]);
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    // One batch's worth (the first batch holds up to 250).
    import(&agent, 7, 0, 200);
    let out = agent.cmd(&["sync", "--json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(server.export().len(), 200, "the server committed them");
    assert_eq!(agent.pending(), 0, "the agent asked and found them held");
    let duplicates = |server: &TestServer| -> u64 {
        server
            .metrics()
            .lines()
            .find_map(|l| l.strip_prefix("hotich_entries_total{outcome=\"duplicate\"} "))
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    assert_eq!(duplicates(&server), 0, "nothing was sent twice");
    assert_export_matches_journal(&server, &[&agent]);
    // A lost answer at the start of a round is the reconcile's job, tested
    // with the agent killed mid-sync above and in agent/tests/sync_engine.rs.
    server.restart_with(&[]);
    assert_eq!(server.export().len(), 200);
}

/// The central database is restored from an old backup: what the agent had
/// marked as sent but the server lost is sent again.
#[test]
fn records_a_restored_server_lost_are_sent_again() {
    let mut server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    import(&agent, 8, 0, 200);
    assert!(agent.cmd(&["sync"]).status.success());
    // Back up the central database (server stopped for a consistent copy).
    server.kill();
    let db = std::path::PathBuf::from(&server.database);
    let backup = db.with_extension("backup");
    std::fs::copy(&db, &backup).unwrap();
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::copy(
            db.with_extension(ext),
            backup.with_extension(format!("backup-{ext}")),
        );
    }
    server.restart();
    import(&agent, 8, 200, 500);
    assert!(agent.cmd(&["sync"]).status.success());
    assert_eq!(server.export().len(), 500);
    // Disaster: the server comes back from the old backup.
    server.kill();
    std::fs::copy(&backup, &db).unwrap();
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
        let saved = backup.with_extension(format!("backup-{ext}"));
        if saved.exists() {
            std::fs::copy(saved, db.with_extension(ext)).unwrap();
        }
    }
    server.restart();
    assert_eq!(server.export().len(), 200);
    let out = agent.cmd(&["sync", "--json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reconciled = events.iter().find(|e| e["event"] == "reconciled").unwrap();
    assert_eq!(reconciled["to_resend"], 300, "{events:?}");
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 500);
}

/// `sync --timeout` gives up waiting with a plain reason and a non-zero exit;
/// the records stay in the journal.
#[test]
fn sync_now_gives_up_after_its_timeout_on_a_dead_link() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(server.addr, Mode::Pass).unwrap();
    let agent = TestAgent::init(&proxy.url(), &token, "00004");
    proxy.set_mode(Mode::Blackhole);
    import(&agent, 9, 0, 10);
    let started = Instant::now();
    let out = agent.cmd(&["sync", "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(err.contains("stopped after 2 s"), "{err}");
    assert!(err.contains("Nothing retries by itself"), "{err}");
    assert_eq!(agent.pending(), 10);
    // With the service running, "sync now" goes through it.
    proxy.set_mode(Mode::Pass);
    let mut agent = agent;
    agent.start_service();
    let out = agent.cmd(&["sync", "--timeout", "30"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Sync complete"), "{}", stdout(&out));
    assert_eq!(agent.pending(), 0);
}

/// An agent registered again (a new token, so a new agent at the server):
/// its records are held already, but not its chain. It sends them once, the
/// server answers "duplicate" and records the links, and after that there is
/// nothing left to reconcile.
#[test]
fn an_agent_registered_again_completes_its_chain_once() {
    let server = TestServer::start();
    let agent = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    import(&agent, 10, 0, 300);
    assert!(agent.cmd(&["sync"]).status.success());
    let new_token = server.add_agent("00004");
    let out = agent.cmd(&[
        "init",
        "--server",
        &server.url(),
        "--token",
        &new_token,
        "--commune",
        "00004",
        "--force",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = |out: &std::process::Output| -> Vec<Value> {
        stdout(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let out = agent.cmd(&["sync", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = events(&out);
    let reconciled = first.iter().find(|e| e["event"] == "reconciled").unwrap();
    assert_eq!(reconciled["to_resend"], 300, "{first:?}");
    let out = agent.cmd(&["sync", "--json"]);
    let second = events(&out);
    let reconciled = second.iter().find(|e| e["event"] == "reconciled").unwrap();
    assert_eq!(
        (
            reconciled["to_resend"].as_u64(),
            reconciled["already_held"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(agent.status()["server_contiguous_seq"], 300);
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 300);
}

/// A link down long enough for the backoff to reach minutes comes back: the
/// service notices within seconds (a bare probe while the server cannot be
/// reached) instead of waiting out the backoff.
#[test]
fn a_link_that_comes_back_is_used_within_seconds_not_after_the_backoff() {
    let server = TestServer::start();
    let proxy = FaultProxy::start(server.addr, Mode::Pass).unwrap();
    let token = server.add_agent("00004");
    // After the first failure the next try is at least a minute away
    // (base 10 min, at least a tenth of it).
    let mut agent = TestAgent::init_with(
        &proxy.url(),
        &token,
        "00004",
        "[sync]\nrequest_timeout_secs = 5.0\nconnect_timeout_secs = 2.0\n\
         backoff_base_ms = 600000\nbackoff_cap_secs = 600\ncall_attempts = 1\n\
         idle_recheck_secs = 1\nheartbeat_secs = 2\nprobe_secs = 1\n",
    );
    proxy.set_mode(Mode::Reset);
    import(&agent, 5, 0, 500);
    agent.start_service();
    let mut s = Value::Null;
    assert!(
        wait_until(Duration::from_secs(30), || {
            s = agent.status();
            s["consecutive_failures"].as_u64().is_some_and(|n| n >= 1)
        }),
        "{s}"
    );
    let next_retry = s["next_retry_at"].as_str().expect("a retry is scheduled");
    let wait = hotich_protocol::Timestamp::parse_rfc3339(next_retry)
        .expect("next_retry_at")
        .millis()
        - hotich_protocol::Timestamp::now().millis();
    assert!(wait > 45_000, "the backoff is only {wait} ms: {s}");

    proxy.set_mode(Mode::Pass);
    let back = Instant::now();
    wait_drained(&agent, Duration::from_secs(20));
    assert!(
        back.elapsed() < Duration::from_secs(20),
        "took {:?}",
        back.elapsed()
    );
    assert!(agent.stop_service());
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 500);
}

/// A slow link with no upload limit set: batches stop growing once a request
/// takes a good part of the request timeout, so none times out and goes
/// again in full (with batches doubling blindly, the fourth request here, of
/// 500 records, would outlast the timeout, twice).
#[test]
fn a_slow_link_keeps_batches_small_enough_to_finish_in_time() {
    const RECORDS: u64 = 2000;
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(
        server.addr,
        Mode::Throttle {
            bytes_per_sec: 24_000,
        },
    )
    .unwrap();
    let agent = TestAgent::init_with_flags(
        &proxy.url(),
        &token,
        "00004",
        "[sync]\nrequest_timeout_secs = 2.0\nconnect_timeout_secs = 1.0\n\
         backoff_base_ms = 200\nbackoff_cap_secs = 2\ncall_attempts = 2\n",
        &["--offline"],
    );
    import(&agent, 41, 0, RECORDS);
    agent.sync_ok();
    assert_eq!(agent.pending(), 0, "{}", agent.status());
    assert_export_matches_journal(&server, &[&agent]);
    // About 140 bytes a record go up once in batches this small (284 KB
    // measured); blind doubling timed out twice and sent 430 KB.
    let up = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        up < RECORDS * 180,
        "{up} bytes went up for {RECORDS} records: a request was sent again"
    );
}
