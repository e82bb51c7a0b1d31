//! Refused records have a way out: `status` shows the central version of a
//! conflict, a correction that supersedes closes the refused entry
//! ("resolved by #N"), and `dismiss` closes one that should never have been
//! entered, which the server then holds in the commune's history.

use std::path::Path;

use hotich_tests::harness::{stderr, stdout, wait_until};
use hotich_tests::records::minimal_birth;
use hotich_tests::{TestAgent, TestServer};
use serde_json::{Value, json};

fn import(agent: &TestAgent, name: &str, records: &[Value]) {
    let path = agent.dir.path().join(name);
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = agent.import(Path::new(&path));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn a_conflict_shows_the_central_version_and_a_correction_resolves_it() {
    let server = TestServer::start();
    // Two PCs of one commune typed book 01, entries 5 and 6, differently.
    let first_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    import(
        &first_pc,
        "first.jsonl",
        &[
            minimal_birth("00004", 5, "Nguyễn Văn An"),
            minimal_birth("00004", 6, "Trần Thị Bình"),
        ],
    );
    assert!(first_pc.cmd(&["sync"]).status.success());
    let second_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    import(
        &second_pc,
        "second.jsonl",
        &[
            minimal_birth("00004", 5, "Nguyễn Văn Ân"),
            minimal_birth("00004", 6, "Trần Thị Bình Nhầm"),
        ],
    );
    let sync = second_pc.cmd(&["sync"]);
    assert_eq!(sync.status.code(), Some(1), "{}", stdout(&sync));
    assert!(stdout(&sync).contains("2 refused"), "{}", stdout(&sync));

    let central: Vec<Value> = server.export();
    let central_hash = |entry: u64| {
        central
            .iter()
            .find(|r| r["record"]["register"]["entry"] == entry)
            .map(|r| r["content_hash"].as_str().unwrap().to_string())
            .unwrap()
    };
    let status = second_pc.status();
    let refused = status["parked_entries"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{status}");
    assert_eq!(refused[0]["seq"], 1);
    assert_eq!(
        refused[0]["central_hash"],
        central_hash(5).as_str(),
        "{status}"
    );
    assert_eq!(
        refused[1]["central_hash"],
        central_hash(6).as_str(),
        "{status}"
    );

    // The official corrects entry 5 against the central version.
    let mut correction = minimal_birth("00004", 5, "Nguyễn Văn Ân");
    correction["supersedes"] = json!(central_hash(5));
    correction["correction_reason"] = json!("theo bản gốc ở trung tâm");
    import(&second_pc, "correction.jsonl", &[correction]);
    let status = second_pc.status();
    assert_eq!(status["parked"], 1, "{status}");
    assert_eq!(status["closed"], 1, "{status}");
    assert_eq!(status["closed_entries"][0]["seq"], 1);
    assert_eq!(status["closed_entries"][0]["resolved_by"], 3, "{status}");
    let text = stdout(&second_pc.cmd(&["status"]));
    assert!(text.contains("#1: resolved by correction #3"), "{text}");

    // Entry 6 was typed by mistake on this PC: dismissed, with the reason.
    let wrong = second_pc.cmd(&["dismiss", "3", "--reason", "x"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("#3 is not a refused record"),
        "{}",
        stderr(&wrong)
    );
    let dismissed = second_pc.cmd(&["dismiss", "2", "--reason", "nhập nhầm sổ"]);
    assert!(dismissed.status.success(), "{}", stderr(&dismissed));
    let status = second_pc.status();
    assert_eq!(status["parked"], 0, "{status}");
    assert_eq!(status["closed"], 2, "{status}");
    assert_eq!(status["journal_entries"], 3, "nothing leaves the journal");

    // The correction goes up; sync is clean now.
    second_pc.sync_ok();
    let names: Vec<Value> = server
        .export()
        .iter()
        .map(|r| r["record"]["child"]["full_name"].clone())
        .collect();
    assert!(names.contains(&json!("Nguyễn Văn Ân")), "{names:?}");

    // The centre holds the dismissal in the commune's history, once the
    // service's heartbeat has carried it.
    let mut second_pc = second_pc;
    second_pc.start_service();
    let viewer = server.add_viewer("quoc-gia", &[]);
    let mut page = String::new();
    let reported = wait_until(std::time::Duration::from_secs(20), || {
        page = String::from_utf8_lossy(&server.get_as(&viewer, "/commune/00004?lang=en").body)
            .to_string();
        page.contains("data-kind=\"dismissed\"")
    });
    assert!(reported, "{page}");
    assert!(
        page.contains("entry #2") && page.contains("nhập nhầm sổ"),
        "{page}"
    );
    // Reported once: the journal notes it.
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        let conn = rusqlite::Connection::open(second_pc.journal_path()).unwrap();
        conn.query_row(
            "SELECT json_extract(state_reason, '$.reported') FROM uploads WHERE seq = 2",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }));
}
