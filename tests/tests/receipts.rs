//! The centre answers each stored batch with a signed receipt the agent
//! keeps; `receipts verify` checks them against the journal and the
//! centre's published key, so a commune can prove what was acknowledged.

use hotich_tests::harness::{stderr, stdout};
use hotich_tests::{RecordGen, TestAgent, TestServer};
use serde_json::Value;

fn verify(agent: &TestAgent, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["receipts", "verify", "--json"];
    args.extend_from_slice(extra);
    let out = agent.cmd(&args);
    let text = stdout(&out);
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", stderr(&out)));
    (out.status.code(), report, text)
}

#[test]
fn every_stored_batch_has_a_receipt_and_one_altered_byte_fails_verification() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let records = RecordGen::new(7, "00004");
    for (from, to) in [(0, 300), (300, 500)] {
        let file = agent.dir.path().join(format!("so-{from}.jsonl"));
        records.write_jsonl(&file, from, to).expect("records");
        assert!(agent.import(&file).status.success());
        let synced = agent.cmd(&["sync"]);
        assert!(synced.status.success(), "{}", stderr(&synced));
    }

    let (code, report, text) = verify(&agent, &[]);
    assert_eq!(code, Some(0), "{text}");
    let receipts = report["receipts"].as_u64().expect("count");
    assert!(receipts >= 2, "one receipt per batch at least: {report}");
    assert_eq!(report["verified"], receipts, "{report}");
    assert_eq!(report["entries_acknowledged_through"], 500, "{report}");

    // The key is published; with it the check needs no network.
    let published =
        hotich_tests::http::request(server.addr, "GET", "/api/v1/receipt-key", &[], b"")
            .expect("receipt key");
    assert_eq!(published.status, 200);
    let key = published.json()["public_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(report["public_key"], key.as_str());
    drop(server);
    let (code, report, text) = verify(&agent, &["--key", &key]);
    assert_eq!(code, Some(0), "offline, with the key: {text}");
    assert_eq!(report["verified"], receipts, "{report}");

    // One byte of one signature changed: that receipt fails, by number.
    let journal = rusqlite::Connection::open(agent.journal_path()).expect("journal");
    let signature: String = journal
        .query_row("SELECT signature FROM receipts WHERE id = 1", [], |r| {
            r.get(0)
        })
        .expect("receipt 1");
    let mut altered = signature.into_bytes();
    altered[10] = if altered[10] == b'0' { b'1' } else { b'0' };
    journal
        .execute(
            "UPDATE receipts SET signature = ?1 WHERE id = 1",
            [String::from_utf8(altered).expect("hex")],
        )
        .expect("alter");
    let (code, report, text) = verify(&agent, &["--key", &key]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(report["verified"], receipts - 1, "{report}");
    assert_eq!(report["failed"][0]["receipt"], 1, "{report}");
    assert!(
        report["failed"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("signature does not match")),
        "{report}"
    );

    // A receipt for a chain this journal does not have fails too.
    journal
        .execute("UPDATE receipts SET chain = zeroblob(32) WHERE id = 2", [])
        .expect("alter chain");
    let out = agent.cmd(&["receipts", "verify", "--key", &key]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("receipt 2") && text.contains("not the one the centre signed"),
        "{text}"
    );
}
