//! The main path, end to end with real processes: import, sync, export.

use std::time::Duration;

use hotich_tests::harness::{assert_export_matches_journal, stderr, stdout, wait_until};
use hotich_tests::{RecordGen, TestAgent, TestServer};

#[test]
fn import_then_sync_stores_every_record_once() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let file = agent.dir.path().join("records.jsonl");
    RecordGen::new(1, "00004")
        .write_jsonl(&file, 0, 2_000)
        .unwrap();
    let out = agent.import(&file);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2000 accepted"), "{}", stdout(&out));

    let out = agent.sync_ok();
    assert!(stdout(&out).contains("Sync complete"), "{}", stdout(&out));
    assert_eq!(agent.pending(), 0);
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 2_000);

    // A second sync has nothing to do; a re-import is a no-op.
    let out = agent.import(&file);
    assert!(
        stdout(&out).contains("0 accepted, 2000 already present"),
        "{}",
        stdout(&out)
    );
    let out = agent.cmd(&["sync"]);
    assert!(out.status.success());
    assert_eq!(server.export().len(), 2_000);
}

#[test]
fn the_service_uploads_what_is_imported_while_it_runs() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    agent.start_service();
    let file = agent.dir.path().join("records.jsonl");
    RecordGen::new(2, "00004")
        .write_jsonl(&file, 0, 500)
        .unwrap();
    assert!(agent.import(&file).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || agent.pending() == 0),
        "the service did not upload: {}",
        agent.status()
    );
    assert_export_matches_journal(&server, &[&agent]);
    // "Sync now" through the running service.
    RecordGen::new(2, "00004")
        .write_jsonl(&file, 500, 700)
        .unwrap();
    assert!(agent.import(&file).status.success());
    let out = agent.cmd(&["sync", "--timeout", "30"]);
    assert!(
        out.status.success(),
        "sync via service: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(agent.pending(), 0);
    assert!(agent.stop_service(), "SIGTERM stops the service cleanly");
    assert_export_matches_journal(&server, &[&agent]);
    assert_eq!(server.export().len(), 700);
}
