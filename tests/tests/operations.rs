//! Running at 3,300 communes: upgrades refused plainly, the upload rate
//! limit of office hours, a full disk.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hotich_tests::harness::{Db, stderr, stdout};
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent, TestServer};
use serde_json::Value;

#[test]
fn an_agent_older_than_the_server_accepts_is_told_which_version_to_install() {
    let server = TestServer::start_with(Db::Sqlite, &["--min-agent-version", "99.0.0"]);
    let token = server.add_agent("00004");
    let agent = TestAgent::init_offline(&server.url(), &token, "00004");
    let records = agent.dir.path().join("records.jsonl");
    RecordGen::new(7, "00004")
        .write_jsonl(&records, 0, 3)
        .unwrap();
    assert!(agent.import(&records).status.success());

    let sync = agent
        .command()
        .args(["--lang", "en", "sync"])
        .output()
        .unwrap();
    assert!(!sync.status.success());
    let err = stderr(&sync);
    let running = env!("CARGO_PKG_VERSION");
    assert!(
        err.contains("accepts hotich-agent 99.0.0 or newer")
            && err.contains(&format!("this PC runs {running}"))
            && err.contains("Install hotich-agent 99.0.0"),
        "{err}{}",
        stdout(&sync)
    );
    // In Vietnamese too, and nothing was lost: the records still wait.
    let sync_vi = agent.cmd(&["--lang", "vi", "sync"]);
    assert!(
        stderr(&sync_vi).contains("phiên bản 99.0.0 trở lên"),
        "{}",
        stderr(&sync_vi)
    );
    assert_eq!(agent.pending(), 3);
    assert!(server.export().is_empty());

    // `doctor` says the same.
    let doctor = agent
        .command()
        .args(["--lang", "en", "doctor"])
        .output()
        .unwrap();
    assert!(!doctor.status.success());
    assert!(
        stdout(&doctor).contains("99.0.0") || stderr(&doctor).contains("99.0.0"),
        "{}{}",
        stdout(&doctor),
        stderr(&doctor)
    );
}

#[test]
fn an_agent_at_the_minimum_version_syncs() {
    let running = env!("CARGO_PKG_VERSION");
    let server = TestServer::start_with(Db::Sqlite, &["--min-agent-version", running]);
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let records = agent.dir.path().join("records.jsonl");
    RecordGen::new(8, "00004")
        .write_jsonl(&records, 0, 5)
        .unwrap();
    assert!(agent.import(&records).status.success());
    let sync = agent.cmd(&["sync"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert_eq!(server.export().len(), 5);
}

#[test]
fn the_server_refuses_a_minimum_version_it_cannot_read() {
    let out = hotich_tests::harness::run(
        std::process::Command::new(hotich_tests::harness::server_bin()).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "/nonexistent/x.db",
            "--min-agent-version",
            "latest",
        ]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--min-agent-version"),
        "{}",
        stderr(&out)
    );
}

/// The agent's upload rate through the proxy over `window`, in bytes/s.
fn upload_rate(proxy: &FaultProxy, window: Duration) -> f64 {
    let before = proxy.counters.up.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(window);
    let sent = proxy.counters.up.load(Ordering::Relaxed) - before;
    sent as f64 / started.elapsed().as_secs_f64()
}

/// The Vietnam hour now.
fn vietnam_hour() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (secs / 3600 + 7) % 24
}

fn limit_toml(kbit: u64, hours: &str) -> String {
    format!(
        "[sync]\nrequest_timeout_secs = 60.0\nconnect_timeout_secs = 2.0\nbackoff_base_ms = 200\n\
         backoff_cap_secs = 2\nidle_recheck_secs = 1\nheartbeat_secs = 2\n\n\
         [upload_limit]\nkbit_per_s = {kbit}\ndays = \"Mon-Sun\"\nhours = \"{hours}\"\n"
    )
}

#[test]
fn upload_limit_holds_inside_office_hours_and_the_whole_link_is_used_outside() {
    // A 128 kbit/s link (16,000 bytes/s each way); the limit is half of it.
    const LINK: u64 = 16_000;
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(
        server.addr,
        Mode::Throttle {
            bytes_per_sec: LINK,
        },
    )
    .unwrap();
    let mut agent = TestAgent::init_with_flags(
        &proxy.url(),
        &token,
        "00004",
        &limit_toml(64, "00:00-24:00"),
        &["--offline"],
    );
    let records = agent.dir.path().join("records.jsonl");
    RecordGen::new(9, "00004")
        .write_jsonl(&records, 0, 3000)
        .unwrap();
    assert!(agent.import(&records).status.success());

    let status = agent.status();
    assert_eq!(status["upload_limit_now_kbit_per_s"], 64, "{status}");
    let shown = agent.cmd(&["status"]);
    assert!(
        stdout(&shown).contains("Upload limit:") && stdout(&shown).contains("now: 64 kbit/s"),
        "{}",
        stdout(&shown)
    );
    let config = stdout(&agent.cmd(&["config", "show"]));
    assert!(config.contains("kbit_per_s = 64"), "{config}");

    agent.start_service();
    assert!(hotich_tests::harness::wait_until(
        Duration::from_secs(10),
        || proxy.counters.up.load(Ordering::Relaxed) > 8_000
    ));
    let limited = upload_rate(&proxy, Duration::from_secs(10));
    let limit = 64_000.0 / 8.0;
    assert!(
        (limited - limit).abs() <= 0.10 * limit,
        "under a 64 kbit/s limit the agent sent {limited:.0} bytes/s (limit {limit:.0})"
    );
    assert!(agent.pending() > 0, "the test needs records still to send");

    // Outside the window: the whole link.
    assert!(agent.stop_service());
    let hour = vietnam_hour();
    let outside = format!("{:02}:00-{:02}:00", (hour + 2) % 24, (hour + 3) % 24);
    let config_path = agent.data_dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("hours = \"00:00-24:00\"", &format!("hours = \"{outside}\"")),
    )
    .unwrap();
    assert_eq!(agent.status()["upload_limit_now_kbit_per_s"], Value::Null);
    agent.start_service();
    std::thread::sleep(Duration::from_secs(1));
    let unlimited = upload_rate(&proxy, Duration::from_secs(5));
    assert!(
        unlimited >= 0.85 * LINK as f64,
        "outside the window the agent sent {unlimited:.0} bytes/s on a {LINK} bytes/s link"
    );
    eprintln!(
        "upload limit: {limited:.0} B/s under a {limit:.0} B/s limit ({:+.1}%), {unlimited:.0} B/s outside the window on a {LINK} B/s link",
        (limited / limit - 1.0) * 100.0
    );
    // Everything arrives, once (the rest over a fast link, to save time).
    assert!(agent.stop_service());
    proxy.set_mode(Mode::Pass);
    let sync = agent.cmd(&["sync"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert_eq!(server.export().len(), 3000);
}

#[test]
fn settings_come_from_defaults_then_the_file_then_the_environment_then_flags() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_secret_token", "00004");
    let shown = |env: &[(&str, &str)], flags: &[&str]| -> Value {
        let mut c = agent.command();
        c.args(flags).args(["config", "show", "--json"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = hotich_tests::harness::run(&mut c);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The file (FAST_SYNC) sets heartbeat_secs = 2; probe_secs is the default.
    let file = shown(&[], &[]);
    assert_eq!(file["sync"]["heartbeat_secs"], 2);
    assert_eq!(file["sync"]["probe_secs"], 5);
    assert_eq!(file["token"], "hts_***");
    let env = shown(&[("HOTICH_SYNC_HEARTBEAT_SECS", "7")], &[]);
    assert_eq!(env["sync"]["heartbeat_secs"], 7);
    let flag = shown(
        &[("HOTICH_SYNC_HEARTBEAT_SECS", "7")],
        &[
            "--set",
            "sync.heartbeat_secs=9",
            "--set",
            "upload_limit.hours=08:00-12:00",
        ],
    );
    assert_eq!(flag["sync"]["heartbeat_secs"], 9);
    assert_eq!(flag["upload_limit"]["hours"], "08:00-12:00");

    // The text form says where each changed value came from.
    let text = agent
        .command()
        .env("HOTICH_SYNC_HEARTBEAT_SECS", "7")
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(
        stdout(&text).contains("# sync.heartbeat_secs from HOTICH_SYNC_HEARTBEAT_SECS"),
        "{}",
        stdout(&text)
    );
    assert!(!stdout(&text).contains("hts_secret_token"));

    // A bad value is refused at start, naming the key and where it came from.
    for (env, flags, expected) in [
        (
            vec![("HOTICH_SYNC_PROBE_SECS", "soon")],
            vec![],
            "HOTICH_SYNC_PROBE_SECS: sync.probe_secs = \"soon\": must be a whole number",
        ),
        (
            vec![],
            vec!["--set", "sync.probe_secs=0"],
            "--set sync.probe_secs: sync.probe_secs = 0: must be between 1 and 3600",
        ),
        (
            vec![],
            vec!["--set", "upload_limit.days=Funday"],
            "upload_limit.days = \"Funday\"",
        ),
        (
            vec![],
            vec!["--set", "sync.nope=1"],
            "no setting \"sync.nope\"",
        ),
    ] {
        let mut c = agent.command();
        c.args(&flags).arg("run");
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = hotich_tests::harness::run(&mut c);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then_some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Takes all the space left.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.write_all(&[0u8; 1]);
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .output();
    }
}

#[test]
fn a_full_disk_fails_the_import_plainly_keeps_the_journal_and_the_service_running() {
    let Some(disk) = SmallDisk::mount(16) else {
        eprintln!("cannot mount a tmpfs here (not root?): the full-disk test is skipped");
        return;
    };
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let viewer = server.add_viewer("national", &[]);
    let data = disk.path().join("agent");
    let agent_cmd = || {
        let mut c = hotich_tests::harness::agent_cmd();
        c.arg("--data-dir").arg(&data);
        c
    };
    let init = hotich_tests::harness::run(agent_cmd().args([
        "init",
        "--server",
        &server.url(),
        "--token",
        &token,
        "--commune",
        "00004",
    ]));
    assert!(init.status.success(), "{}", stderr(&init));
    let work = tempfile::tempdir().unwrap();
    let small = work.path().join("small.jsonl");
    let big = work.path().join("big.jsonl");
    let records = RecordGen::new(5, "00004");
    records.write_jsonl(&small, 0, 500).unwrap();
    records.write_jsonl(&big, 500, 5_500).unwrap();
    let first = hotich_tests::harness::run(agent_cmd().arg("import").arg(&small));
    assert!(first.status.success(), "{}", stderr(&first));

    // The service runs while the disk fills up.
    let mut service = agent_cmd()
        .args([
            "--set",
            "sync.heartbeat_secs=1",
            "--set",
            "sync.idle_recheck_secs=1",
        ])
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(hotich_tests::harness::wait_until(
        Duration::from_secs(20),
        || server.export().len() == 500
    ));
    let filler = disk.fill();

    let full = hotich_tests::harness::run(agent_cmd().arg("import").arg(&big));
    assert_eq!(
        full.status.code(),
        Some(1),
        "{}{}",
        stdout(&full),
        stderr(&full)
    );
    let err = stderr(&full);
    assert!(
        err.contains("ran out of space")
            && err.contains("The journal is intact")
            && err.contains("import the file again"),
        "{err}"
    );
    let verify = hotich_tests::harness::run(agent_cmd().args(["verify", "--json"]));
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["intact"], true, "{report}");
    let saved = report["entries"].as_u64().unwrap();
    assert!(saved >= 500, "{report}");

    // The service is still running, and tells the dashboard why it struggles.
    let mut last = Value::Null;
    let reported = hotich_tests::harness::wait_until(Duration::from_secs(20), || {
        last = server.get_as(&viewer, "/api/v1/status").json();
        let agent = &last["communes"][0]["agents"][0];
        agent["free_disk_bytes"]
            .as_u64()
            .is_some_and(|b| b < 1_000_000)
            && agent["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|l| l["message"].to_string().contains("almost full"))
            })
    });
    assert!(reported, "{last:#}");
    assert!(
        service.try_wait().unwrap().is_none(),
        "the service must keep running"
    );

    // Space comes back: importing again stores the rest, once.
    std::fs::remove_file(&filler).unwrap();
    let again = hotich_tests::harness::run(agent_cmd().arg("import").arg(&big));
    assert!(again.status.success(), "{}", stderr(&again));
    let sync = hotich_tests::harness::run(agent_cmd().args(["sync", "--timeout", "60"]));
    assert!(sync.status.success(), "{}{}", stdout(&sync), stderr(&sync));
    let exported = server.export_hashes();
    let unique: std::collections::HashSet<_> = exported.iter().collect();
    assert_eq!(exported.len(), 5_500);
    assert_eq!(unique.len(), 5_500);
    hotich_tests::harness::terminate(&service);
    let _ = hotich_tests::harness::wait_exit(&mut service, Duration::from_secs(10));
}
