//! The agent where it once failed people: "sync now" on a flaky link, a
//! journal emptied or replaced, a clock that jumped, a damaged entry, hostile
//! files, out-of-range settings, a read-only data directory, and a token
//! about to cross the network in clear. Real processes throughout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hotich_tests::harness::{
    agent_bin, agent_cmd, assert_export_matches_journal, run, stderr, stdout, wait_until,
};
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

fn one_line_error(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line on stderr: {err}");
    err
}

fn sql(agent: &TestAgent, statements: &str) {
    let conn = rusqlite::Connection::open(agent.journal_path()).unwrap();
    conn.execute_batch(statements).unwrap();
}

/// Sync tuning with a short stall limit, so "the server is down" shows fast.
fn tuning(stall_secs: u64) -> String {
    format!(
        "{}sync_now_stall_secs = {stall_secs}\n",
        hotich_tests::harness::FAST_SYNC
    )
}

/// 10,000 records through a link that resets every 20-120 KB, with no
/// service running: `sync` once stopped after 3,250 with "next automatic try
/// at …" (no service would make it). Now it keeps going until done.
#[test]
fn sync_now_pushes_through_a_link_that_resets_every_20_to_120_kb() {
    let server = TestServer::start();
    let proxy = FaultProxy::start(
        server.addr,
        Mode::CutAfter {
            bytes: 20 * 1024,
            jitter: 100 * 1024,
        },
    )
    .unwrap();
    let token = server.add_agent("00004");
    // The default tuning: batches start at 250 and may grow to 6,000.
    let agent = TestAgent::init_with(&proxy.url(), &token, "00004", "");
    import(&agent, 1, 0, 10_000);
    let out = agent.cmd(&["sync", "--timeout", "600"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Some were found held after a cut answer rather than sent again.
    assert!(
        stdout(&out).contains("record(s) stored centrally, 0 refused, 0 waiting"),
        "{}",
        stdout(&out)
    );
    assert!(
        proxy
            .counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            > 10,
        "the link was cut many times"
    );
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 10_000);
}

/// With the server down, `sync` stops once nothing has moved for the stall
/// limit, says so, and does not promise a retry no service will make.
#[test]
fn sync_now_stops_when_nothing_moves_and_says_how_to_continue() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(server.addr, Mode::Pass).unwrap();
    let agent = TestAgent::init_with(&proxy.url(), &token, "00004", &tuning(3));
    proxy.set_mode(Mode::Reset);
    import(&agent, 2, 0, 50);
    let t = Instant::now();
    let out = agent.cmd(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let err = one_line_error(&out);
    assert!(err.contains("nothing could be sent for 3 s"), "{err}");
    assert!(err.contains("50 record(s) are waiting safely"), "{err}");
    assert!(err.contains("Nothing retries by itself"), "{err}");
    assert!(!err.contains("next automatic try"), "{err}");

    // The same through a running service: it says the service keeps trying.
    let mut agent = agent;
    agent.start_service();
    let out = agent.cmd(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let err = one_line_error(&out);
    assert!(err.contains("The service keeps trying"), "{err}");

    // The link comes back: the service's `sync` drains it.
    proxy.set_mode(Mode::CutAfter {
        bytes: 30 * 1024,
        jitter: 60 * 1024,
    });
    let out = agent.cmd(&["sync", "--timeout", "120"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(agent.pending(), 0);
}

/// Timeouts once panicked on 1e300 (exit 101): now exit 2 naming the value.
#[test]
fn out_of_range_timeouts_are_usage_errors() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    for bad in ["1e300", "-1", "0", "NaN", "700000"] {
        let out = agent.cmd(&["sync", &format!("--timeout={bad}")]);
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
        let err = one_line_error(&out);
        assert!(err.contains("--timeout"), "{err}");
    }
    let config = agent.data_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("request_timeout_secs = 5.0", "request_timeout_secs = 1e300"),
    )
    .unwrap();
    let out = agent.cmd(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        one_line_error(&out).contains("sync.request_timeout_secs"),
        "{}",
        stderr(&out)
    );
}

/// `: > journal.db` once made `verify` say "intact: 0 entries" and `status`
/// start a new journal: 9,000 records gone without a word.
#[test]
fn an_emptied_deleted_or_swapped_journal_is_refused_everywhere() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    import(&agent, 3, 0, 30);
    let journal = agent.journal_path();
    let saved = std::fs::read(&journal).unwrap();

    std::fs::write(&journal, b"").unwrap();
    for args in [
        &["verify"][..],
        &["status"][..],
        &["sync", "--timeout", "5"][..],
        &["requeue"][..],
    ] {
        let out = agent.cmd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("journal.db is empty"), "{args:?}: {err}");
        assert!(err.contains("held 30 entries"), "{args:?}: {err}");
    }
    let file = agent.dir.path().join("more.jsonl");
    RecordGen::new(3, "00004")
        .write_jsonl(&file, 30, 40)
        .unwrap();
    let out = agent.import(&file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("journal.db is empty"));
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        0,
        "nothing written"
    );

    std::fs::remove_file(&journal).unwrap();
    let out = agent.cmd(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("journal.db is missing"),
        "{}",
        stderr(&out)
    );
    assert!(!journal.exists(), "no new journal was started");

    // Another agent's journal put in its place.
    let other = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    import(&other, 4, 0, 40);
    std::fs::copy(other.journal_path(), &journal).unwrap();
    let out = agent.cmd(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("not this agent's journal"),
        "{}",
        stdout(&out)
    );

    // The real one back: all is well again.
    std::fs::write(&journal, &saved).unwrap();
    let out = agent.cmd(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("30 entries"));
}

/// A data directory put back from an old copy (journal and its id file
/// both older): the server holds more of this agent's chain than the
/// journal has, so uploading stops and says why.
#[test]
fn a_journal_behind_the_server_stops_uploading() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    import(&agent, 5, 0, 20);
    let backup = agent.dir.path().join("backup");
    copy_dir(&agent.data_dir, &backup);
    import(&agent, 5, 20, 50);
    assert!(agent.cmd(&["sync"]).status.success());
    assert_eq!(server.export().len(), 50);
    // The PC's disk is restored from the backup; a new record is typed.
    std::fs::remove_dir_all(&agent.data_dir).unwrap();
    copy_dir(&backup, &agent.data_dir);
    import(&agent, 6, 0, 1);
    let out = agent.cmd(&["sync", "--timeout", "20"]);
    assert_eq!(out.status.code(), Some(1));
    let err = one_line_error(&out);
    assert!(err.contains("the server holds 50 entries"), "{err}");
    assert!(err.contains("Uploading is stopped"), "{err}");
    assert_eq!(server.export().len(), 50, "nothing sent under used numbers");
    let status = agent.status();
    assert!(
        status["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("Uploading is stopped"),
        "{status}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "sync.lock" || name == "control.json" {
            continue;
        }
        std::fs::copy(entry.path(), to.join(name)).unwrap();
    }
}

/// A clock that jumped backwards left the next try four years away: nothing
/// was sent though the server was up and 200 new records were imported.
#[test]
fn a_retry_set_years_ahead_by_a_bad_clock_does_not_stop_the_queue() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    import(&agent, 7, 0, 10);
    let four_years = 4 * 365 * 86_400_000i64;
    let later = hotich_protocol::Timestamp::now().millis() + four_years;
    sql(
        &agent,
        &format!(
            "UPDATE sync_state SET failures = 9, next_attempt_at = {later};
             DROP TRIGGER entries_are_append_only;
             UPDATE uploads SET next_attempt_at = {later} WHERE seq <= 5;"
        ),
    );
    agent.start_service();
    import(&agent, 7, 10, 210);
    assert!(
        wait_until(Duration::from_secs(30), || agent.pending() == 0),
        "{}",
        agent.status()
    );
    assert_eq!(server.export().len(), 210);
}

/// One entry damaged in the journal (its record no longer JSON) once
/// stopped the whole queue with "cannot set up the HTTP client".
#[test]
fn a_damaged_entry_is_parked_and_the_rest_flow() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    import(&agent, 8, 0, 40);
    sql(
        &agent,
        "DROP TRIGGER entries_are_append_only;
         UPDATE entries SET record = 'not json {' WHERE seq = 17;",
    );
    let out = agent.cmd(&["sync", "--timeout", "60"]);
    // The rest went through; the damaged one is not stored, so sync says so
    // and exits 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("39 record(s) stored centrally, 1 refused, 0 waiting"),
        "{}",
        stdout(&out)
    );
    assert_eq!(server.export().len(), 39);
    let status = agent.status();
    assert_eq!(status["parked"], 1);
    let parked = &status["parked_entries"][0];
    assert_eq!(parked["seq"], 17);
    assert!(
        parked["reason"].as_str().unwrap().contains("damaged"),
        "{parked}"
    );
    let out = agent.cmd(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("entry #17"));
}

/// A header naming list item 99,999,999,999 once aborted `validate`
/// allocating 2 GB; a FIFO hung `import` forever.
#[test]
fn hostile_files_get_a_clear_error_quickly() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    let dir = agent.dir.path();
    let csv = dir.join("big-index.csv");
    std::fs::write(
        &csv,
        "kind,commune_code,register.year,register.book,register.entry,registered_on,scans.99999999999.bytes\n\
         birth,00004,1998,1,1,1998-03-20,5\n",
    )
    .unwrap();
    let t = Instant::now();
    let out = run(agent_cmd().arg("validate").arg(&csv));
    assert_eq!(out.status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(5));
    let text = stdout(&out) + &stderr(&out);
    assert!(text.contains("list positions go from 0 to 49"), "{text}");

    let fifo = dir.join("pipe.jsonl");
    let made = run(Command::new("mkfifo").arg(&fifo));
    assert!(made.status.success());
    let t = Instant::now();
    let out = agent.import(&fifo);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        stdout(&out).contains("not a regular file"),
        "{}",
        stdout(&out)
    );
}

/// Rejects files were created with `File::create`, writing through a link
/// planted at their name.
#[test]
fn a_link_at_the_rejects_name_is_replaced_not_written_through() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    let dir = agent.dir.path();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let input = dir.join("so.jsonl");
    let good = RecordGen::new(9, "00004").record(0);
    std::fs::write(&input, format!("{good}\n{{\"kind\": \"birth\"}}\n")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("so.rejects.jsonl")).unwrap();
    let out = agent.import(&input);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let rejects = dir.join("so.rejects.jsonl");
    assert!(!rejects.symlink_metadata().unwrap().is_symlink());
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// With a read-only data directory even `status` and `verify` failed. Run
/// as an unprivileged user (root would read anything).
#[test]
fn status_and_verify_work_in_a_read_only_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    import(&agent, 10, 0, 25);
    // Hand the directory to "nobody", readable but not writable by it.
    let chown = run(Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&agent.data_dir));
    assert!(chown.status.success());
    for entry in std::fs::read_dir(&agent.data_dir).unwrap() {
        let p = entry.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    std::fs::set_permissions(&agent.data_dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    std::fs::set_permissions(agent.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(agent_bin())
            .args(["--lang", "en"])
            .arg("--data-dir")
            .arg(&agent.data_dir)
            .args(args);
        run(&mut cmd)
    };
    // The check has teeth: nobody cannot write here.
    let write = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "touch"])
        .arg(agent.data_dir.join("x")));
    assert!(!write.status.success());
    let out = as_nobody(&["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending"], 25);
    let out = as_nobody(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("25 entries"));
    // Let the test's cleanup remove it.
    let back = run(Command::new("chown")
        .args(["-R", "0:0"])
        .arg(&agent.data_dir));
    assert!(back.status.success());
    std::fs::set_permissions(&agent.data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// `init --server http://` to another computer sent the token in clear.
#[test]
fn init_refuses_cleartext_http_to_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("agent");
    let init = |server: &str, extra: &[&str]| {
        run(agent_cmd()
            .arg("--data-dir")
            .arg(&data)
            .args([
                "init",
                "--server",
                server,
                "--token",
                "hts_x",
                "--commune",
                "00004",
            ])
            .args(extra))
    };
    let out = init("http://hotich.example.vn", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = one_line_error(&out);
    assert!(
        err.contains("unencrypted") && err.contains("https://"),
        "{err}"
    );
    assert!(!data.join("config.toml").exists());
    let out = init(
        "http://hotich.example.vn",
        &["--allow-insecure-http", "--offline"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = init("http://127.0.0.1:8700", &["--force", "--offline"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A journal written by the release before this one (schema 1, no identity
/// file) is brought forward by the first command after an upgrade, keeps
/// every entry and state, and syncs.
#[test]
fn a_journal_from_the_previous_release_migrates_forward() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/journal-v1/journal.db");
    std::fs::copy(&fixture, agent.journal_path()).unwrap();
    std::fs::remove_file(agent.data_dir.join("journal-id.json")).unwrap();
    let status = agent.status();
    assert_eq!(
        (
            &status["journal_entries"],
            &status["acked"],
            &status["pending"]
        ),
        (&Value::from(35), &Value::from(30), &Value::from(5)),
        "{status}"
    );
    let version: i64 = rusqlite::Connection::open(agent.journal_path())
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 9, "migrated to the current schema");
    // Schema 9 rebuilt `entries`: content is unique within its natural key,
    // and the upload-state columns schema 8 stopped using are gone.
    let conn = rusqlite::Connection::open(agent.journal_path()).unwrap();
    let entries_sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'entries'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !entries_sql.contains("UNIQUE") && !entries_sql.contains("next_attempt_at"),
        "{entries_sql}"
    );
    let by_key: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'entries_by_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(by_key.contains("UNIQUE"), "{by_key}");
    drop(conn);
    let tables: i64 = rusqlite::Connection::open(agent.journal_path())
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'
             AND name IN ('keyings', 'book_closures', 'attachments', 'receipts', 'uploads')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 5, "the tables of schemas 6, 7 and 8 are there");
    assert!(agent.data_dir.join("journal-id.json").exists());
    let out = agent.cmd(&["verify"]);
    assert!(stdout(&out).contains("35 entries"), "{}", stderr(&out));
    // This server never saw the 30 sent before: they are found lacking and
    // sent again with the 5 waiting; except the one whose book "01" only
    // the old normal form kept, which is parked with a plain reason rather
    // than sent to be refused as altered.
    let out = agent.cmd(&["sync", "--timeout", "60"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("1 refused"), "{}", stdout(&out));
    assert_eq!(server.export().len(), 34);
    let status = agent.status();
    assert_eq!(status["parked"], 1, "{status}");
    let parked = &status["parked_entries"][0];
    assert_eq!(parked["seq"], 35);
    assert!(
        parked["message"]
            .as_str()
            .unwrap()
            .contains("before book numbers lost their leading zeros"),
        "{parked}"
    );
}
