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
    let sync = new_pc.sync_ok();
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

fn server_cmd(server: &TestServer, args: &[&str]) -> std::process::Output {
    hotich_tests::harness::run(
        std::process::Command::new(hotich_tests::harness::server_bin())
            .args(args)
            .args(["--database", &server.database]),
    )
}

/// Registers an agent of commune 00004: its id (for `recovery-code`) and token.
fn agent_with_id(server: &TestServer) -> (String, String) {
    let added = server_cmd(server, &["agent", "add", "--commune", "00004", "--json"]);
    let added: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    (
        added["id"].to_string(),
        added["token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_dead_disk_is_recovered_from_the_central_copy_with_a_one_time_code() {
    use hotich_tests::records::minimal_birth;
    let server = TestServer::start();
    let (id, token) = agent_with_id(&server);
    // Another PC of the commune holds book 01 entry 5 first, so this PC's
    // version of it is refused: the centre keeps its content all the same.
    let other = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    let first = other.dir.path().join("first.jsonl");
    std::fs::write(
        &first,
        format!("{}\n", minimal_birth("00004", 5, "Lê Văn Một")),
    )
    .unwrap();
    assert!(other.import(&first).status.success());
    assert!(other.cmd(&["sync"]).status.success());

    let pc = TestAgent::init(&server.url(), &token, "00004");
    let records = pc.dir.path().join("records.jsonl");
    RecordGen::new(33, "00004")
        .write_jsonl(&records, 0, 40)
        .unwrap();
    let mut text = std::fs::read_to_string(&records).unwrap();
    text.push_str(&format!("{}\n", minimal_birth("00004", 5, "Lê Văn Hai")));
    std::fs::write(&records, text).unwrap();
    assert!(pc.import(&records).status.success());
    assert_eq!(pc.cmd(&["sync"]).status.code(), Some(1), "one refused");
    let before = pc.journal_hashes();
    assert_eq!(before.len(), 41);
    // The disk dies.
    drop(pc);

    let new_pc = TestAgent::init(&server.url(), &token, "00004");
    let no_code = new_pc.cmd(&["recover", "--code", "hrc_guess"]);
    assert_eq!(no_code.status.code(), Some(2), "{}", stderr(&no_code));
    assert!(
        stderr(&no_code).contains("recovery code"),
        "{}",
        stderr(&no_code)
    );

    let made = server_cmd(&server, &["agent", "recovery-code", &id]);
    assert!(made.status.success(), "{}", stderr(&made));
    let code = stdout(&made).trim().to_string();
    assert!(code.starts_with("hrc_"), "{code}");
    let recovered = new_pc.cmd(&["recover", "--code", &code]);
    assert!(
        recovered.status.success(),
        "{}{}",
        stdout(&recovered),
        stderr(&recovered)
    );
    assert!(
        stdout(&recovered).contains("41 record(s) downloaded (1 once refused)"),
        "{}",
        stdout(&recovered)
    );
    assert_eq!(
        new_pc.journal_hashes(),
        before,
        "the same journal, entry for entry"
    );
    assert!(new_pc.cmd(&["verify"]).status.success());
    let status = new_pc.status();
    assert_eq!(
        (status["acked"].as_u64(), status["parked"].as_u64()),
        (Some(40), Some(1))
    );

    // The code is spent.
    let again = new_pc.cmd(&["recover", "--code", &code]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));

    // The journal goes on where it stopped: new entries are 42.., accepted.
    let more = new_pc.dir.path().join("more.jsonl");
    RecordGen::new(34, "00004")
        .write_jsonl(&more, 0, 5)
        .unwrap();
    assert!(new_pc.import(&more).status.success());
    new_pc.sync_ok();
    let status = new_pc.status();
    assert_eq!(status["journal_entries"], 46);
    assert_eq!(status["server_alerts"], 0, "{status}");
    assert_eq!(server.export().len(), 1 + 40 + 5);
}

#[test]
fn an_old_backup_gets_the_missing_tail_from_the_server_so_no_number_is_used_twice() {
    let server = TestServer::start();
    let (id, token) = agent_with_id(&server);
    let pc = TestAgent::init(&server.url(), &token, "00004");
    let records = RecordGen::new(44, "00004");
    let file = pc.dir.path().join("a.jsonl");
    records.write_jsonl(&file, 0, 30).unwrap();
    assert!(pc.import(&file).status.success());
    let usb = tempfile::tempdir().unwrap();
    let backup = usb.path().join("old.db");
    assert!(
        pc.cmd(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    // After the backup, 20 more are entered and sent; then the disk dies.
    let later = pc.dir.path().join("b.jsonl");
    records.write_jsonl(&later, 30, 50).unwrap();
    assert!(pc.import(&later).status.success());
    assert!(pc.cmd(&["sync"]).status.success());
    let before = pc.journal_hashes();
    drop(pc);

    let new_pc = TestAgent::init(&server.url(), &token, "00004");
    assert!(
        new_pc
            .cmd(&["restore", backup.to_str().unwrap()])
            .status
            .success()
    );
    // Uploading from the old copy would reuse numbers 31..50: it stops.
    let stopped = new_pc.cmd(&["sync"]);
    assert_ne!(stopped.status.code(), Some(0), "{}", stdout(&stopped));
    let code = stdout(&server_cmd(&server, &["agent", "recovery-code", &id]))
        .trim()
        .to_string();
    let tail = new_pc.cmd(&["recover", "--code", &code]);
    assert!(tail.status.success(), "{}{}", stdout(&tail), stderr(&tail));
    assert!(
        stdout(&tail).contains("20 record(s) downloaded"),
        "{}",
        stdout(&tail)
    );
    assert_eq!(new_pc.journal_hashes(), before);
    let more = new_pc.dir.path().join("c.jsonl");
    records.write_jsonl(&more, 50, 55).unwrap();
    assert!(new_pc.import(&more).status.success());
    new_pc.sync_ok();
    assert_eq!(server.export().len(), 55);
    assert_eq!(new_pc.status()["server_alerts"], 0);
}
