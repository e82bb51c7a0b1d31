//! The server over real HTTP on loopback, on both backends: authentication,
//! compressed bodies, per-entry results, limits, have/lack, the chain, and
//! fault injection.

use std::time::{Duration, Instant};

use hotich_protocol::wire::{ChainState, EntryStatus, ErrorBody, HaveResponse, UploadResponse};
use hotich_protocol::{GENESIS, Timestamp};
use hotich_server::chaos::{ChaosConfig, FailMode};
use hotich_server::commands;
use hotich_server::config::{Database, ServerConfig};
use hotich_tests::RecordGen;
use hotich_tests::batch::{batch, gzip, zstd};
use hotich_tests::pg::{TempDatabase, postgres_url};
use serde_json::{Value, json};

struct Running {
    url: String,
    database: Database,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), hotich_server::ServerError>>>,
    _dir: tempfile::TempDir,
    _pg: Option<TempDatabase>,
}

impl Running {
    async fn token(&self, commune: &str) -> String {
        commands::add_agent(&self.database, commune, None, None, None)
            .await
            .unwrap()
            .token
    }

    async fn exported(&self) -> Vec<Value> {
        let mut out = Vec::new();
        commands::export(&self.database, None, &mut out)
            .await
            .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        if let Some(pg) = self._pg.take() {
            tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

async fn start(backend: Backend, tune: impl FnOnce(&mut ServerConfig)) -> Option<Running> {
    let dir = tempfile::tempdir().unwrap();
    let (database, pg) = match backend {
        Backend::Sqlite => (Database::Sqlite(dir.path().join("central.db")), None),
        Backend::Postgres => {
            let url = postgres_url("http tests on PostgreSQL")?;
            let db = tokio::task::spawn_blocking(move || TempDatabase::create(&url))
                .await
                .unwrap();
            (Database::Postgres(db.url.clone()), Some(db))
        }
    };
    let mut config = ServerConfig::new(database.clone());
    tune(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(hotich_server::run(config, listener, async move {
        let _ = rx.await;
    }));
    let url = format!("http://{addr}");
    // Ready when it answers.
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{url}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(Running {
        url,
        database,
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
        _pg: pg,
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn post(
    url: &str,
    path: &str,
    token: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.unwrap()
}

async fn upload(r: &Running, token: &str, body: Vec<u8>) -> reqwest::Response {
    post(&r.url, "/api/v1/upload", token, zstd(&body), Some("zstd")).await
}

fn records(seed: u64, commune: &str, n: u64) -> Vec<Value> {
    let g = RecordGen::new(seed, commune);
    (0..n).map(|i| g.record(i)).collect()
}

async fn error_of(resp: reqwest::Response) -> (u16, ErrorBody) {
    let status = resp.status().as_u16();
    let body: ErrorBody = resp.json().await.expect("error bodies are JSON");
    (status, body)
}

async fn auth_is_required(backend: Backend) {
    let Some(r) = start(backend, |_| {}).await else {
        return;
    };
    let token = r.token("00004").await;
    let b = batch(&records(1, "00004", 2), 1, GENESIS);
    let resp = client()
        .post(format!("{}/api/v1/upload", r.url))
        .body(b.json.clone())
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.error.as_str()), (401, "unauthorized"));
    let (status, _) = error_of(upload(&r, "hts_wrong", b.json.clone()).await).await;
    assert_eq!(status, 401);
    let resp = client()
        .get(format!("{}/api/v1/chain", r.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        upload(&r, &token, b.json.clone()).await.status().as_u16(),
        200
    );
    // Revoked: refused from the next request on.
    let id = commands::list_agents(&r.database).await.unwrap()[0].id;
    assert!(commands::revoke_agent(&r.database, id).await.unwrap());
    let (status, body) = error_of(upload(&r, &token, b.json).await).await;
    assert_eq!(status, 401);
    assert!(body.message.contains("revoked"), "{}", body.message);
    r.stop().await;
}

async fn compressed_bodies_and_per_entry_results(backend: Backend) {
    let Some(r) = start(backend, |_| {}).await else {
        return;
    };
    let token = r.token("00004").await;
    let recs = records(2, "00004", 30);
    let b1 = batch(&recs[..10], 1, GENESIS);
    let b2 = batch(&recs[10..20], 11, b1.last_chain);
    let b3 = batch(&recs[20..], 21, b2.last_chain);
    for (body, enc) in [
        (zstd(&b1.json), Some("zstd")),
        (gzip(&b2.json), Some("gzip")),
        (b3.json.clone(), None),
    ] {
        let resp = post(&r.url, "/api/v1/upload", &token, body, enc).await;
        assert_eq!(resp.status().as_u16(), 200, "{enc:?}");
        let out: UploadResponse = resp.json().await.unwrap();
        assert_eq!(out.results.len(), 10);
        assert!(
            out.results.iter().all(|x| x.status == EntryStatus::Stored),
            "{enc:?}: {out:?}"
        );
        assert!(
            out.receipt.is_some(),
            "a stored batch has a receipt: {enc:?}"
        );
    }
    let again: UploadResponse = upload(&r, &token, b2.json).await.json().await.unwrap();
    assert!(
        again
            .results
            .iter()
            .all(|x| x.status == EntryStatus::Duplicate)
    );
    assert!(again.receipt.is_some(), "the same batch again: still held");
    let (viewer, password) = commands::add_viewer(&r.database, "scraper", None, None, false)
        .await
        .unwrap();
    let metrics = client()
        .get(format!("{}/metrics", r.url))
        .basic_auth(&viewer.name, Some(password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hotich_entries_total{outcome=\"stored\"} 30"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hotich_entries_total{outcome=\"duplicate\"} 10"),
        "{metrics}"
    );
    // Invalid records and a wrong hash: rejected one by one, with reasons.
    let mut bad = recs[0].clone();
    bad["registered_on"] = json!("2099-01-01");
    let mut b4 = batch(&[records(3, "00004", 1)[0].clone()], 31, b3.last_chain);
    let text = String::from_utf8(b4.json.clone()).unwrap();
    let canonical = hotich_protocol::canonical(&hotich_protocol::normalize(bad).unwrap()).unwrap();
    let good_record_start = text.find("\"record\":").unwrap() + "\"record\":".len();
    b4.json = format!("{}{}}}]}}", &text[..good_record_start], canonical).into_bytes();
    let out: UploadResponse = upload(&r, &token, b4.json).await.json().await.unwrap();
    assert_eq!(out.results[0].status, EntryStatus::Rejected);
    let reason = out.results[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("registered_on") && reason.contains("future"),
        "{reason}"
    );
    // Entries 11-20 again with other contents: the server keeps the first
    // version, so it signs no receipt for a chain it does not hold.
    let retyped: Vec<Value> = recs[10..20]
        .iter()
        .map(|rec| {
            let mut rec = rec.clone();
            rec["notes"] = json!("typed again, differently");
            rec
        })
        .collect();
    let rewrite = batch(&retyped, 11, b1.last_chain);
    let out: UploadResponse = upload(&r, &token, rewrite.json).await.json().await.unwrap();
    assert!(out.receipt.is_none(), "{out:?}");
    assert_eq!(r.exported().await.len(), 30);
    r.stop().await;
}

async fn other_communes_are_forbidden_and_nothing_is_stored(backend: Backend) {
    let Some(r) = start(backend, |_| {}).await else {
        return;
    };
    let token = r.token("00004").await;
    let mut recs = records(4, "00004", 3);
    recs.push(RecordGen::new(4, "00005").record(9));
    let (status, body) = error_of(upload(&r, &token, batch(&recs, 1, GENESIS).json).await).await;
    assert_eq!(status, 403);
    assert!(
        body.message.contains("00005") && body.message.contains("Nothing was stored"),
        "{}",
        body.message
    );
    assert!(r.exported().await.is_empty());
    r.stop().await;
}

async fn malformed_and_oversized_bodies_are_refused_and_the_server_keeps_serving(backend: Backend) {
    let Some(r) = start(backend, |c| c.limits.max_body_bytes = 256 * 1024).await else {
        return;
    };
    let token = r.token("00004").await;
    let (status, body) = error_of(upload(&r, &token, b"{\"entries\": [".to_vec()).await).await;
    assert_eq!((status, body.error.as_str()), (400, "bad_request"));
    let (status, body) = error_of(
        upload(
            &r,
            &token,
            br#"{"entries": [{"seq": "one", "hash": "x", "record": {}}]}"#.to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.message.contains("entry 0"), "{}", body.message);
    let (status, _) =
        error_of(upload(&r, &token, br#"{"entries": "all of them"}"#.to_vec()).await).await;
    assert_eq!(status, 400);
    // Too large as sent, and too large once decompressed (a zip bomb).
    let big = vec![b' '; 300 * 1024];
    let (status, body) =
        error_of(post(&r.url, "/api/v1/upload", &token, big.clone(), None).await).await;
    assert_eq!((status, body.error.as_str()), (413, "body_too_large"));
    let bomb = zstd(&vec![b' '; 8 * 1024 * 1024]);
    assert!(bomb.len() < 4096);
    let (status, _) =
        error_of(post(&r.url, "/api/v1/upload", &token, bomb, Some("zstd")).await).await;
    assert_eq!(status, 413);
    let (status, _) = error_of(
        post(
            &r.url,
            "/api/v1/upload",
            &token,
            b"\x28\xb5\x2f\xfd garbage".to_vec(),
            Some("zstd"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    // Still serving.
    let ok = upload(&r, &token, batch(&records(5, "00004", 2), 1, GENESIS).json).await;
    assert_eq!(ok.status().as_u16(), 200);
    let resp = client()
        .get(format!("{}/no/such", r.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.0, 404);
    r.stop().await;
}

async fn have_lack_and_chain_state(backend: Backend) {
    let Some(r) = start(backend, |_| {}).await else {
        return;
    };
    let token = r.token("00004").await;
    let recs = records(6, "00004", 8);
    let b = batch(&recs[..5], 1, GENESIS);
    assert_eq!(upload(&r, &token, b.json).await.status().as_u16(), 200);
    let unknown = batch(&recs[5..6], 6, b.last_chain).hashes[0];
    let have = |token: String, ask: serde_json::Value| {
        let url = r.url.clone();
        async move {
            post(
                &url,
                "/api/v1/have",
                &token,
                ask.to_string().into_bytes(),
                None,
            )
            .await
            .json::<HaveResponse>()
            .await
            .unwrap()
        }
    };
    let hashes = [b.hashes[0], unknown, b.hashes[4]];
    let answer = have(token.clone(), json!({"hashes": hashes, "seqs": [1, 6, 5]})).await;
    assert_eq!((answer.lacking, answer.unlinked), (vec![unknown], vec![6]));
    assert_eq!(
        (answer.chain.contiguous_seq, answer.chain.head),
        (5, Some(b.last_chain))
    );
    // A hash asked at another seq than its own is not this entry's.
    let answer = have(token.clone(), json!({"hashes": [b.hashes[0]], "seqs": [2]})).await;
    assert_eq!(
        (answer.lacking, answer.unlinked),
        (vec![b.hashes[0]], vec![2])
    );
    // Without seqs (an agent older than them) everything is "lacking": it
    // sends them again and hears "duplicate", never a wrong "held".
    let answer = have(token.clone(), json!({"hashes": hashes})).await;
    assert_eq!(answer.lacking, hashes.to_vec());
    // Another PC of the commune holds none of this one's entries.
    let other = r.token("00004").await;
    let answer = have(other, json!({"hashes": hashes, "seqs": [1, 6, 5]})).await;
    assert_eq!(answer.lacking, hashes.to_vec());
    assert_eq!(answer.unlinked, vec![1, 6, 5]);
    // Entry 8 without 6 and 7: a gap, recorded as an alert.
    let late = batch(
        &recs[7..8],
        8,
        hotich_protocol::ChainHash::from_bytes([1; 32]),
    );
    assert_eq!(upload(&r, &token, late.json).await.status().as_u16(), 200);
    let chain: ChainState = client()
        .get(format!("{}/api/v1/chain", r.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (chain.contiguous_seq, chain.highest_seq, chain.alerts),
        (5, 8, 1)
    );
    let beat = json!({"sent_at": Timestamp::now(), "pending": 2, "future_field": true});
    let resp = post(
        &r.url,
        "/api/v1/heartbeat",
        &token,
        beat.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    r.stop().await;
}

/// The same records sent at once by three PCs of one commune (one agent has
/// at most one upload in progress; see tests/tests/server_limits.rs).
async fn the_same_batch_twice_at_once_is_stored_once(backend: Backend) {
    let Some(r) = start(backend, |_| {}).await else {
        return;
    };
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(r.token("00004").await);
    }
    let b = batch(&records(7, "00004", 400), 1, GENESIS);
    let sends: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (url, body) = (r.url.clone(), zstd(&b.json));
            tokio::spawn(async move {
                post(&url, "/api/v1/upload", &token, body, Some("zstd"))
                    .await
                    .json::<UploadResponse>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    for s in sends {
        let out = s.await.unwrap();
        assert!(out.results.iter().all(|x| x.status.is_held()));
        stored += out
            .results
            .iter()
            .filter(|x| x.status == EntryStatus::Stored)
            .count();
    }
    assert_eq!(stored, 400);
    let exported = r.exported().await;
    let unique: std::collections::HashSet<String> = exported
        .iter()
        .map(|x| x["content_hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!((exported.len(), unique.len()), (400, 400));
    r.stop().await;
}

async fn injected_faults(backend: Backend) {
    let chaos = |fail_before: f64, mode: FailMode, drop_after: f64| ChaosConfig {
        seed: 7,
        fail_before,
        fail_mode: mode,
        drop_after_commit: drop_after,
        ..ChaosConfig::default()
    };
    // 503 before processing: nothing stored, Retry-After given.
    let Some(r) = start(backend, |c| {
        c.chaos = chaos(1.0, FailMode::Unavailable, 0.0)
    })
    .await
    else {
        return;
    };
    let token = r.token("00004").await;
    let resp = upload(&r, &token, batch(&records(8, "00004", 3), 1, GENESIS).json).await;
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(r.exported().await.is_empty());
    r.stop().await;
    // Reset before processing: the client sees a broken connection.
    let Some(r) = start(backend, |c| c.chaos = chaos(1.0, FailMode::Reset, 0.0)).await else {
        return;
    };
    let token = r.token("00004").await;
    let sent = client()
        .post(format!("{}/api/v1/upload", r.url))
        .bearer_auth(&token)
        .body(batch(&records(8, "00004", 3), 1, GENESIS).json)
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
    assert!(r.exported().await.is_empty());
    r.stop().await;
    // Committed, then the answer is lost: the client sees an error, the records are stored.
    let Some(r) = start(backend, |c| {
        c.chaos = chaos(0.0, FailMode::Unavailable, 1.0)
    })
    .await
    else {
        return;
    };
    let token = r.token("00004").await;
    let sent = client()
        .post(format!("{}/api/v1/upload", r.url))
        .bearer_auth(&token)
        .body(batch(&records(8, "00004", 3), 1, GENESIS).json)
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
    assert_eq!(r.exported().await.len(), 3);
    r.stop().await;
    // Delay.
    let Some(r) = start(backend, |c| {
        c.chaos = ChaosConfig {
            delay: 1.0,
            delay_ms: 300,
            ..ChaosConfig::default()
        }
    })
    .await
    else {
        return;
    };
    let token = r.token("00004").await;
    let t = Instant::now();
    let resp = client()
        .get(format!("{}/api/v1/chain", r.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    r.stop().await;
}

/// The same seed gives the same faults, request after request.
async fn faults_are_reproducible(backend: Backend) {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let Some(r) = start(backend, |c| {
            c.chaos = ChaosConfig {
                seed: 99,
                fail_before: 0.5,
                ..ChaosConfig::default()
            }
        })
        .await
        else {
            return;
        };
        let token = r.token("00004").await;
        let mut outcomes = Vec::new();
        for _ in 0..30 {
            let resp = client()
                .get(format!("{}/api/v1/chain", r.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            outcomes.push(resp.status().as_u16());
        }
        runs.push(outcomes);
        r.stop().await;
    }
    assert_eq!(runs[0], runs[1]);
    let failures = runs[0].iter().filter(|s| **s == 503).count();
    assert!((5..25).contains(&failures), "{failures} of 30");
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

both_backends!(
    auth_is_required,
    compressed_bodies_and_per_entry_results,
    other_communes_are_forbidden_and_nothing_is_stored,
    malformed_and_oversized_bodies_are_refused_and_the_server_keeps_serving,
    have_lack_and_chain_state,
    the_same_batch_twice_at_once_is_stored_once,
    injected_faults,
    faults_are_reproducible,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_its_own_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let Some(r) = start(Backend::Sqlite, |c| {
        c.tls = Some(hotich_server::config::TlsFiles {
            cert: cert_path.clone(),
            key: key_path.clone(),
        })
    })
    .await
    else {
        return;
    };
    let port = r.url.rsplit(':').next().unwrap().to_string();
    let token = r.token("00004").await;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}");
    let body = zstd(&batch(&records(9, "00004", 2), 1, GENESIS).json);
    let resp = client
        .post(format!("{url}/api/v1/upload"))
        .bearer_auth(&token)
        .header("content-encoding", "zstd")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Plain HTTP to the TLS port does not get an answer.
    assert!(
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
    r.stop().await;
}
