//! Running at 3,300 communes: upgrades refused plainly, the upload rate
//! limit of office hours, a full disk.

use hotich_tests::RecordGen;
use hotich_tests::harness::{Db, stderr, stdout};
use hotich_tests::{TestAgent, TestServer};

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
