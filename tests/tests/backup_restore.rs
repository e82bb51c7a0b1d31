//! `backup` while the service runs, and `restore` onto a new PC: the queue
//! comes back and only what the server lacks is sent.

use std::time::Duration;

use hotich_tests::harness::{stderr, stdout};
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent, TestServer};

#[test]
fn a_backup_taken_while_the_service_runs_restores_the_queue_on_a_new_pc() {
    let mut server = TestServer::start();
    let token = server.add_agent("00004");
    let proxy = FaultProxy::start(server.addr, Mode::Pass).unwrap();
    let mut old_pc = TestAgent::init(&proxy.url(), &token, "00004");
    let records = RecordGen::new(21, "00004");
    let first = old_pc.dir.path().join("first.jsonl");
    records.write_jsonl(&first, 0, 100).unwrap();
    assert!(old_pc.import(&first).status.success());
    assert!(old_pc.cmd(&["sync"]).status.success());

    // The link goes down; 50 more records wait; the service keeps running.
    proxy.set_mode(Mode::Reset);
    let second = old_pc.dir.path().join("second.jsonl");
    records.write_jsonl(&second, 100, 150).unwrap();
    assert!(old_pc.import(&second).status.success());
    old_pc.start_service();
    std::thread::sleep(Duration::from_millis(500));
    // On a USB stick, say: it outlives the old PC.
    let usb = tempfile::tempdir().unwrap();
    let backup = usb.path().join("sao-luu.db");
    let out = old_pc.cmd(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("150 record(s) (50 waiting)"),
        "{}",
        stdout(&out)
    );
    // A second backup never overwrites the first.
    let again = old_pc.cmd(&["backup", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    old_pc.kill_service();
    drop(old_pc);

    // The new PC. Set up with the old PC's token, `init` warns that the
    // server already holds entries of this journal, and says what to do.
    proxy.set_mode(Mode::Pass);
    let new_pc = TestAgent::init(&proxy.url(), &token, "00004");
    let again_init = new_pc.cmd(&[
        "init",
        "--force",
        "--server",
        &proxy.url(),
        "--token",
        &token,
        "--commune",
        "00004",
    ]);
    assert!(again_init.status.success(), "{}", stderr(&again_init));
    assert!(
        stdout(&again_init).contains("the server already holds 100 entries")
            && stdout(&again_init).contains("hotich-agent restore FILE"),
        "{}",
        stdout(&again_init)
    );
    proxy.set_mode(Mode::Reset);
    let restored = new_pc.cmd(&["restore", backup.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(
        stdout(&restored).contains("Restored 150 record(s)")
            && stdout(&restored).contains("50 waiting"),
        "{}",
        stdout(&restored)
    );
    assert_eq!(new_pc.pending(), 50);
    let verify = new_pc.cmd(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    // A second restore over a journal with records needs --force.
    let twice = new_pc.cmd(&["restore", backup.to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(2), "{}", stderr(&twice));
    assert!(stderr(&twice).contains("--force"), "{}", stderr(&twice));

    // The link comes back: the 50 go up, the 100 the server holds do not.
    proxy.set_mode(Mode::Pass);
    server.restart();
    let before = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed);
    let sync = new_pc.cmd(&["sync"]);
    assert!(sync.status.success(), "{}{}", stdout(&sync), stderr(&sync));
    assert!(
        stdout(&sync).contains("50 record(s) stored centrally"),
        "{}",
        stdout(&sync)
    );
    let sent = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed) - before;
    let hashes = server.export_hashes();
    let unique: std::collections::HashSet<_> = hashes.iter().collect();
    assert_eq!((hashes.len(), unique.len()), (150, 150));
    // 50 records of about 1 KB, compressed, plus the have/lack exchange:
    // well under what the 150 records would take (about 27 KB).
    assert!(sent < 20_000, "{sent} bytes sent for 50 records");
    eprintln!("restore then sync: {sent} bytes up for the 50 records the server lacked");
}
