//! Page scans on the agent: import takes the files a record names (a
//! `Ảnh trang sổ` column, or `{"path"}` in JSON Lines), checks what they
//! are by their bytes, stores each once by its SHA-256, and `verify`
//! notices a scan altered or lost on disk.

use std::path::{Path, PathBuf};

use hotich_tests::TestAgent;
use hotich_tests::harness::{hex_lower, stderr, stdout};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn jpeg(seed: u8, size: usize) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    bytes.extend((0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..size).map(|i| (i % 251) as u8));
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

/// Blob files in the agent's store.
fn blobs(agent: &TestAgent) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(dirs) = std::fs::read_dir(agent.data_dir.join("blobs")) else {
        return found;
    };
    for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
        found.extend(
            std::fs::read_dir(dir.path())
                .expect("blob dir")
                .flatten()
                .map(|e| e.path()),
        );
    }
    found
}

/// The scans each journal entry names, by entry number.
fn journal_scans(agent: &TestAgent) -> Vec<(i64, Vec<String>)> {
    let conn = rusqlite::Connection::open(agent.journal_path()).expect("journal");
    let mut stmt = conn
        .prepare("SELECT seq, record FROM entries ORDER BY seq")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .expect("rows")
        .map(|row| {
            let (seq, record) = row.expect("row");
            let record: Value = serde_json::from_str(&record).expect("record");
            let scans = record["scans"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|s| s["sha256"].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (seq, scans)
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dir");
    }
    std::fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn import_takes_the_scan_files_a_record_names_stores_each_once_and_verify_catches_an_altered_one() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    let dir = agent.dir.path().join("so");
    let page_1 = jpeg(1, 300_000);
    let page_2 = png(120_000);
    write(&dir, "anh/trang-1.jpg", &page_1);
    write(&dir, "anh/trang-2.png", &page_2);
    // A zip named .jpg: what a file is comes from its bytes.
    write(&dir, "anh/trang-3.jpg", b"PK\x03\x04 not a scan");
    let book = write(
        &dir,
        "so-khai-sinh.csv",
        "\u{feff}Loại;Mã xã;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh;Ảnh trang sổ\r\n\
         Khai sinh;00004;1998;01;1;20/03/1998;Nguyễn Văn An;Nam;15/03/1998;anh/trang-1.jpg\r\n\
         Khai sinh;00004;1998;01;2;21/03/1998;Trần Thị Bình;Nữ;16/03/1998;\"anh/trang-1.jpg; anh/trang-2.png\"\r\n\
         Khai sinh;00004;1998;01;3;22/03/1998;Lê Văn Cường;Nam;17/03/1998;anh/khong-co.jpg\r\n\
         Khai sinh;00004;1998;01;4;23/03/1998;Phạm Thị Dung;Nữ;18/03/1998;anh/trang-3.jpg\r\n\
         Khai sinh;00004;1998;01;5;24/03/1998;Hoàng Văn Em;Nam;19/03/1998;\r\n"
            .as_bytes(),
    );
    let out = agent.import(&book);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("so-khai-sinh.csv:4: ") && text.contains("anh/khong-co.jpg"),
        "{text}"
    );
    assert!(
        text.contains("so-khai-sinh.csv:5: ") && text.contains("is not a JPEG, PNG, TIFF or PDF"),
        "{text}"
    );
    assert!(text.contains("3 accepted"), "{text}");

    // JSON Lines name scans by path too; the same page again is not stored again.
    let mut record = hotich_tests::records::minimal_birth("00004", 6, "Đỗ Thị Giang");
    record["scans"] = serde_json::json!([{"path": "anh/trang-2.png"}]);
    let jsonl = write(&dir, "them.jsonl", format!("{record}\n").as_bytes());
    let out = agent.import(&jsonl);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let (h1, h2) = (sha256_hex(&page_1), sha256_hex(&page_2));
    let scans = journal_scans(&agent);
    assert_eq!(
        scans,
        vec![
            (1, vec![h1.clone()]),
            (2, vec![h1.clone(), h2.clone()]),
            (3, vec![]),
            (4, vec![h2.clone()]),
        ],
        "the records hold their scans' hashes (entries 3 and 4 of the book were refused)"
    );
    let stored = blobs(&agent);
    assert_eq!(stored.len(), 2, "{stored:?}");
    for blob in &stored {
        let bytes = std::fs::read(blob).expect("blob");
        let name = blob
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert_eq!(sha256_hex(&bytes), name, "a blob is named by its hash");
    }
    // The rejects file keeps the refused rows, scan names and all.
    let rejects = std::fs::read_to_string(dir.join("so-khai-sinh.rejects.csv")).expect("rejects");
    assert!(
        rejects.contains("anh/khong-co.jpg") && rejects.contains("anh/trang-3.jpg"),
        "{rejects}"
    );

    let verified = agent.cmd(&["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(
        stdout(&verified).contains("4 page scans are intact"),
        "{}",
        stdout(&verified)
    );

    // A scan altered on disk: verify names the entries that rely on it.
    let blob_1 = stored
        .iter()
        .find(|p| p.ends_with(&h1))
        .expect("blob of page 1");
    let mut altered = page_1.clone();
    altered[100_000] ^= 0x55;
    std::fs::write(blob_1, &altered).expect("alter");
    let verified = agent.cmd(&["verify", "--json"]);
    assert_eq!(verified.status.code(), Some(1), "{}", stdout(&verified));
    let report: Value = serde_json::from_slice(&verified.stdout).expect("verify --json");
    assert_eq!(report["intact"], false, "{report}");
    let problems: Vec<(u64, String)> = report["scan_problems"]
        .as_array()
        .expect("scan problems")
        .iter()
        .map(|p| {
            (
                p["seq"].as_u64().unwrap_or(0),
                p["problem"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [(1, "altered".to_string()), (2, "altered".to_string())]
    );

    // Importing the book again puts the page back; nothing is stored twice.
    let out = agent.import(&book);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("0 accepted"), "{}", stdout(&out));
    let verified = agent.cmd(&["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert_eq!(journal_scans(&agent).len(), 4);
}

#[test]
fn validate_checks_scan_files_without_storing_them() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004");
    let dir = agent.dir.path().join("so");
    write(&dir, "trang-1.jpg", &jpeg(2, 1000));
    let mut good = hotich_tests::records::minimal_birth("00004", 1, "Nguyễn Văn An");
    good["scans"] = serde_json::json!([{"path": "trang-1.jpg"}]);
    let mut bad = hotich_tests::records::minimal_birth("00004", 2, "Trần Thị Bình");
    bad["scans"] = serde_json::json!([{"path": "trang-9.jpg"}]);
    let file = write(&dir, "so.jsonl", format!("{good}\n{bad}\n").as_bytes());
    let out = agent.cmd(&["validate", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("so.jsonl:2: ") && stdout(&out).contains("trang-9.jpg"),
        "{}",
        stdout(&out)
    );
    assert!(blobs(&agent).is_empty(), "validate stores nothing");
}

/// One birth record of book 01/1998 naming `scan` (a file beside the book).
fn book_with_scan(dir: &Path, entry: u32, scan: &str) -> PathBuf {
    write(
        dir,
        &format!("so-{entry}.csv"),
        format!(
            "\u{feff}Loại;Mã xã;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh;Ảnh trang sổ\r\n\
             Khai sinh;00004;1998;01;{entry};20/03/1998;Nguyễn Văn An;Nam;15/03/1998;{scan}\r\n"
        )
        .as_bytes(),
    )
}

fn server_blob(server: &hotich_tests::TestServer, sha: &str) -> Option<Vec<u8>> {
    let dir = Path::new(&server.database).with_extension("blobs");
    std::fs::read(dir.join("objects").join(&sha[..2]).join(sha)).ok()
}

#[test]
fn a_scan_reaches_the_server_whole_and_its_record_is_synced_only_then() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    // Through a counting proxy: the scan two records name goes up once.
    let proxy =
        hotich_tests::FaultProxy::start(server.addr, hotich_tests::Mode::Pass).expect("proxy");
    let agent = TestAgent::init(&proxy.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    let page = jpeg(3, 1_500_000);
    write(&dir, "trang-7.jpg", &page);
    let out = agent.import(&book_with_scan(&dir, 7, "trang-7.jpg"));
    assert!(out.status.success(), "{}", stdout(&out));
    let out = agent.import(&book_with_scan(&dir, 8, "trang-7.jpg"));
    assert!(out.status.success(), "{}", stdout(&out));
    let status = agent.status();
    assert_eq!(status["scans"]["waiting"], 1, "{status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 2, "{status}");

    agent.sync_ok();
    let sha = sha256_hex(&page);
    assert_eq!(
        server_blob(&server, &sha).map(|b| sha256_hex(&b)),
        Some(sha.clone()),
        "the server holds the scan whole"
    );
    let status = agent.status();
    assert_eq!(status["scans"]["stored"], 1, "{status}");
    assert_eq!(status["scans"]["waiting"], 0, "{status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 0, "{status}");
    let up = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        up < page.len() as u64 * 11 / 10,
        "{up} bytes went up for one {}-byte scan named twice",
        page.len()
    );

    // Another commune is not told that the server holds this scan.
    let other = server.add_agent("00005");
    let answer = hotich_tests::http::request(
        server.addr,
        "GET",
        &format!("/api/v1/blobs/{sha}"),
        &[("authorization", &format!("Bearer {other}"))],
        b"",
    )
    .expect("blob status");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json(),
        serde_json::json!({"offset": 0, "complete": false})
    );
}

#[test]
fn a_5_mb_scan_over_a_64_kb_per_s_link_cut_every_256_kb_completes_with_little_sent_twice() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let proxy = hotich_tests::FaultProxy::start(
        server.addr,
        hotich_tests::Mode::ThrottledCut {
            bytes_per_sec: 64 * 1024,
            cut_after: 256 * 1024,
        },
    )
    .expect("proxy");
    let agent = TestAgent::init_offline(&proxy.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    let page = jpeg(4, 5 * 1024 * 1024);
    write(&dir, "trang-9.jpg", &page);
    let out = agent.import(&book_with_scan(&dir, 9, "trang-9.jpg"));
    assert!(out.status.success(), "{}", stdout(&out));
    let before = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed);
    let started = std::time::Instant::now();
    let synced = agent.cmd(&["sync", "--timeout", "600"]);
    assert!(
        synced.status.success(),
        "{}{}",
        stdout(&synced),
        stderr(&synced)
    );
    let sha = sha256_hex(&page);
    assert_eq!(
        server_blob(&server, &sha).map(|b| sha256_hex(&b)),
        Some(sha.clone()),
        "the server holds the scan whole"
    );
    let up = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed) - before;
    let ratio = up as f64 / page.len() as f64;
    eprintln!(
        "scan upload at 64 KB/s, cut every 256 KB: {up} bytes up for {} ({ratio:.3}x), {} connections, {:.0} s",
        page.len(),
        proxy
            .counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert!(ratio <= 1.1, "{ratio:.3}x the file's size went up the wire");
    let status = agent.status();
    assert_eq!(status["scans"]["stored"], 1, "{status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 0, "{status}");
}

/// The server's unfinished upload of `sha`, if any (one per agent).
fn server_partial_len(server: &hotich_tests::TestServer, sha: &str) -> u64 {
    let dir = Path::new(&server.database)
        .with_extension("blobs")
        .join("partial");
    std::fs::read_dir(dir)
        .map(|agents| {
            agents
                .flatten()
                .filter_map(|a| std::fs::metadata(a.path().join(sha)).ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

#[test]
fn an_agent_killed_mid_scan_resumes_from_the_servers_offset_not_from_zero() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    // 512 KB/s: a 4 MB scan takes about 8 seconds.
    let proxy = hotich_tests::FaultProxy::start(
        server.addr,
        hotich_tests::Mode::Throttle {
            bytes_per_sec: 512 * 1024,
        },
    )
    .expect("proxy");
    let mut agent = TestAgent::init_offline(&proxy.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    let page = jpeg(5, 4 * 1024 * 1024);
    write(&dir, "trang-11.jpg", &page);
    assert!(
        agent
            .import(&book_with_scan(&dir, 11, "trang-11.jpg"))
            .status
            .success()
    );
    let sha = sha256_hex(&page);
    agent.start_service();
    assert!(
        hotich_tests::harness::wait_until(std::time::Duration::from_secs(30), || {
            server_partial_len(&server, &sha) >= 1024 * 1024
        }),
        "the upload never got under way"
    );
    agent.kill_service();
    let committed = server_partial_len(&server, &sha);
    assert!(committed < page.len() as u64, "finished before the kill");
    let up_before = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed);
    agent.start_service();
    assert!(
        hotich_tests::harness::wait_until(std::time::Duration::from_secs(60), || {
            server_blob(&server, &sha).is_some()
        }),
        "the scan never completed after the restart"
    );
    assert_eq!(
        server_blob(&server, &sha).map(|b| sha256_hex(&b)),
        Some(sha.clone()),
        "the server holds the scan whole"
    );
    let resent = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed) - up_before;
    let rest = page.len() as u64 - committed;
    eprintln!(
        "killed with {committed} of {} bytes committed; {resent} bytes up after the restart for the {rest} left",
        page.len()
    );
    assert!(
        resent < rest + rest / 10 + 64 * 1024,
        "after the restart {resent} bytes went up for the {rest} the server lacked: it started over"
    );
}

#[test]
fn a_scan_altered_on_this_pc_is_not_sent_and_is_reported_until_imported_again() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    let page = jpeg(6, 200_000);
    write(&dir, "trang-12.jpg", &page);
    let book = book_with_scan(&dir, 12, "trang-12.jpg");
    assert!(agent.import(&book).status.success());
    let sha = sha256_hex(&page);
    let blob = blobs(&agent).pop().expect("the stored scan");
    let mut altered = page.clone();
    altered[150_000] ^= 1;
    std::fs::write(&blob, altered).expect("alter");

    agent.sync_ok();
    assert!(
        server_blob(&server, &sha).is_none(),
        "an altered scan was sent"
    );
    assert_eq!(server_partial_len(&server, &sha), 0, "not even in part");
    let status = agent.status();
    assert_eq!(status["scans"]["damaged"], 1, "{status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 1, "{status}");
    let shown = stdout(&agent.cmd(&["status"]));
    assert!(shown.contains("1 damaged on this PC"), "{shown}");

    // The official imports the page again: it is repaired and sent.
    assert!(agent.import(&book).status.success());
    let synced = agent.cmd(&["sync"]);
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert_eq!(
        server_blob(&server, &sha).map(|b| sha256_hex(&b)),
        Some(sha.clone()),
        "the server holds the scan whole"
    );
    let status = agent.status();
    assert_eq!(status["scans"]["damaged"], 0, "{status}");
    assert_eq!(status["scans"]["stored"], 1, "{status}");
}

#[test]
fn records_keep_flowing_while_the_server_cannot_take_scans() {
    let Some(url) =
        hotich_tests::pg::postgres_url("records_keep_flowing_while_the_server_cannot_take_scans")
    else {
        return;
    };
    // PostgreSQL without --blobs: the server takes records but no scans.
    let db = hotich_tests::pg::TempDatabase::create(&url);
    let server = hotich_tests::TestServer::start_with(hotich_tests::Db::Postgres(db), &[]);
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    write(&dir, "trang-13.jpg", &jpeg(7, 50_000));
    assert!(
        agent
            .import(&book_with_scan(&dir, 13, "trang-13.jpg"))
            .status
            .success()
    );
    assert!(agent.import(&book_with_scan(&dir, 14, "")).status.success());

    let started = std::time::Instant::now();
    let synced = agent.cmd(&["sync", "--timeout", "60"]);
    assert!(
        synced.status.success(),
        "{}{}",
        stdout(&synced),
        stderr(&synced)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the records waited behind the scan: {:?}",
        started.elapsed()
    );
    assert_eq!(server.export().len(), 2, "both records are stored");
    let status = agent.status();
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["scans"]["waiting"], 1, "{status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 1, "{status}");

    // The centre knows the record still lacks its scan, and says which.
    let missing = server.missing_scans();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0]["nat_key"]
            .as_str()
            .is_some_and(|k| k.ends_with("/13")),
        "{missing:?}"
    );
    assert_eq!(missing[0]["scans"][0]["stored"], false, "{missing:?}");
    // And the dashboard shows the count on the commune's row.
    let it = server.add_viewer("it-66", &[]);
    let page = server.get_as(&it, "/?lang=en");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("data-missing-scans=\"1\""),
        "{}",
        page.text()
    );
}

/// The commune's records as `hotich-server export` gives them, by entry number.
fn exported_by_entry(server: &hotich_tests::TestServer) -> std::collections::BTreeMap<u64, Value> {
    server
        .export()
        .into_iter()
        .map(|row| {
            (
                row["record"]["register"]["entry"].as_u64().expect("entry"),
                row,
            )
        })
        .collect()
}

#[test]
fn a_page_scanned_later_attaches_to_its_record_by_its_book_entry_and_is_not_a_correction() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    // The book is typed before its pages are scanned.
    assert!(agent.import(&book_with_scan(&dir, 20, "")).status.success());
    let synced = agent.cmd(&["sync"]);
    assert!(synced.status.success(), "{}", stderr(&synced));
    let before = exported_by_entry(&server);
    let hash = before[&20]["content_hash"].clone();
    assert!(before[&20].get("scans").is_none(), "{:?}", before[&20]);

    // Later the page is scanned and the same row imported with it.
    let page = jpeg(9, 400_000);
    write(&dir, "trang-20.jpg", &page);
    let sha = sha256_hex(&page);
    let out = agent.import(&book_with_scan(&dir, 20, "trang-20.jpg"));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("scans attached to 1 records already in the journal"),
        "{text}"
    );
    let status = agent.status();
    assert_eq!(status["journal_entries"], 1, "no new entry: {status}");
    assert_eq!(status["scans"]["records_waiting_for_scans"], 1, "{status}");
    let waiting = &status["records_waiting_for_scans"][0];
    assert_eq!(waiting["scans"][0]["sha256"], sha.as_str(), "{status}");
    assert_eq!(waiting["scans"][0]["via"], "attachment", "{status}");
    let shown = stdout(&agent.cmd(&["status"]));
    assert!(shown.contains("(attached later)"), "{shown}");
    // Importing it again attaches nothing more.
    let again = agent.import(&book_with_scan(&dir, 20, "trang-20.jpg"));
    assert!(
        stdout(&again).contains("1 already present"),
        "{}",
        stdout(&again)
    );

    agent.sync_ok();
    assert_eq!(
        server_blob(&server, &sha).map(|b| sha256_hex(&b)),
        Some(sha.clone()),
        "the server holds the scan whole"
    );
    let after = exported_by_entry(&server);
    assert_eq!(after.len(), 1, "still one record centrally: {after:?}");
    assert_eq!(after[&20]["content_hash"], hash, "the record is unchanged");
    assert_eq!(
        after[&20]["scans"],
        serde_json::json!([{"sha256": sha, "bytes": page.len(), "media_type": "image/jpeg",
                            "attached": true, "stored": true}]),
        "{:?}",
        after[&20]
    );
    assert!(server.missing_scans().is_empty());
    let status = agent.status();
    assert_eq!(status["scans"]["records_waiting_for_scans"], 0, "{status}");
    assert_eq!(status["scans"]["stored"], 1, "{status}");
}

#[test]
fn an_attachment_to_a_record_of_another_commune_is_refused_as_unknown() {
    let server = hotich_tests::TestServer::start();
    let ours = server.add_agent("00004");
    let theirs = server.add_agent("00005");
    let agent = TestAgent::init(&server.url(), &ours, "00004");
    let dir = agent.dir.path().join("so");
    assert!(agent.import(&book_with_scan(&dir, 21, "")).status.success());
    assert!(agent.cmd(&["sync"]).status.success());
    let hash = server.export()[0]["content_hash"]
        .as_str()
        .expect("hash")
        .to_string();
    let body_for = |sha: &str, seq: Option<u64>| {
        let mut one = serde_json::json!({"record": hash, "scan": {
            "sha256": sha, "bytes": 10, "media_type": "image/jpeg"}});
        if let Some(seq) = seq {
            one["seq"] = seq.into();
        }
        serde_json::json!({ "attachments": [one] })
    };
    let send = |token: &str, body: serde_json::Value| {
        let answer = hotich_tests::http::request(
            server.addr,
            "POST",
            "/api/v1/attachments",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .expect("attachments");
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["results"].clone()
    };
    // Without a seq (as agents before it sent): found by commune and hash.
    let unknown = serde_json::json!(["unknown_record"]);
    let without_seq = body_for(&"ab".repeat(32), None);
    assert_eq!(send(&theirs, without_seq.clone()), unknown);
    assert!(server.missing_scans().is_empty(), "nothing was attached");
    assert_eq!(send(&ours, without_seq), serde_json::json!(["stored"]));
    let missing = server.missing_scans();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0]["scans"][0]["attached"], true, "{missing:?}");
    // With the record's seq (today's agents): found through that entry's
    // link, which must name this content; another seq is not its record.
    assert_eq!(send(&ours, body_for(&"cd".repeat(32), Some(2))), unknown);
    assert_eq!(send(&theirs, body_for(&"cd".repeat(32), Some(1))), unknown);
    assert_eq!(
        send(&ours, body_for(&"cd".repeat(32), Some(1))),
        serde_json::json!(["stored"])
    );
    // Without seqs only a few are looked up per request (each may read the
    // commune's records in turn); the rest wait, "unknown", for a later one.
    let many: Vec<serde_json::Value> = (0..10u8)
        .map(|i| body_for(&format!("{i:02x}").repeat(32), None)["attachments"][0].clone())
        .collect();
    let answer = send(&ours, serde_json::json!({ "attachments": many }));
    let stored = serde_json::json!("stored");
    assert_eq!(
        answer
            .as_array()
            .map(|a| a.iter().filter(|r| **r == stored).count()),
        Some(8),
        "{answer}"
    );
    assert_eq!(answer[8], "unknown_record", "{answer}");
    assert_eq!(answer[9], "unknown_record", "{answer}");
    let missing = server.missing_scans();
    assert_eq!(
        missing[0]["scans"].as_array().map(Vec::len),
        Some(10),
        "{missing:?}"
    );
}

/// Regression: a chunk arriving while the same agent's previous one was
/// still being received (its connection cut on a bad link, the server not
/// yet aware) deadlocked a server worker thread, and with it every request:
/// the cut-link scan test stalled for minutes.
#[test]
fn a_second_scan_chunk_while_one_is_in_flight_is_refused_and_the_server_keeps_answering() {
    use std::io::Write;
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let sha = "cd".repeat(32);
    let path = format!("/api/v1/blobs/{sha}?offset=0&length=1000");
    // The first chunk: headers and a little of the body, then nothing.
    let mut first = std::net::TcpStream::connect(server.addr).expect("connect");
    write!(
        first,
        "PATCH {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         x-chunk-sha256: {}\r\nContent-Length: 1000\r\n\r\n0123456789",
        server.addr,
        "00".repeat(32)
    )
    .expect("first chunk");
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..3 {
        let second = hotich_tests::http::request(
            server.addr,
            "PATCH",
            &path,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("x-chunk-sha256", &"00".repeat(32)),
            ],
            &[0u8; 1000],
        )
        .expect("an answer to the second chunk");
        assert_eq!(second.status, 429, "{}", second.text());
    }
    let health = hotich_tests::http::request(server.addr, "GET", "/healthz", &[], b"")
        .expect("the server still answers");
    assert_eq!(health.status, 200);
    drop(first);
}
