use super::*;
use hotich_protocol::PreparedRecord;
use hotich_protocol::{CivilDate, prepare_record};
use hotich_tests::records::minimal_birth;
use serde_json::json;

fn rec(entry: u32, name: &str, supersedes: Option<ContentHash>) -> PreparedRecord {
    let mut v = minimal_birth("00004", entry, name);
    if let Some(s) = supersedes {
        v["supersedes"] = json!(s.to_hex());
    }
    prepare_record(v, CivilDate::parse("2026-01-01").unwrap()).unwrap()
}

fn append(j: &mut Journal, records: &[&PreparedRecord]) -> Vec<AppendOutcome> {
    let batch: Vec<_> = records.iter().map(|r| (*r, None)).collect();
    j.append_batch(&batch).unwrap()
}

#[test]
fn duplicates_conflicts_and_corrections() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let a = rec(1, "An", None);
    let a_again = rec(1, "An", None);
    let other = rec(1, "Bình", None);
    let fix = rec(1, "Ân", Some(a.hash));
    let stale_fix = rec(1, "Anh", Some(a.hash));
    let central_fix = rec(1, "Ánh", Some(ContentHash::from_bytes([7; 32])));
    let out = append(
        &mut j,
        &[&a, &a_again, &other, &fix, &stale_fix, &central_fix],
    );
    assert_eq!(out[0], AppendOutcome::Accepted { seq: 1 });
    assert_eq!(out[1], AppendOutcome::AlreadyPresent { seq: 1 });
    match &out[2] {
        AppendOutcome::Conflict {
            existing_seq,
            existing_hash,
            problem,
        } => {
            assert_eq!((*existing_seq, *existing_hash), (1, a.hash));
            assert!(problem.reason.contains("supersedes"), "{problem:?}");
            assert_eq!(problem.code, "conflict-new");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out[3], AppendOutcome::Accepted { seq: 2 });
    match &out[4] {
        AppendOutcome::Conflict {
            existing_seq,
            problem,
            ..
        } => {
            assert_eq!(*existing_seq, 2);
            assert!(problem.reason.contains("current version"), "{problem:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out[5],
        AppendOutcome::Accepted { seq: 3 },
        "corrects a version held centrally"
    );
    assert_eq!(
        j.counts().unwrap(),
        Counts {
            total: 3,
            pending: 3,
            acked: 0,
            parked: 0,
            closed: 0
        }
    );
    assert_eq!(j.verify().unwrap().first_broken, None);
}

#[test]
fn entries_cannot_be_updated_or_deleted_through_sql() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    append(&mut j, &[&rec(1, "An", None)]);
    let update = j
        .conn
        .execute("UPDATE entries SET record = '{}' WHERE seq = 1", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = j.conn.execute("DELETE FROM entries WHERE seq = 1", []);
    assert!(delete.unwrap_err().to_string().contains("never deleted"));
    // Not even the envelope (who entered it), which is outside the hash.
    let update = j
        .conn
        .execute("UPDATE entries SET official = 'X' WHERE seq = 1", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = j.conn.execute("DELETE FROM uploads WHERE seq = 1", []);
    assert!(delete.unwrap_err().to_string().contains("never deleted"));
    // Upload state may change.
    j.apply_results(&[(1, Resolution::Held { note: None })])
        .unwrap();
    assert_eq!(j.counts().unwrap().acked, 1);
}

/// The journal's own index, not only the append logic, refuses a content
/// held already (schema 9 keys it by natural key, then hash).
#[test]
fn the_same_content_cannot_be_inserted_twice_through_sql() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let a = rec(1, "An", None);
    append(&mut j, &[&a]);
    let again = j.conn.execute(
        "INSERT INTO entries (seq, content_hash, chain_hash, record, nat_key, entered_at)
         SELECT 2, content_hash, chain_hash, record, nat_key, entered_at FROM entries WHERE seq = 1",
        [],
    );
    assert!(
        again.unwrap_err().to_string().contains("UNIQUE"),
        "a second copy of entry 1 was stored"
    );
    assert_eq!(j.counts().unwrap().total, 1);
}

#[test]
fn verify_names_an_entry_without_upload_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let recs: Vec<_> = (1..=3).map(|i| rec(i, "An", None)).collect();
    append(&mut j, &recs.iter().collect::<Vec<_>>());
    j.conn
        .execute_batch("DROP TRIGGER uploads_are_never_deleted; DELETE FROM uploads WHERE seq = 2")
        .unwrap();
    let (seq, why) = j.verify().unwrap().first_broken.unwrap();
    assert_eq!(seq, 2);
    assert!(why.contains("upload state"), "{why}");
}

#[test]
fn verify_names_the_first_altered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let recs: Vec<_> = (1..=5).map(|i| rec(i, "An", None)).collect();
    append(&mut j, &recs.iter().collect::<Vec<_>>());
    j.conn
        .execute_batch("DROP TRIGGER entries_are_append_only")
        .unwrap();
    j.conn
        .execute(
            "UPDATE entries SET record = replace(record, 'An', 'Am') WHERE seq = 3",
            [],
        )
        .unwrap();
    let report = j.verify().unwrap();
    let (seq, why) = report.first_broken.unwrap();
    assert_eq!(seq, 3);
    assert!(why.contains("content hash"), "{why}");
}

#[test]
fn verify_sees_a_removed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let recs: Vec<_> = (1..=4).map(|i| rec(i, "An", None)).collect();
    append(&mut j, &recs.iter().collect::<Vec<_>>());
    j.conn
        .execute_batch("DROP TRIGGER entries_are_never_deleted")
        .unwrap();
    j.conn
        .execute("DELETE FROM entries WHERE seq = 2", [])
        .unwrap();
    let (seq, why) = j.verify().unwrap().first_broken.unwrap();
    assert_eq!(seq, 3);
    assert!(why.contains("#2 is missing"), "{why}");
}

/// Several writers (as importers and the service are) append at once:
/// nothing is lost and the chain stays one line.
#[test]
fn concurrent_writers_keep_one_linear_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    Journal::open(&path).unwrap();
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut j = Journal::open(&path).unwrap();
                let mut accepted = 0;
                for batch in 0..10u32 {
                    let recs: Vec<_> = (0..25u32)
                        .map(|i| rec(w * 10_000 + batch * 100 + i + 1, "An", None))
                        .collect();
                    let out = append(&mut j, &recs.iter().collect::<Vec<_>>());
                    accepted += out
                        .iter()
                        .filter(|o| matches!(o, AppendOutcome::Accepted { .. }))
                        .count();
                }
                accepted
            })
        })
        .collect();
    let accepted: usize = writers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(accepted, 4 * 10 * 25);
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.counts().unwrap().total, 1000);
    let report = j.verify().unwrap();
    assert_eq!(
        report,
        VerifyReport {
            entries: 1000,
            first_broken: None,
            scans: Vec::new(),
        }
    );
}

#[test]
fn reconcile_candidates_and_resend() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    let recs: Vec<_> = (1..=6).map(|i| rec(i, "An", None)).collect();
    append(&mut j, &recs.iter().collect::<Vec<_>>());
    j.apply_results(&[
        (1, Resolution::Held { note: None }),
        (2, Resolution::Held { note: None }),
        (5, Resolution::Held { note: None }),
    ])
    .unwrap();
    // Server says it holds 1..=3: pending 3 is a candidate, acked 5 too.
    let c: Vec<u64> = j
        .entries_to_reconcile(3, 0, 100)
        .unwrap()
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(c, vec![3, 5]);
    j.apply_results(&[(5, Resolution::Resend)]).unwrap();
    assert_eq!(j.counts().unwrap().pending, 4);
    let batch = j.next_batch(Timestamp::now(), 10, usize::MAX).unwrap();
    assert_eq!(
        batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4, 5, 6]
    );
}

#[test]
fn parked_entries_requeue() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
    append(&mut j, &[&rec(1, "An", None), &rec(2, "An", None)]);
    j.apply_results(&[(
        1,
        Resolution::Parked {
            reason: "bad".into(),
        },
    )])
    .unwrap();
    assert_eq!(j.parked(10).unwrap()[0].reason, "bad");
    assert_eq!(
        j.next_batch(Timestamp::now(), 10, usize::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(j.requeue(None).unwrap(), 1);
    assert_eq!(j.counts().unwrap().parked, 0);
    assert_eq!(
        j.next_batch(Timestamp::now(), 10, usize::MAX)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn sync_state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = Journal::open(&path).unwrap();
    let state = SyncState {
        failures: 7,
        next_attempt_at: Timestamp(1_800_000_000_000),
        last_error: Some("cannot reach the server".into()),
        reachable: Some(false),
        ..SyncState::default()
    };
    j.save_sync_state(&state).unwrap();
    drop(j);
    assert_eq!(Journal::open(&path).unwrap().sync_state().unwrap(), state);
}
