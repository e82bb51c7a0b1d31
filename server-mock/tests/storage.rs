//! The storage suite: the same checks against SQLite and PostgreSQL.
//! PostgreSQL runs when HOTICH_TEST_POSTGRES_URL is set, and says it was
//! skipped otherwise.

use std::sync::Arc;

use hotich_protocol::wire::{EntryResult, EntryStatus, Heartbeat};
use hotich_protocol::{CivilDate, ContentHash, GENESIS, Timestamp, chain_hash, prepare_record};
use hotich_server::auth::token_hash;
use hotich_server::store::postgres::PgStore;
use hotich_server::store::sqlite::SqliteStore;
use hotich_server::store::{CheckedEntry, NewAgent, Storage, Verdict};
use hotich_tests::RecordGen;
use hotich_tests::pg::{TempDatabase, postgres_url};
use serde_json::{Value, json};

fn entries(
    records: &[Value],
    first_seq: u64,
    prev: hotich_protocol::ChainHash,
) -> Vec<CheckedEntry> {
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let mut chain = prev;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = prepare_record(r.clone(), today).expect("valid record");
            let seq = first_seq + i as u64;
            let next = chain_hash(&chain, seq, &p.hash);
            let e = CheckedEntry {
                seq,
                claimed_hash: p.hash,
                prev: chain,
                chain: next,
                entered_at: Some(Timestamp::now()),
                verdict: Verdict::Valid(p),
                raw: None,
                envelope: Default::default(),
            };
            chain = next;
            e
        })
        .collect()
}

fn statuses(r: &[EntryResult]) -> Vec<EntryStatus> {
    r.iter().map(|x| x.status).collect()
}

async fn new_agent<S: Storage>(s: &S, commune: &str, token: &str) -> i64 {
    s.add_agent(NewAgent {
        commune: commune.into(),
        name: Some(format!("UBND {commune}")),
        province: Some("66".into()),
        area: None,
        token_hash: token_hash(token),
    })
    .await
    .unwrap()
    .id
}

async fn export_all<S: Storage>(s: &S, commune: Option<&str>) -> Vec<ContentHash> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = s.export_page(commune, after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(page.iter().map(|r| r.content_hash));
    }
    out
}

async fn agents_and_tokens<S: Storage>(s: S) {
    let id = new_agent(&s, "00004", "hts_a").await;
    let found = s
        .agent_by_token(token_hash("hts_a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.commune.as_str()), (id, "00004"));
    assert!(
        s.agent_by_token(token_hash("hts_b"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.revoke_agent(id).await.unwrap());
    assert!(!s.revoke_agent(9999).await.unwrap());
    assert!(
        s.agent_by_token(token_hash("hts_a"))
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    let list = s.list_agents().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].revoked_at.is_some());
}

async fn store_resend_and_chain<S: Storage>(s: S) {
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(1, "00004");
    let recs: Vec<Value> = (0..50).map(|i| g.record(i)).collect();
    let batch = entries(&recs, 1, GENESIS);
    let last_chain = batch.last().unwrap().chain;
    let r = s.commit_batch(id, "00004", batch.clone()).await.unwrap();
    assert!(r.iter().all(|x| x.status == EntryStatus::Stored));
    let r = s.commit_batch(id, "00004", batch).await.unwrap();
    assert!(
        r.iter().all(|x| x.status == EntryStatus::Duplicate),
        "a resent batch stores nothing"
    );
    let chain = s.chain_state(id).await.unwrap();
    assert_eq!(
        (chain.contiguous_seq, chain.highest_seq, chain.alerts),
        (50, 50, 0)
    );
    assert_eq!(chain.head, Some(last_chain));
    assert_eq!(export_all(&s, None).await.len(), 50);
    // What the have/lack exchange reads: this agent's links, each naming
    // its stored record; another agent (of another commune) holds none.
    let links = s.links_between(id, 1, 3).await.unwrap();
    let sent = entries(&recs[..3], 1, GENESIS);
    for e in &sent {
        assert_eq!(
            links.get(&e.seq).map(|l| (l.content_hash, l.held)),
            Some((e.claimed_hash, true)),
            "seq {}",
            e.seq
        );
    }
    let other = new_agent(&s, "00007", "u").await;
    assert!(s.links_between(other, 1, 3).await.unwrap().is_empty());
}

async fn concurrent_identical_batches_store_once<S: Storage>(s: S) {
    let s = Arc::new(s);
    let id = new_agent(&*s, "00004", "t").await;
    let g = RecordGen::new(2, "00004");
    let recs: Vec<Value> = (0..300).map(|i| g.record(i)).collect();
    let batch = entries(&recs, 1, GENESIS);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (s, b) = (s.clone(), batch.clone());
            tokio::spawn(async move { s.commit_batch(id, "00004", b).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        stored += t
            .await
            .unwrap()
            .iter()
            .filter(|r| r.status == EntryStatus::Stored)
            .count();
    }
    assert_eq!(
        stored, 300,
        "each record stored by exactly one of the copies"
    );
    let exported = export_all(&*s, None).await;
    let unique: std::collections::HashSet<_> = exported.iter().collect();
    assert_eq!((exported.len(), unique.len()), (300, 300));
    assert_eq!(
        s.alerts(id).await.unwrap(),
        vec![],
        "resends are not alerts"
    );
}

async fn conflicts_and_corrections<S: Storage>(s: S) {
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(3, "00004");
    let original = g.record(7);
    let mut other = original.clone();
    other["notes"] = json!("another version");
    let r = s
        .commit_batch(
            id,
            "00004",
            entries(std::slice::from_ref(&original), 1, GENESIS),
        )
        .await
        .unwrap();
    let original_hash = entries(std::slice::from_ref(&original), 1, GENESIS)[0].claimed_hash;
    assert_eq!(statuses(&r), vec![EntryStatus::Stored]);
    let prev = s.chain_state(id).await.unwrap().head.unwrap();
    let r = s
        .commit_batch(id, "00004", entries(&[other.clone()], 2, prev))
        .await
        .unwrap();
    assert_eq!(statuses(&r), vec![EntryStatus::Conflict]);
    assert_eq!(r[0].existing, Some(original_hash));
    let mut fix = other.clone();
    fix["supersedes"] = json!(original_hash.to_hex());
    let prev = s.chain_state(id).await.unwrap().head.unwrap();
    let r = s
        .commit_batch(id, "00004", entries(&[fix], 3, prev))
        .await
        .unwrap();
    assert_eq!(statuses(&r), vec![EntryStatus::Stored]);
    assert_eq!(
        export_all(&s, None).await.len(),
        2,
        "the original and its correction, never the conflict"
    );
    // An invalid verdict is rejected with its reason but its link is kept.
    let prev = s.chain_state(id).await.unwrap().head.unwrap();
    let mut bad = entries(&[g.record(8)], 4, prev);
    bad[0].verdict = Verdict::Invalid(vec![hotich_protocol::FieldError::new(
        "child.sex",
        "\"x\" is not male or female",
    )]);
    let r = s.commit_batch(id, "00004", bad).await.unwrap();
    assert_eq!(statuses(&r), vec![EntryStatus::Rejected]);
    assert!(r[0].reason.as_deref().unwrap().contains("child.sex"));
    assert_eq!(s.chain_state(id).await.unwrap().contiguous_seq, 4);
}

/// What `recover` downloads: every entry of the agent's chain in order,
/// stored ones with their record (whichever agent stored it), refused ones
/// with the content they were sent with; and the one-time codes it needs.
async fn journal_for_recovery<S: Storage>(s: S) {
    let first = new_agent(&s, "00004", "t1").await;
    let id = new_agent(&s, "00004", "t2").await;
    let g = RecordGen::new(4, "00004");
    let theirs = g.record(9);
    s.commit_batch(
        first,
        "00004",
        entries(std::slice::from_ref(&theirs), 1, GENESIS),
    )
    .await
    .unwrap();
    let mut mine = theirs.clone();
    mine["notes"] = json!("typed again, differently");
    let same = g.record(9);
    let mut batch = entries(&[g.record(1), same, mine.clone(), g.record(2)], 1, GENESIS);
    batch[3].verdict = Verdict::Invalid(vec![hotich_protocol::FieldError::new(
        "child.sex",
        "\"x\" is not male or female",
    )]);
    batch[3].raw = Some("{\"kind\":\"birth\",\"sent\":\"as is\"}".into());
    let r = s.commit_batch(id, "00004", batch.clone()).await.unwrap();
    assert_eq!(
        statuses(&r),
        vec![
            EntryStatus::Stored,
            EntryStatus::Duplicate,
            EntryStatus::Conflict,
            EntryStatus::Rejected
        ]
    );
    let page = s.journal_page(id, 1, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        page.iter().map(|e| e.stored).collect::<Vec<_>>(),
        vec![true, true, false, false]
    );
    for (row, sent) in page.iter().zip(&batch) {
        assert_eq!(
            (row.content_hash, row.chain),
            (sent.claimed_hash, sent.chain)
        );
    }
    let canonical = |v: &Value| {
        prepare_record(v.clone(), CivilDate::today_in_vietnam(Timestamp::now()))
            .unwrap()
            .canonical
    };
    assert_eq!(
        page[1].record.as_deref(),
        Some(canonical(&g.record(9)).as_str())
    );
    assert_eq!(page[2].record.as_deref(), Some(canonical(&mine).as_str()));
    assert_eq!(
        page[3].record.as_deref(),
        Some("{\"kind\":\"birth\",\"sent\":\"as is\"}")
    );
    // The exchange's view of the same links: held for the stored and the
    // duplicate (another agent's record), not for the two refused.
    let links = s.links_between(id, 1, 4).await.unwrap();
    assert_eq!(
        (1..=4).map(|q| links[&q].held).collect::<Vec<_>>(),
        vec![true, true, false, false]
    );
    let window = s.journal_page(id, 2, 2).await.unwrap();
    assert_eq!(window.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    // The chain at one entry, from the links alone (the receipt's check),
    // for a refused entry as for a stored one.
    assert_eq!(s.chain_at(id, 4).await.unwrap(), Some(batch[3].chain));
    assert_eq!(s.chain_at(id, 1).await.unwrap(), Some(batch[0].chain));
    assert_eq!(s.chain_at(id, 5).await.unwrap(), None);
    assert_eq!(s.chain_at(first, 2).await.unwrap(), None, "another agent's");

    let code = token_hash("hrc_1");
    s.add_recovery_code(id, code, Timestamp::now().plus_ms(3_600_000))
        .await
        .unwrap();
    assert!(s.recovery_code_valid(id, code).await.unwrap());
    assert!(
        !s.recovery_code_valid(first, code).await.unwrap(),
        "another agent's"
    );
    s.use_recovery_code(id, code).await.unwrap();
    assert!(!s.recovery_code_valid(id, code).await.unwrap(), "spent");
    let old = token_hash("hrc_2");
    s.add_recovery_code(id, old, Timestamp::now().plus_ms(-1))
        .await
        .unwrap();
    assert!(!s.recovery_code_valid(id, old).await.unwrap(), "expired");
}

async fn gaps_and_rewrites_are_alerts<S: Storage>(s: S) {
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(4, "00004");
    let recs: Vec<Value> = (0..6).map(|i| g.record(i)).collect();
    let all = entries(&recs, 1, GENESIS);
    s.commit_batch(id, "00004", all[..2].to_vec())
        .await
        .unwrap();
    // Entries 5..6 before 3..4: a gap.
    s.commit_batch(id, "00004", all[4..].to_vec())
        .await
        .unwrap();
    let chain = s.chain_state(id).await.unwrap();
    assert_eq!(
        (chain.contiguous_seq, chain.highest_seq, chain.alerts),
        (2, 6, 1)
    );
    // The gap fills: the prefix grows over it.
    s.commit_batch(id, "00004", all[2..4].to_vec())
        .await
        .unwrap();
    assert_eq!(s.chain_state(id).await.unwrap().contiguous_seq, 6);
    // Entry 2 again with other content: an alert; the first version stays.
    let other = entries(&[g.record(100)], 2, all[0].chain);
    let r = s.commit_batch(id, "00004", other).await.unwrap();
    assert_eq!(
        statuses(&r),
        vec![EntryStatus::Stored],
        "the new record itself is kept"
    );
    let alerts = s.alerts(id).await.unwrap();
    assert_eq!(
        alerts.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        vec!["gap", "rewrite"]
    );
    let chain = s.chain_state(id).await.unwrap();
    assert_eq!(
        chain.head,
        Some(all[5].chain),
        "the stored chain is not overwritten"
    );
}

async fn export_by_commune_and_heartbeats<S: Storage>(s: S) {
    let a = new_agent(&s, "00004", "a").await;
    let b = new_agent(&s, "00005", "b").await;
    let ra: Vec<Value> = (0..10)
        .map(|i| RecordGen::new(5, "00004").record(i))
        .collect();
    let rb: Vec<Value> = (0..4)
        .map(|i| RecordGen::new(5, "00005").record(i))
        .collect();
    s.commit_batch(a, "00004", entries(&ra, 1, GENESIS))
        .await
        .unwrap();
    s.commit_batch(b, "00005", entries(&rb, 1, GENESIS))
        .await
        .unwrap();
    assert_eq!(export_all(&s, Some("00005")).await.len(), 4);
    assert_eq!(export_all(&s, None).await.len(), 14);
    let row = &s.export_page(Some("00005"), 0, 1).await.unwrap()[0];
    assert_eq!(
        (row.agent_id, row.seq, row.commune_code.as_str()),
        (b, 1, "00005")
    );
    let record: Value = serde_json::from_str(row.record.get()).unwrap();
    assert_eq!(record["commune_code"], "00005");
    let beat = Heartbeat {
        sent_at: Timestamp::now(),
        pending: 3,
        ..Heartbeat::default()
    };
    s.record_heartbeat(a, &beat, Timestamp::now())
        .await
        .unwrap();
    let list = s.list_agents().await.unwrap();
    assert!(
        list.iter()
            .find(|x| x.id == a)
            .unwrap()
            .last_seen_at
            .is_some()
    );
}

/// If checking stopped after the first chunk (a panic, a cancelled task),
/// the store once committed that part: a batch commits whole or not at all.
async fn a_batch_cut_short_commits_nothing<S: Storage>(s: S) {
    use hotich_server::store::{BatchError, Checked};
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(4, "00004");
    let recs: Vec<Value> = (0..20).map(|i| g.record(i)).collect();
    let all = entries(&recs, 1, GENESIS);
    let (tx, rx) = tokio::sync::mpsc::channel::<Checked<()>>(4);
    tx.send(Checked::Chunk(all[..10].to_vec())).await.unwrap();
    drop(tx);
    let outcome = s.commit_chunks(id, "00004", rx).await;
    assert!(
        matches!(outcome, Err(BatchError::Incomplete)),
        "{outcome:?}"
    );
    assert!(export_all(&s, None).await.is_empty());
    assert_eq!(s.chain_state(id).await.unwrap().highest_seq, 0);
    // The whole batch, ended properly, commits.
    let (tx, rx) = tokio::sync::mpsc::channel::<Checked<()>>(4);
    tx.send(Checked::Chunk(all[..10].to_vec())).await.unwrap();
    tx.send(Checked::Chunk(all[10..].to_vec())).await.unwrap();
    tx.send(Checked::Done).await.unwrap();
    drop(tx);
    assert_eq!(s.commit_chunks(id, "00004", rx).await.unwrap().len(), 20);
    assert_eq!(export_all(&s, None).await.len(), 20);
}

/// A batch of entries that all break the chain writes a capped number of
/// alert rows, across its chunks, with one row summing up the rest.
async fn alerts_are_capped_per_batch<S: Storage>(s: S) {
    use hotich_server::store::MAX_ALERTS_PER_BATCH;
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(5, "00004");
    let recs: Vec<Value> = (0..600).map(|i| g.record(i)).collect();
    // Entries 2..=601 with no entry 1 before them and a prev of their own:
    // each one a fork or a gap.
    let mut batch = entries(&recs, 2, hotich_protocol::ChainHash::from_bytes([3; 32]));
    for e in &mut batch {
        e.prev = hotich_protocol::ChainHash::from_bytes([9; 32]);
    }
    s.commit_batch(id, "00004", batch).await.unwrap();
    let alerts = s.alerts(id).await.unwrap();
    assert_eq!(alerts.len(), MAX_ALERTS_PER_BATCH + 1, "{alerts:?}");
    let summary = alerts.last().unwrap();
    assert_eq!(summary.kind, "more");
    assert!(
        summary.detail.contains("590 more alerts"),
        "{}",
        summary.detail
    );
}

/// What the dashboard reads: heartbeats (grouped), history, device changes,
/// scopes, records per commune and per book, viewers and sessions.
async fn monitoring_rows_history_and_viewers<S: Storage>(s: S) {
    use hotich_server::store::monitor::{BeatIn, NewViewer, Scope};
    let a = new_agent(&s, "00004", "a").await;
    let other = s
        .add_agent(NewAgent {
            commune: "00007".into(),
            name: None,
            province: Some("01".into()),
            area: Some("Ba Vì".into()),
            token_hash: token_hash("c"),
        })
        .await
        .unwrap()
        .id;
    let records: Vec<Value> = (0..12)
        .map(|i| RecordGen::new(9, "00004").record(i))
        .collect();
    s.commit_batch(a, "00004", entries(&records, 1, GENESIS))
        .await
        .unwrap();
    let now = Timestamp::now();
    let beat = |device: &str, error: bool| Heartbeat {
        sent_at: now,
        pending: 2,
        device: Some(device.into()),
        last_success_at: Some(Timestamp(now.millis() - 60_000)),
        last_error_at: error.then_some(now),
        last_error: error.then(|| "connection refused".into()),
        last_error_kind: error.then(|| "connect".into()),
        ..Heartbeat::default()
    };
    // One group: a first contact, a failure, then another PC with the token.
    s.record_heartbeats(vec![
        BeatIn {
            agent_id: a,
            beat: beat("pc-1", false),
            at: now,
        },
        BeatIn {
            agent_id: a,
            beat: beat("pc-1", true),
            at: now,
        },
        BeatIn {
            agent_id: a,
            beat: beat("pc-2", true),
            at: now,
        },
        BeatIn {
            agent_id: other,
            beat: beat("pc-9", false),
            at: now,
        },
    ])
    .await
    .unwrap();
    let (history, alerts) = s.commune_history("00004", 10).await.unwrap();
    let kinds: Vec<&str> = history.iter().rev().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, vec!["contact", "error", "device"], "{history:?}");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "two-devices");
    // Scopes.
    let all = s.status_rows(&Scope::national()).await.unwrap();
    assert_eq!(all.len(), 2);
    let province = Scope {
        province: Some("66".into()),
        area: None,
    };
    let rows = s.status_rows(&province).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].heartbeat.as_ref().unwrap().device.as_deref(),
        Some("pc-2")
    );
    assert_eq!(rows[0].alerts, 1);
    let area = Scope {
        province: Some("01".into()),
        area: Some("ba vi".into()),
    };
    assert_eq!(s.status_rows(&area).await.unwrap()[0].agent.id, other);
    // Counts.
    let counts = s
        .records_per_commune(vec!["00004".into(), "00007".into()])
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![("00004".to_string(), 12), ("00007".to_string(), 0)]
    );
    let books = s.book_counts("00004").await.unwrap();
    assert_eq!(books.iter().map(|b| b.records).sum::<u64>(), 12);
    // Viewers and sessions.
    let v = s
        .add_viewer(NewViewer {
            name: "an".into(),
            password_hash: "$argon2id$x".into(),
            province: Some("66".into()),
            area: None,
            admin: true,
        })
        .await
        .unwrap();
    assert!(
        s.add_viewer(NewViewer {
            name: "an".into(),
            password_hash: "x".into(),
            province: None,
            area: None,
            admin: false,
        })
        .await
        .is_err(),
        "names are unique"
    );
    let (found, hash) = s.viewer_login("an").await.unwrap().unwrap();
    assert_eq!(
        (found.id, hash.as_str(), found.admin),
        (v.id, "$argon2id$x", true)
    );
    let later = Timestamp(now.millis() + 3_600_000);
    s.create_session([7; 32], v.id, later).await.unwrap();
    assert_eq!(
        s.session_viewer([7; 32], now).await.unwrap().unwrap().id,
        v.id
    );
    assert!(
        s.session_viewer([7; 32], later).await.unwrap().is_none(),
        "expired"
    );
    s.end_session([7; 32]).await.unwrap();
    assert!(s.session_viewer([7; 32], now).await.unwrap().is_none());
    s.create_session([8; 32], v.id, later).await.unwrap();
    assert!(s.revoke_viewer(v.id).await.unwrap());
    assert!(
        s.session_viewer([8; 32], now).await.unwrap().is_none(),
        "revoked"
    );
    assert!(s.viewer_login("an").await.unwrap().is_none());
}

/// A link is written once; if its entry was refused the first time and is
/// stored when sent again (the server's checks changed in between), the
/// link must come to name the record, or the journal and the have/lack
/// exchange would go on calling it refused.
async fn a_link_refused_then_stored_names_its_record<S: Storage>(s: S) {
    let id = new_agent(&s, "00004", "t").await;
    let g = RecordGen::new(7, "00004");
    let batch = entries(&[g.record(1), g.record(2)], 1, GENESIS);
    let mut refused = batch.clone();
    refused[1].verdict = Verdict::Invalid(vec![hotich_protocol::FieldError::new(
        "child.sex",
        "refused by an older rule",
    )]);
    refused[1].raw = Some("{\"as\":\"sent\"}".into());
    let r = s.commit_batch(id, "00004", refused).await.unwrap();
    assert_eq!(
        statuses(&r),
        vec![EntryStatus::Stored, EntryStatus::Rejected]
    );
    assert!(!s.links_between(id, 2, 2).await.unwrap()[&2].held);
    let r = s.commit_batch(id, "00004", batch).await.unwrap();
    assert_eq!(
        statuses(&r),
        vec![EntryStatus::Duplicate, EntryStatus::Stored]
    );
    let links = s.links_between(id, 1, 2).await.unwrap();
    assert!(links[&1].held && links[&2].held);
    let page = s.journal_page(id, 1, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.stored).collect::<Vec<_>>(),
        vec![true, true]
    );
    assert_ne!(page[1].record.as_deref(), Some("{\"as\":\"sent\"}"));
    assert_eq!(s.chain_state(id).await.unwrap().alerts, 0);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = SqliteStore::open(&dir.path().join("central.db")).unwrap();
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = postgres_url(concat!("postgres::", stringify!($name))) else { return };
                    let db = tokio::task::spawn_blocking(move || TempDatabase::create(&url)).await.unwrap();
                    let store = PgStore::connect(&db.url, 8).await.unwrap();
                    super::$name(store).await;
                    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
                }
            )*
        }
    };
}

suite!(
    agents_and_tokens,
    a_link_refused_then_stored_names_its_record,
    journal_for_recovery,
    store_resend_and_chain,
    concurrent_identical_batches_store_once,
    conflicts_and_corrections,
    gaps_and_rewrites_are_alerts,
    export_by_commune_and_heartbeats,
    a_batch_cut_short_commits_nothing,
    alerts_are_capped_per_batch,
    monitoring_rows_history_and_viewers,
);

/// PostgreSQL's migration 7 traded the per-row foreign key checks of
/// `records` and `links` for agents that cannot be deleted or renumbered, so
/// a record's agent still always exists; and natural keys compare as bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_agents_are_never_deleted_or_renumbered() {
    let Some(url) = postgres_url("postgres_agents_are_never_deleted_or_renumbered") else {
        return;
    };
    let db = tokio::task::spawn_blocking(move || TempDatabase::create(&url))
        .await
        .unwrap();
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    let id = new_agent(&store, "00004", "t").await;
    let g = RecordGen::new(4, "00004");
    let recs: Vec<Value> = (0..5).map(|i| g.record(i)).collect();
    store
        .commit_batch(id, "00004", entries(&recs, 1, GENESIS))
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let refused = |e: tokio_postgres::Error| {
        e.as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default()
    };
    let deleted = client
        .execute("DELETE FROM agents WHERE id = $1", &[&id])
        .await;
    assert!(
        refused(deleted.unwrap_err()).contains("never deleted"),
        "an agent was deleted"
    );
    let renumbered = client
        .execute("UPDATE agents SET id = id + 1000 WHERE id = $1", &[&id])
        .await;
    assert!(refused(renumbered.unwrap_err()).contains("renumbered"));
    // Revoking (any other change) is still allowed, and nothing was lost.
    assert!(store.revoke_agent(id).await.unwrap());
    assert_eq!(export_all(&store, None).await.len(), 5);
    for (table, column) in [("heads", "nat_key"), ("records", "commune")] {
        let collation: Option<String> = client
            .query_one(
                "SELECT collation_name::text FROM information_schema.columns
                 WHERE table_name = $1 AND column_name = $2",
                &[&table, &column],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(collation.as_deref(), Some("C"), "{table}.{column}");
    }
    drop(client);
    let _ = driver.await;
    drop(store);
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}

/// PostgreSQL's migration 8 drops the index by content hash: the links of
/// records stored before it come to name their records, so an agent's
/// journal and the have/lack exchange read the same after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_links_name_their_records_after_the_move_to_natural_keys() {
    let Some(url) =
        postgres_url("postgres_links_name_their_records_after_the_move_to_natural_keys")
    else {
        return;
    };
    let db = tokio::task::spawn_blocking(move || TempDatabase::create(&url))
        .await
        .unwrap();
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    let id = new_agent(&store, "00004", "t").await;
    let g = RecordGen::new(8, "00004");
    let mut batch = entries(&[g.record(1), g.record(2), g.record(3)], 1, GENESIS);
    batch[2].verdict = Verdict::Invalid(vec![hotich_protocol::FieldError::new(
        "child.sex",
        "refused",
    )]);
    batch[2].raw = Some("{}".into());
    batch[0].envelope.official = Some("Lan".into());
    store.commit_batch(id, "00004", batch).await.unwrap();
    drop(store);
    // Back to schema 7 as it was: no record ids, the index by hash.
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    client
        .batch_execute(
            "ALTER TABLE links DROP COLUMN record_id;
             ALTER TABLE record_scans DROP COLUMN record_id;
             ALTER TABLE record_envelopes ADD COLUMN record_hash BYTEA;
             UPDATE record_envelopes e SET record_hash = r.hash FROM records r WHERE r.id = e.record_id;
             ALTER TABLE record_envelopes DROP COLUMN record_id;
             DROP INDEX records_by_key;
             CREATE UNIQUE INDEX records_by_hash ON records(commune, hash);
             UPDATE hotich_schema SET version = 7;",
        )
        .await
        .unwrap();
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    let links = store.links_between(id, 1, 3).await.unwrap();
    assert_eq!(
        (1..=3).map(|q| links[&q].held).collect::<Vec<_>>(),
        vec![true, true, false]
    );
    let page = store.journal_page(id, 1, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.stored).collect::<Vec<_>>(),
        vec![true, true, false]
    );
    let exported = store.export_page(None, 0, 10).await.unwrap();
    assert_eq!(
        exported
            .iter()
            .map(|r| r.official.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("Lan"), None]
    );
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'records' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        indexes.contains(&"records_by_key".to_string())
            && !indexes.contains(&"records_by_hash".to_string()),
        "{indexes:?}"
    );
    drop(client);
    let _ = driver.await;
    drop(store);
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}
