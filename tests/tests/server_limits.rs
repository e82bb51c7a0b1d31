//! The server under hostile or broken clients, as a real process: bodies
//! that decompress into huge records, slow and silent connections, several
//! uploads from one agent at once, numbers no store can hold, answers
//! without JSON, questions about other communes, and files left readable by
//! anyone. Each guards a hole found when the core was attacked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use hotich_protocol::GENESIS;
use hotich_tests::batch::batch;
use hotich_tests::harness::{Db, peak_rss, run, server_bin, stderr};
use hotich_tests::http::{Answer, request};
use hotich_tests::{RecordGen, TestServer};
use serde_json::{Value, json};

fn upload(server: &TestServer, token: &str, body: &[u8], encoding: Option<&str>) -> Answer {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    if let Some(e) = encoding {
        headers.push(("Content-Encoding", e));
    }
    request(server.addr, "POST", "/api/v1/upload", &headers, body).expect("upload answered")
}

/// One entry whose record is `record`, with any hash (the server recomputes it).
fn one_entry_body(record: &Value) -> Vec<u8> {
    let body = json!({"entries": [{
        "seq": 1,
        "hash": "0".repeat(64),
        "record": record,
    }]});
    serde_json::to_vec(&body).unwrap()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A 1 KB zstd body that decompresses to a record with a million empty
/// scans once took the server to 736 MB and a 110 MB answer.
#[test]
fn a_tiny_body_with_a_million_scans_costs_little_and_gets_a_short_answer() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut record = RecordGen::new(1, "00004").record(0);
    let mut json = serde_json::to_string(&record).unwrap();
    json.pop();
    json.push_str(",\"scans\":[");
    json.push_str(&vec!["{}"; 1_000_000].join(","));
    json.push_str("]}");
    record = serde_json::from_str(&json).unwrap();
    let body = one_entry_body(&record);
    let compressed = zstd::bulk::compress(&body, 19).unwrap();
    assert!(compressed.len() < 2048, "{} bytes", compressed.len());
    let answer = upload(&server, &token, &compressed, Some("zstd"));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.body.len() < 2048,
        "answer of {} bytes",
        answer.body.len()
    );
    let result = &answer.json()["results"][0];
    assert_eq!(result["status"], "rejected");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("at most 64 KB"), "{reason}");
    let rss = peak_rss(server.pid().unwrap()).unwrap();
    assert!(
        rss < 200 * 1024 * 1024,
        "server peaked at {:.0} MB",
        mb(rss)
    );
}

/// A 16 MB unknown key once cost 4 s of CPU in the "did you mean" search;
/// one that fits the record limit is named cut short, with no suggestion.
#[test]
fn huge_unknown_keys_are_refused_before_any_search() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut record = RecordGen::new(1, "00004").record(0);
    record[&"k".repeat(16_000_000)] = json!(1);
    let body = zstd::bulk::compress(&one_entry_body(&record), 19).unwrap();
    let answer = upload(&server, &token, &body, Some("zstd"));
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.len() < 2048,
        "answer of {} bytes",
        answer.body.len()
    );
    assert!(
        answer.json()["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("at most 64 KB")
    );

    let mut record = RecordGen::new(1, "00004").record(1);
    record[&"q".repeat(50_000)] = json!(1);
    let answer = upload(&server, &token, &one_entry_body(&record), None);
    assert!(
        answer.body.len() < 2048,
        "answer of {} bytes",
        answer.body.len()
    );
    let reason = answer.json()["results"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("unknown field"), "{reason}");
    assert!(!reason.contains("did you mean"), "{reason}");
    let rss = peak_rss(server.pid().unwrap()).unwrap();
    assert!(
        rss < 200 * 1024 * 1024,
        "server peaked at {:.0} MB",
        mb(rss)
    );
}

/// Every problem of a record is no longer kept: at most 20, then a count.
#[test]
fn a_record_with_thousands_of_problems_gets_twenty_and_a_count() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut record = RecordGen::new(1, "00004").record(0);
    for i in 0..3000 {
        record[format!("x{i}")] = json!(i);
    }
    let answer = upload(&server, &token, &one_entry_body(&record), None);
    let reason = answer.json()["results"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(reason.matches("unknown field").count(), 20, "{reason}");
    assert!(reason.contains("and 2980 more problems"), "{reason}");
}

/// Clients that open a connection and send half a header, or nothing, are
/// let go after the header timeout; others are served meanwhile.
#[test]
fn silent_and_half_spoken_connections_are_closed_and_others_still_served() {
    let server = TestServer::start_with(Db::Sqlite, &["--header-timeout-secs", "2"]);
    let mut idle: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nContent-")
                    .unwrap();
            }
            s
        })
        .collect();
    let t = Instant::now();
    let health = request(server.addr, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(health.status, 200);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    std::thread::sleep(Duration::from_secs(4));
    for (i, s) in idle.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        // Closed: end of stream (or a reset), possibly after a 408.
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "connection {i} held");
    }
}

/// A second upload from the same agent while its first is still arriving
/// gets 429 with a short Retry-After (and JSON); another agent is not held up.
#[test]
fn one_upload_per_agent_at_a_time() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let other = server.add_agent("00007");
    let body = batch(&[RecordGen::new(1, "00004").record(0)], 1, GENESIS).json;
    // The first upload: headers and a little of its body, then it waits.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    write!(
        slow,
        "POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let second = upload(&server, &token, &body, None);
    assert_eq!(second.status, 429);
    assert_eq!(second.header("retry-after"), Some("1"));
    assert_eq!(second.json()["error"], "busy");
    let theirs = batch(&[RecordGen::new(1, "00007").record(0)], 1, GENESIS).json;
    assert_eq!(upload(&server, &other, &theirs, None).status, 200);
    // The first one finishes normally; then the agent may upload again.
    slow.write_all(&body[10..]).unwrap();
    let mut answer = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = slow.read(&mut buf).unwrap();
        assert!(n > 0, "the first upload was not answered");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(upload(&server, &token, &body, None).status, 200);
}

/// Numbers past 2^53 were stored negative; framework answers had no body.
#[test]
fn impossible_numbers_and_framework_errors_get_json_answers() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut body: Value =
        serde_json::from_slice(&batch(&[RecordGen::new(1, "00004").record(0)], 1, GENESIS).json)
            .unwrap();
    body["entries"][0]["seq"] = json!(1u64 << 63);
    let answer = upload(&server, &token, &serde_json::to_vec(&body).unwrap(), None);
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "bad_request");
    assert!(answer.json()["message"].as_str().unwrap().contains("seq"));
    let auth = format!("Bearer {token}");
    let wrong_method = request(
        server.addr,
        "GET",
        "/api/v1/upload",
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap();
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.json()["error"], "method_not_allowed");
    let brotli = upload(&server, &token, b"xxxx", Some("br"));
    assert_eq!(brotli.status, 415);
    assert_eq!(brotli.json()["error"], "unsupported_encoding");
    let chain = request(
        server.addr,
        "GET",
        "/api/v1/chain",
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap()
    .json();
    assert_eq!(chain["highest_seq"], 0, "nothing was stored");
}

/// `have` once answered for any commune's hashes: an existence oracle.
#[test]
fn have_answers_only_about_the_callers_commune() {
    let server = TestServer::start();
    let a = server.add_agent("00004");
    let b = server.add_agent("00007");
    let theirs = batch(&[RecordGen::new(1, "00004").record(0)], 1, GENESIS);
    assert_eq!(upload(&server, &a, &theirs.json, None).status, 200);
    let question = serde_json::to_vec(&json!({"hashes": [theirs.hashes[0]], "seqs": [1]})).unwrap();
    let ask = |token: &str| {
        let auth = format!("Bearer {token}");
        request(
            server.addr,
            "POST",
            "/api/v1/have",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &question,
        )
        .unwrap()
        .json()
    };
    assert_eq!(ask(&a)["lacking"], json!([]));
    assert_eq!(ask(&b)["lacking"], json!([theirs.hashes[0]]));
    assert_eq!(ask(&b)["unlinked"], json!([1]));
}

/// A batch whose entries all break the chain writes a handful of alert
/// rows, not one per entry.
#[test]
fn a_batch_of_forks_writes_a_capped_number_of_alerts() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let g = RecordGen::new(3, "00004");
    let first = batch(&[g.record(0)], 1, GENESIS);
    assert_eq!(upload(&server, &token, &first.json, None).status, 200);
    // 500 entries, each claiming a prev that is not what came before.
    let records: Vec<Value> = (1..501).map(|i| g.record(i)).collect();
    let mut body: Value = serde_json::from_slice(&batch(&records, 2, GENESIS).json).unwrap();
    for e in body["entries"].as_array_mut().unwrap() {
        e["prev"] = json!("1".repeat(64));
    }
    let answer = upload(&server, &token, &serde_json::to_vec(&body).unwrap(), None);
    assert_eq!(answer.status, 200);
    let auth = format!("Bearer {token}");
    let chain = request(
        server.addr,
        "GET",
        "/api/v1/chain",
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap()
    .json();
    let alerts = chain["alerts"].as_u64().unwrap();
    assert!((2..=11).contains(&alerts), "{alerts} alert rows");
}

/// central.db and exports hold citizens' names and ID numbers: owner-only,
/// checked by reading them as another (unprivileged) user.
#[test]
fn the_database_and_exports_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let body = batch(&[RecordGen::new(1, "00004").record(0)], 1, GENESIS).json;
    assert_eq!(upload(&server, &token, &body, None).status, 200);
    // Let others into the folder, so only the files' own modes protect them.
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let export = server.dir.path().join("export.jsonl");
    let out = run(Command::new(server_bin()).args([
        "export",
        "--database",
        &server.database,
        "--output",
        export.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [std::path::PathBuf::from(&server.database), export] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
        let as_nobody = run(Command::new("setpriv").args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "cat",
            file.to_str().unwrap(),
        ]));
        assert!(
            !as_nobody.status.success() && stderr(&as_nobody).contains("Permission denied"),
            "{} is readable by others: {}",
            file.display(),
            stderr(&as_nobody)
        );
    }
}
