//! Accuracy after entry: a second official types a book again (on another
//! PC) and the centre compares it with the first, field by field; a book is
//! declared closed with its count of entries and the report names the
//! entries never captured.

use hotich_tests::harness::{stderr, stdout};
use hotich_tests::records::minimal_birth;
use hotich_tests::{Db, TestAgent, TestServer};
use serde_json::{Value, json};

fn jsonl(agent: &TestAgent, name: &str, records: &[Value]) -> String {
    let path = agent.dir.path().join(name);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

fn name_of(entry: u32) -> String {
    format!("Nguyễn Văn Số {entry}")
}

fn book(entries: impl Iterator<Item = u32>) -> Vec<Value> {
    entries
        .map(|n| minimal_birth("00004", n, &name_of(n)))
        .collect()
}

fn official(agent: &TestAgent, name: &str) {
    let out = agent.cmd(&["official", "add", name]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn synced(agent: &TestAgent) {
    agent.sync_ok();
}

fn review(agent: &TestAgent) -> Value {
    let out = agent.cmd(&["review", "--json"]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    serde_json::from_str(stdout(&out).trim()).expect("review is JSON")
}

fn fields_of(review: &Value, entry: u32) -> Vec<String> {
    let key = format!("00004/birth/1998/1/{entry}");
    let found = review["discrepancies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["nat_key"] == key.as_str())
        .unwrap_or_else(|| panic!("no discrepancy for {key}: {review}"));
    found["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_string())
        .collect()
}

#[test]
fn two_officials_typing_the_same_500_entry_book_leave_495_verified_and_5_discrepancies_naming_the_fields()
 {
    two_officials_type_one_book(TestServer::start());
}

#[test]
fn double_keying_and_closed_books_on_postgresql() {
    let Some(url) = hotich_tests::pg::postgres_url("double_keying_and_closed_books_on_postgresql")
    else {
        return;
    };
    two_officials_type_one_book(TestServer::start_with(
        Db::Postgres(hotich_tests::pg::TempDatabase::create(&url)),
        &[],
    ));
    close_a_book_with_3_never_typed(TestServer::start_with(
        Db::Postgres(hotich_tests::pg::TempDatabase::create(&url)),
        &[],
    ));
}

fn two_officials_type_one_book(server: TestServer) {
    let first_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    let second_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    official(&first_pc, "Nguyễn Thị Lan");
    official(&second_pc, "Trần Văn Hùng");

    let first = book(1..=500);
    let out = first_pc.cmd(&["import", &jsonl(&first_pc, "so.jsonl", &first)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    synced(&first_pc);

    // The second official types the same book, with five slips.
    let mut second = first.clone();
    second[9]["child"]["full_name"] = json!("Nguyễn Văn Sô 10");
    second[19]["child"]["sex"] = json!("female");
    second[29]["registered_on"] = json!("1998-03-21");
    second[39]["child"]["date_of_birth"] = json!("1998-03-16");
    second[49]["child"]["full_name"] = json!("Nguyễn Văn Số 05");
    second[49]["child"]["sex"] = json!("female");
    let file = jsonl(&second_pc, "go-lai.jsonl", &second);
    let out = second_pc.cmd(&["import", "--second-keying", &file]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("500 not typed on this PC before"),
        "{}",
        stdout(&out)
    );
    synced(&second_pc);
    // A second keying is not a record: nothing new is stored centrally and
    // nothing parks as a conflict.
    assert_eq!(server.export().len(), 500);
    let status = stdout(&second_pc.cmd(&["status", "--json"]));
    let status: Value = serde_json::from_str(&status).expect("status JSON");
    assert_eq!(
        (&status["journal_entries"], &status["parked"]),
        (&json!(0), &json!(0)),
        "{status}"
    );

    let books = server.books("00004");
    assert_eq!(books.len(), 1, "{books:?}");
    assert_eq!(books[0]["captured"], 500);
    assert_eq!(books[0]["verified"], 495, "{books:?}");
    assert_eq!(books[0]["discrepancies"], 5, "{books:?}");

    // Either PC sees the centre's list, field by field.
    let listed = review(&first_pc);
    assert_eq!(listed["discrepancies"].as_array().map(Vec::len), Some(5));
    assert_eq!(fields_of(&listed, 10), ["child.full_name"]);
    assert_eq!(fields_of(&listed, 20), ["child.sex"]);
    assert_eq!(fields_of(&listed, 30), ["registered_on"]);
    assert_eq!(fields_of(&listed, 40), ["child.date_of_birth"]);
    assert_eq!(fields_of(&listed, 50), ["child.full_name", "child.sex"]);
    let text = second_pc.cmd(&["review"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(
        stdout(&text).contains("typed first by Nguyễn Thị Lan, second by Trần Văn Hùng"),
        "{}",
        stdout(&text)
    );

    // The official who typed a book cannot check it.
    let out = first_pc.cmd(&[
        "import",
        "--second-keying",
        &jsonl(&first_pc, "lai.jsonl", &second),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("a second keying must be by another official"),
        "{}",
        stdout(&out)
    );

    // A third look confirms the first keying of entry 10 (not by its typist).
    let key10 = "00004/birth/1998/1/10";
    let own = first_pc.cmd(&["review", "confirm", key10]);
    assert_eq!(own.status.code(), Some(2), "{}", stdout(&own));
    assert!(
        stderr(&own).contains("another official must confirm"),
        "{}",
        stderr(&own)
    );
    official(&first_pc, "Lê Văn Nam");
    let out = first_pc.cmd(&["review", "confirm", key10, "--official", "Lê Văn Nam"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // A correction of entry 20 to what the second official typed resolves it.
    let mut fix = second[19].clone();
    let hash20 = server
        .export()
        .iter()
        .find(|r| r["record"]["register"]["entry"] == 20)
        .map(|r| r["content_hash"].clone())
        .expect("entry 20 stored");
    fix["supersedes"] = hash20;
    fix["correction_reason"] = json!("Đối chiếu sổ gốc: giới tính nữ");
    let out = first_pc.cmd(&[
        "import",
        &jsonl(&first_pc, "cai-chinh.jsonl", &[fix]),
        "--official",
        "Nguyễn Thị Lan",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    synced(&first_pc);

    let listed = review(&second_pc);
    assert_eq!(
        listed["discrepancies"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    assert_eq!(listed["verified"], 497);
    // Each verified entry says by whom and how: the third look on entry 10,
    // the second keying on the others (entry 20 since its correction).
    let by = |entry: u32| {
        let key = format!("00004/birth/1998/1/{entry}");
        listed["verifications"]
            .as_array()
            .expect("verifications")
            .iter()
            .find(|v| v["nat_key"] == key.as_str())
            .map(|v| (v["official"].clone(), v["kind"].clone()))
            .unwrap_or_else(|| panic!("{key} not verified: {listed}"))
    };
    assert_eq!(by(10), (json!("Lê Văn Nam"), json!("confirm")));
    assert_eq!(by(20), (json!("Trần Văn Hùng"), json!("second")));
    assert_eq!(by(1), (json!("Trần Văn Hùng"), json!("second")));
    let books = server.books("00004");
    assert_eq!(
        (
            &books[0]["verified"],
            &books[0]["discrepancies"],
            &books[0]["corrected"]
        ),
        (&json!(497), &json!(3), &json!(1)),
        "{books:?}"
    );
    // Nothing was overwritten: the first keying, its correction, and no more.
    assert_eq!(server.export().len(), 501);
}

#[test]
fn a_book_closed_at_245_entries_with_3_never_typed_shows_those_3() {
    close_a_book_with_3_never_typed(TestServer::start());
}

fn close_a_book_with_3_never_typed(server: TestServer) {
    let agent = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    let typed = book((1..=245).filter(|n| ![7, 12, 13, 100, 200].contains(n)));
    let out = agent.cmd(&["import", &jsonl(&agent, "so.jsonl", &typed)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // What cannot be a book's declaration is refused, naming why.
    let close = |extra: &[&str]| {
        let mut args = vec![
            "book",
            "close",
            "--kind",
            "birth",
            "--year",
            "1998",
            "--book",
            "01",
            "--entries",
            "245",
        ];
        args.extend_from_slice(extra);
        agent.cmd(&args)
    };
    let out = close(&["--missing", "12,13"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("need a reason"), "{}", stderr(&out));
    let out = close(&["--missing", "300", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("entry 300"), "{}", stderr(&out));

    // Another PC of the office declared it first, with a wrong count, and
    // syncs after this one: the later declaration stands.
    let other_pc = TestAgent::init(&server.url(), &server.add_agent("00004"), "00004");
    let out = other_pc.cmd(&[
        "book",
        "close",
        "--kind",
        "birth",
        "--year",
        "1998",
        "--book",
        "1",
        "--entries",
        "250",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = close(&["--missing", "12,13", "--reason", "trang 4 bị rách"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Before any sync this PC already knows.
    let local = stdout(&agent.cmd(&["book", "report", "--local", "--json"]));
    let local: Value = serde_json::from_str(local.trim()).expect("report JSON");
    assert_eq!(local["missing"], json!([7, 100, 200]), "{local}");
    synced(&agent);
    synced(&other_pc);

    let books = server.books("00004");
    assert_eq!(books.len(), 1, "{books:?}");
    let b = &books[0];
    for key in [
        "commune_code",
        "former_commune_code",
        "kind",
        "year",
        "book",
        "captured",
        "declared",
        "missing",
        "declared_missing",
        "verified",
        "discrepancies",
        "refused",
        "corrected",
    ] {
        assert!(b.get(key).is_some(), "{key} missing from {b}");
    }
    assert_eq!(b["captured"], 240);
    assert_eq!(b["declared"], 245);
    assert_eq!(b["book"], "1");
    assert_eq!(b["missing"], json!([7, 100, 200]));
    assert_eq!(
        b["declared_missing"],
        json!([{"entry": 12, "reason": "trang 4 bị rách"}, {"entry": 13, "reason": "trang 4 bị rách"}])
    );
    // District IT sees the same on the commune's page.
    let it = server.add_viewer("it-tinh", &[]);
    let page = server.get_as(&it, "/commune/00004").text();
    let row = page
        .split("<tr data-book=\"00004/birth/1998/1\">")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row for the book: {page}"));
    assert!(row.contains(">240<") && row.contains(">245<"), "{row}");
    assert!(row.contains("7, 100, 200"), "{row}");
    assert!(row.contains("12, 13 (trang 4 bị rách)"), "{row}");
    // The agent's report asks the centre.
    let central = stdout(&agent.cmd(&["book", "report"]));
    assert!(
        central.contains("240 of 245 entries captured; never captured: 7, 100, 200"),
        "{central}"
    );
}
