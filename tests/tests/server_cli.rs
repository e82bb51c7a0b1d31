//! The server's command line as operators run it: agents, export, shutdown,
//! bad arguments, and the PostgreSQL backend end to end.

use std::process::Command;
use std::time::Duration;

use hotich_tests::harness::{
    Db, assert_export_matches_journal, run, server_bin, stderr, stdout, terminate, wait_exit,
};
use hotich_tests::pg::{TempDatabase, postgres_url};
use hotich_tests::{RecordGen, TestAgent, TestServer};
use serde_json::Value;

fn server(args: &[&str]) -> std::process::Output {
    run(Command::new(server_bin()).args(args))
}

#[test]
fn agents_are_added_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    let out = server(&[
        "agent",
        "add",
        "--database",
        &db,
        "--commune",
        "00004",
        "--name",
        "UBND xã Tân Lập",
        "--province",
        "Đắk Lắk",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let token = text
        .lines()
        .find(|l| l.starts_with("hts_"))
        .expect("token line")
        .to_string();
    assert_eq!(token.len(), 4 + 64);
    assert!(text.contains("shown only this once"), "{text}");
    // Only a hash is stored.
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token is not stored in clear"
    );
    let out = server(&["agent", "list", "--database", &db, "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["commune"], "00004");
    assert_eq!(list[0]["name"], "UBND xã Tân Lập");
    assert!(!stdout(&out).contains(&token));
    let out = server(&["agent", "list", "--database", &db]);
    assert!(
        stdout(&out).contains("UBND xã Tân Lập") && stdout(&out).contains("active"),
        "{}",
        stdout(&out)
    );
    let out = server(&["agent", "revoke", "--database", &db, "1"]);
    assert!(out.status.success());
    assert!(stdout(&server(&["agent", "list", "--database", &db])).contains("revoked"));
    let out = server(&["agent", "revoke", "--database", &db, "42"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no agent with id 42"));
    let out = server(&["agent", "add", "--database", &db, "--commune", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("5 digits"));
}

#[test]
fn a_revoked_agent_is_told_plainly_and_keeps_its_records() {
    let server_proc = TestServer::start();
    let token = server_proc.add_agent("00004");
    let agent = TestAgent::init(&server_proc.url(), &token, "00004");
    let file = agent.dir.path().join("r.jsonl");
    RecordGen::new(1, "00004")
        .write_jsonl(&file, 0, 20)
        .unwrap();
    assert!(agent.import(&file).status.success());
    assert!(
        server(&["agent", "revoke", "--database", &server_proc.database, "1"])
            .status
            .success()
    );
    let out = agent.cmd(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("does not accept this agent's token")
            && err.contains("20 record(s) are waiting safely"),
        "{err}"
    );
    let s = agent.status();
    assert_eq!(s["pending"], 20);
    assert_eq!(s["server_reachable"], true);
    assert!(s["last_error"].as_str().unwrap().contains("token"));
}

#[test]
fn export_prints_one_json_line_per_record_and_filters_by_commune() {
    let server_proc = TestServer::start();
    for commune in ["00004", "00005"] {
        let agent = TestAgent::init(&server_proc.url(), &server_proc.add_agent(commune), commune);
        let file = agent.dir.path().join("r.jsonl");
        RecordGen::new(2, commune)
            .write_jsonl(&file, 0, 30)
            .unwrap();
        assert!(agent.import(&file).status.success());
        assert!(agent.cmd(&["sync"]).status.success());
    }
    let out = server(&[
        "export",
        "--database",
        &server_proc.database,
        "--commune",
        "00005",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 30);
    for r in &rows {
        assert_eq!(r["commune_code"], "00005");
        assert_eq!(r["record"]["commune_code"], "00005");
        assert_eq!(r["content_hash"].as_str().unwrap().len(), 64);
        assert!(
            r["agent_id"].is_i64() && r["received_at"].is_string() && r["seq"].is_u64(),
            "{r}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.jsonl");
    let out = server(&[
        "export",
        "--database",
        &server_proc.database,
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(file).unwrap().lines().count(), 60);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").display().to_string();
    let mut child = Command::new(server_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    terminate(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("stops within 10 s");
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_arguments_get_one_line_and_exit_code_2() {
    for args in [
        vec![
            "serve",
            "--database",
            "mysql://x/y",
            "--listen",
            "127.0.0.1:0",
        ],
        vec![
            "serve",
            "--database",
            "x.db",
            "--listen",
            "127.0.0.1:0",
            "--chaos-fail-before",
            "1.5",
        ],
        vec!["export", "--database", "oracle://db"],
    ] {
        let out = server(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    assert!(server(&["--help"]).status.success());
    for sub in ["serve", "agent", "export"] {
        let out = server(&[sub, "--help"]);
        assert!(out.status.success() && !stdout(&out).is_empty(), "{sub}");
    }
}

/// The whole path on PostgreSQL, with real processes.
#[test]
fn postgres_backend_end_to_end() {
    let Some(url) = postgres_url("postgres_backend_end_to_end") else {
        return;
    };
    let db = TempDatabase::create(&url);
    let server_proc = TestServer::start_with(Db::Postgres(db), &[]);
    let token = server_proc.add_agent("00004");
    let agent = TestAgent::init(&server_proc.url(), &token, "00004");
    let file = agent.dir.path().join("r.jsonl");
    RecordGen::new(3, "00004")
        .write_jsonl(&file, 0, 3_000)
        .unwrap();
    assert!(agent.import(&file).status.success());
    agent.sync_ok();
    assert_export_matches_journal(&server_proc, &[&agent]);
    assert_eq!(server_proc.export().len(), 3_000);
}
