//! The server's decoders of untrusted bodies, on arbitrary input: the upload
//! check never panics and bounds what it emits (entries, message sizes);
//! over HTTP, raw and zstd bodies to upload and have get a JSON answer of
//! bounded size. Timings are in `bench`.

use hotich_protocol::validate::MAX_ERRORS;
use hotich_server::api::{Limits, check_upload};
use hotich_server::store::Checked;
use hotich_tests::RecordGen;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Runs the check and returns (entries emitted, longest message, refused).
fn check(bytes: &[u8], limits: Limits) -> (usize, usize, bool) {
    let mut entries = 0;
    let mut longest = 0;
    let mut refused = false;
    let mut done = false;
    check_upload(bytes, "00004", limits, &mut |msg| {
        match msg {
            Checked::Chunk(chunk) => {
                entries += chunk.len();
                for e in chunk {
                    if let hotich_server::store::Verdict::Invalid(errors) = e.verdict {
                        let reason = hotich_protocol::validate::summarize(&errors);
                        longest = longest.max(reason.len());
                    }
                }
            }
            Checked::Refused(e) => {
                refused = true;
                longest = longest.max(e.to_string().len());
            }
            Checked::Done => done = true,
        }
        true
    });
    assert!(refused ^ done, "a batch ends refused or done, once");
    (entries, longest, refused)
}

fn upload_like() -> impl Strategy<Value = Vec<u8>> {
    let g = RecordGen::new(1, "00004");
    let record = prop_oneof![
        Just(g.record(0)),
        Just(json!({"kind": "birth"})),
        Just(json!({"scans": vec![json!({}); 200]})),
        "\\PC{0,30}".prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
    ];
    let entry = (
        prop_oneof![
            Just(json!(1)),
            any::<u64>().prop_map(|n| json!(n)),
            Just(json!(-1)),
            Just(json!("1"))
        ],
        prop_oneof![
            Just(json!("0".repeat(64))),
            "[0-9a-f]{0,70}".prop_map(Value::String)
        ],
        proptest::option::of(prop_oneof![Just(json!("1".repeat(64))), Just(json!(null))]),
        record,
    )
        .prop_map(|(seq, hash, prev, record)| {
            let mut e = json!({"seq": seq, "hash": hash, "record": record});
            if let Some(p) = prev {
                e["prev"] = p;
            }
            e
        });
    prop_oneof![
        prop::collection::vec(entry, 0..30)
            .prop_map(|entries| serde_json::to_vec(&json!({"entries": entries})).unwrap()),
        prop::collection::vec(any::<u8>(), 0..500),
        "[\\[\\]{}\":,0-9a-z ]{0,200}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_upload_check_is_bounded(body in upload_like()) {
        let limits = Limits { max_entries: 20, ..Limits::default() };
        let (entries, longest, _) = check(&body, limits);
        prop_assert!(entries <= 20);
        // 20 problems and a count, each quoting at most a short piece.
        prop_assert!(longest <= (MAX_ERRORS + 1) * 250, "message of {longest} bytes");
    }
}

/// Over real HTTP (in process, port 0): whatever the body, raw or zstd, the
/// answer is JSON (or a 2xx with results), and small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_http_get_small_json_answers() {
    use hotich_server::commands;
    use hotich_server::config::{Database, ServerConfig};
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let dir = tempfile::tempdir().unwrap();
    let database = Database::Sqlite(dir.path().join("central.db"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hotich_server::run(
        ServerConfig::new(database.clone()),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let ready = reqwest::Client::new();
    for _ in 0..100 {
        if ready.get(format!("{url}/healthz")).send().await.is_ok() {
            break;
        }
        assert!(
            !server.is_finished(),
            "the server stopped: {:?}",
            server.await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let token = commands::add_agent(&database, "00004", None, None, None)
        .await
        .unwrap()
        .token;
    let client = reqwest::Client::new();
    let mut runner = TestRunner::deterministic();
    for case in 0..48 {
        let body = upload_like().new_tree(&mut runner).unwrap().current();
        let (body, encoding) = if case % 2 == 0 {
            (zstd::bulk::compress(&body, 3).unwrap(), Some("zstd"))
        } else {
            (body, None)
        };
        for path in ["/api/v1/upload", "/api/v1/have"] {
            let mut req = client
                .post(format!("{url}{path}"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(e) = encoding {
                req = req.header("content-encoding", e);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            assert!(
                bytes.len() < 64 * 1024,
                "{path}: answer of {} bytes",
                bytes.len()
            );
            let answer: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{path} {status}: not JSON ({e})"));
            if !status.is_success() {
                assert!(answer["error"].is_string(), "{path} {status}: {answer}");
            }
        }
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
