//! Who did what: each entry records the official who entered it (from the
//! office's list, not the shared PC's account), a correction must say why,
//! and the centre lists both.

use std::process::Command;

use hotich_tests::harness::{binary, stderr, stdout};
use hotich_tests::{TestAgent, TestServer};
use serde_json::{Value, json};

fn jsonl(agent: &TestAgent, name: &str, records: &[Value]) -> std::path::PathBuf {
    let path = agent.dir.path().join(name);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn entries_record_their_official_and_a_correction_needs_a_reason() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    for name in ["Nguyễn Thị Lan", "Trần Văn Hùng"] {
        let out = agent.cmd(&["official", "add", name]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let again = agent.cmd(&["official", "add", "nguyen thi lan"]);
    assert!(stdout(&again).contains("already"), "{}", stdout(&again));
    let listed = stdout(&agent.cmd(&["official", "list"]));
    assert_eq!(listed.lines().count(), 2, "{listed}");

    let first = hotich_tests::records::minimal_birth("00004", 31, "Lê Thị Hoa");
    let file = jsonl(&agent, "so.jsonl", std::slice::from_ref(&first));
    let path = file.to_str().expect("path");
    // Two officials share the PC: the import must say who is typing.
    let out = agent.cmd(&["import", path]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("who is entering"), "{}", stderr(&out));
    let out = agent.cmd(&["import", path, "--official", "Nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not on this office's list"),
        "{}",
        stderr(&out)
    );
    let out = agent.cmd(&["import", path, "--official", "Nguyễn Thị Lan"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(agent.cmd(&["sync"]).status.success());
    let exported = server.export();
    assert_eq!(exported[0]["official"], "Nguyễn Thị Lan", "{exported:?}");
    let original = exported[0]["content_hash"]
        .as_str()
        .expect("hash")
        .to_string();

    // A correction without a reason is refused; with one it is taken.
    let mut corrected = first.clone();
    corrected["child"]["full_name"] = json!("Lê Thị Hoà");
    corrected["supersedes"] = json!(original);
    let file = jsonl(&agent, "cai-chinh.jsonl", std::slice::from_ref(&corrected));
    let out = agent.cmd(&[
        "import",
        file.to_str().expect("path"),
        "--official",
        "tran van hung",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("must say why"), "{}", stdout(&out));
    corrected["correction_reason"] = json!("Sai dấu tên theo giấy khai sinh gốc");
    let file = jsonl(&agent, "cai-chinh-2.jsonl", &[corrected]);
    let out = agent.cmd(&[
        "import",
        file.to_str().expect("path"),
        "--official",
        "tran van hung",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(agent.cmd(&["sync"]).status.success());
    // The file without the reason, imported again now that the correction
    // is in the journal, is simply present (older files stay importable).
    let out = agent.cmd(&[
        "import",
        agent
            .dir
            .path()
            .join("cai-chinh.jsonl")
            .to_str()
            .expect("path"),
        "--official",
        "tran van hung",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 already present"),
        "{}",
        stdout(&out)
    );

    let out = Command::new(binary("hotich-server"))
        .args(["corrections", "--database", &server.database, "--json"])
        .output()
        .expect("corrections");
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["supersedes"], original.as_str());
    assert_eq!(listed[0]["official"], "Trần Văn Hùng", "{listed:?}");
    assert_eq!(
        listed[0]["correction_reason"],
        "Sai dấu tên theo giấy khai sinh gốc"
    );
}
