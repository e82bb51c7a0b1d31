//! The sync engine in-process, against the real server library on port 0
//! (SQLite in a temp dir) with fault injection: answers that cover part of a
//! batch or carry a status the agent does not know, a batch too large for
//! the server, a server asking to wait (Retry-After), a connection reset.

use std::time::Duration;

use hotich_agent::client::ApiClient;
use hotich_agent::config::{AgentConfig, Secret, SyncSettings};
use hotich_agent::journal::{Journal, Origin};
use hotich_agent::sync::{RoundOutcome, SyncEngine, SyncEvent};
use hotich_protocol::{CivilDate, Timestamp, prepare_record};
use hotich_server::chaos::ChaosConfig;
use hotich_server::commands;
use hotich_server::config::{Database, ServerConfig};
use hotich_tests::RecordGen;

const COMMUNE: &str = "00004";

/// `hotich_server::run` on 127.0.0.1:0 over a SQLite file, stopped on drop.
struct Server {
    url: String,
    database: Database,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start(dir: &std::path::Path, tune: impl FnOnce(&mut ServerConfig)) -> Server {
        let database = Database::Sqlite(dir.join("central.db"));
        let mut config = ServerConfig::new(database.clone());
        tune(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(hotich_server::run(config, listener, async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("{url}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Server {
            url,
            database,
            stop: Some(tx),
        }
    }

    async fn token(&self) -> String {
        commands::add_agent(&self.database, COMMUNE, None, None, None)
            .await
            .unwrap()
            .token
    }

    async fn stored(&self) -> Vec<String> {
        let mut out = Vec::new();
        commands::export(&self.database, None, &mut out)
            .await
            .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["content_hash"].as_str().unwrap().to_string()
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn settings(batch: usize) -> SyncSettings {
    SyncSettings {
        request_timeout_secs: 5.0,
        connect_timeout_secs: 2.0,
        backoff_base_ms: 200,
        backoff_cap_secs: 600,
        call_attempts: 1,
        batch_initial: batch,
        batch_max: batch,
        ..SyncSettings::default()
    }
}

/// A journal in `dir` holding `n` generated records.
fn journal_with(dir: &std::path::Path, n: u64) -> Vec<String> {
    let mut journal = Journal::open(&dir.join("journal.db")).unwrap();
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let g = RecordGen::new(11, COMMUNE);
    let prepared: Vec<_> = (0..n)
        .map(|i| prepare_record(g.record(i), today).unwrap())
        .collect();
    let batch: Vec<_> = prepared
        .iter()
        .map(|p| {
            (
                p,
                Some(Origin {
                    file: "test.jsonl",
                    line: 1,
                    official: None,
                    correction_reason: None,
                }),
            )
        })
        .collect();
    journal.append_batch(&batch).unwrap();
    prepared.iter().map(|p| p.hash.to_hex()).collect()
}

fn engine(dir: &std::path::Path, server: &Server, token: &str, sync: SyncSettings) -> SyncEngine {
    let config = AgentConfig {
        server: server.url.clone(),
        token: Secret::new(token),
        commune: COMMUNE.into(),
        ca_cert: None,
        allow_insecure_http: false,
        sync: sync.clone(),
        upload_limit: Default::default(),
        officials: Vec::new(),
    };
    let journal = Journal::open(&dir.join("journal.db")).unwrap();
    SyncEngine::new(journal, ApiClient::new(&config).unwrap(), sync).unwrap()
}

async fn round(engine: &mut SyncEngine) -> (RoundOutcome, Vec<SyncEvent>) {
    let mut events = Vec::new();
    let report = engine.round(&mut |e| events.push(e)).await.unwrap();
    (report.outcome, events)
}

fn journal(dir: &std::path::Path) -> Journal {
    Journal::open(&dir.join("journal.db")).unwrap()
}

#[tokio::test]
async fn a_partial_answer_settles_what_was_answered_and_the_rest_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let hashes = journal_with(dir.path(), 10);
    let server = Server::start(dir.path(), |c| {
        c.chaos = ChaosConfig {
            truncate_answer: 1.0,
            ..ChaosConfig::default()
        }
    })
    .await;
    let token = server.token().await;
    let mut e = engine(dir.path(), &server, &token, settings(10));
    let (outcome, _) = round(&mut e).await;
    assert!(
        matches!(&outcome, RoundOutcome::Failed(err) if err.to_string().contains("answered for 5 of 10")),
        "{outcome:?}"
    );
    let counts = journal(dir.path()).counts().unwrap();
    assert_eq!((counts.acked, counts.pending), (5, 5));
    drop(e);
    drop(server);

    // The same database behind an honest server: the five unanswered
    // entries are found held (reconcile) or sent again; each is stored once.
    let server = Server::start(dir.path(), |_| {}).await;
    let mut e = engine(dir.path(), &server, &token, settings(10));
    let (outcome, _) = round(&mut e).await;
    assert_eq!(outcome, RoundOutcome::Drained);
    assert_eq!(journal(dir.path()).counts().unwrap().acked, 10);
    let mut stored = server.stored().await;
    stored.sort();
    let mut expected = hashes;
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn an_unknown_status_keeps_entries_pending_and_asks_again_later() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), 6);
    let server = Server::start(dir.path(), |c| {
        c.chaos = ChaosConfig {
            unknown_status: 1.0,
            ..ChaosConfig::default()
        }
    })
    .await;
    let token = server.token().await;
    let mut e = engine(dir.path(), &server, &token, settings(10));
    let (outcome, _) = round(&mut e).await;
    assert_eq!(outcome, RoundOutcome::Drained, "nothing else was due");
    let j = journal(dir.path());
    assert_eq!(j.counts().unwrap().pending, 6);
    let now = Timestamp::now();
    assert!(j.next_batch(now, 100, usize::MAX).unwrap().is_empty());
    let later = j
        .next_batch(now.plus_ms(2 * 3_600_000), 100, usize::MAX)
        .unwrap();
    assert_eq!(later.len(), 6, "asked about again in an hour");
}

#[tokio::test]
async fn a_batch_too_large_for_the_server_is_halved_until_it_fits() {
    let dir = tempfile::tempdir().unwrap();
    let hashes = journal_with(dir.path(), 40);
    // About 1.2 KB per entry: 40 never fit in 8 KB, 5 do; after a success
    // the batch doubles again and is halved by the next 413.
    let server = Server::start(dir.path(), |c| c.limits.max_body_bytes = 8 * 1024).await;
    let token = server.token().await;
    let mut e = engine(dir.path(), &server, &token, settings(40));
    let (outcome, _) = round(&mut e).await;
    assert_eq!(outcome, RoundOutcome::Drained);
    let j = journal(dir.path());
    assert_eq!(j.counts().unwrap().acked, 40);
    let batch = j.sync_state().unwrap().batch_size.unwrap();
    assert!(batch <= 10, "batch size {batch} after 413s");
    assert_eq!(server.stored().await.len(), hashes.len());
}

#[tokio::test]
async fn retry_after_from_the_server_sets_the_next_try() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), 3);
    let server = Server::start(dir.path(), |c| {
        c.chaos = ChaosConfig {
            fail_before: 1.0,
            retry_after_secs: 90,
            ..ChaosConfig::default()
        }
    })
    .await;
    let token = server.token().await;
    let mut e = engine(dir.path(), &server, &token, settings(10));
    let before = Timestamp::now();
    let (outcome, events) = round(&mut e).await;
    assert!(matches!(outcome, RoundOutcome::Failed(_)), "{outcome:?}");
    let state = journal(dir.path()).sync_state().unwrap();
    let wait_ms = state.next_attempt_at.millis() - before.millis();
    assert!(
        (90_000..=600_000 + 1000).contains(&wait_ms),
        "next try in {wait_ms} ms"
    );
    assert_eq!(state.failures, 1);
    assert!(
        events.iter().any(|e| matches!(e, SyncEvent::Failed { .. })),
        "{events:?}"
    );
    assert_eq!(journal(dir.path()).counts().unwrap().pending, 3);
}

/// The server commits, then the connection drops before the answer: the
/// agent halves the batch and asks about it before sending it again, so it
/// is acked without being sent twice.
#[tokio::test]
async fn a_connection_dropped_after_commit_halves_the_batch_and_asks_before_resending() {
    let dir = tempfile::tempdir().unwrap();
    let hashes = journal_with(dir.path(), 20);
    // Uploads are committed, then the connection is dropped unanswered.
    let server = Server::start(dir.path(), |c| {
        c.chaos = ChaosConfig {
            drop_after_commit: 1.0,
            ..ChaosConfig::default()
        }
    })
    .await;
    let token = server.token().await;
    let mut e = engine(dir.path(), &server, &token, settings(20));
    let (outcome, _) = round(&mut e).await;
    assert_eq!(outcome, RoundOutcome::Drained);
    let j = journal(dir.path());
    assert_eq!(j.counts().unwrap().acked, 20, "found held, not sent again");
    assert!(j.sync_state().unwrap().batch_size.unwrap() <= 10);
    assert_eq!(server.stored().await.len(), hashes.len());
}
