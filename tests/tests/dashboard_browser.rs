//! The dashboard in a real browser (headless Chromium), as IT staff of a
//! province see it: logging in through the form, each commune's state, the
//! failing one's error, no commune of another province, and the list
//! refreshing itself. Screenshots are kept in `target/test-artifacts`.

use std::time::Duration;

use hotich_tests::browser::Browser;
use hotich_tests::harness::{Db, TestServer};
use hotich_tests::http::Answer;
use serde_json::{Value, json};

fn beat(server: &TestServer, token: &str, body: Value) -> Answer {
    let answer = server.heartbeat(token, &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer
}

fn ago(secs: i64) -> String {
    hotich_tests::harness::rfc3339_ago(secs)
}

/// The commune rows the page shows: code, state and the row's visible text.
fn rows(browser: &mut Browser) -> Vec<(String, String, String)> {
    let listed = browser.eval(
        "JSON.stringify([...document.querySelectorAll('tr.commune')]\
         .map(r => [r.dataset.commune, r.dataset.state, r.innerText]))",
    );
    let listed: Vec<(String, String, String)> =
        serde_json::from_str(listed.as_str().expect("rows")).expect("rows JSON");
    listed
}

#[test]
fn a_province_viewer_sees_its_communes_states_in_a_real_browser() {
    let Some(mut browser) = Browser::start("a_province_viewer_sees_its_communes_states") else {
        return;
    };
    let server = TestServer::start_with(
        Db::Sqlite,
        &[
            "--silent-after-hours",
            "0.001",
            "--behind-after-minutes",
            "1",
            "--dashboard-refresh-secs",
            "1",
        ],
    );
    let dak_lak = |area: &str, name: &str| -> Vec<String> {
        ["--province", "Đắk Lắk", "--area", area, "--name", name]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let add = |commune: &str, flags: Vec<String>| {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        server.add_agent_with(commune, &flags)
    };
    let in_sync = add("00004", dak_lak("Krông Ana", "UBND xã Tân Lập"));
    let failing = add("00005", dak_lak("Krông Ana", "UBND xã Hòa An"));
    let behind = add("00006", dak_lak("Buôn Đôn", "UBND xã Ea Huar"));
    let two_pcs = add("00008", dak_lak("Buôn Đôn", "UBND xã Krông Na"));
    let _never = add("00009", dak_lak("Buôn Đôn", "UBND xã Ea Wer"));
    let silent = add("00010", dak_lak("Krông Ana", "UBND xã Dray Sáp"));
    let ha_noi = server.add_agent_with(
        "00101",
        &["--province", "Hà Nội", "--name", "UBND phường Ba Đình"],
    );
    // 3.6 s without contact is silent with these thresholds.
    beat(&server, &silent, json!({"sent_at": ago(0)}));
    std::thread::sleep(Duration::from_millis(3800));
    beat(
        &server,
        &in_sync,
        json!({"sent_at": ago(0), "last_success_at": ago(10), "agent_version": "0.1.0"}),
    );
    beat(
        &server,
        &failing,
        json!({"sent_at": ago(0), "pending": 12, "oldest_pending_at": ago(30),
            "last_success_at": ago(7200), "last_error_at": ago(5), "last_error_kind": "connect",
            "last_error": "không kết nối được máy chủ: connection refused"}),
    );
    beat(
        &server,
        &behind,
        json!({"sent_at": ago(0), "pending": 40, "oldest_pending_at": ago(600),
            "last_success_at": ago(20)}),
    );
    beat(
        &server,
        &two_pcs,
        json!({"sent_at": ago(0), "device": "pc-1"}),
    );
    beat(
        &server,
        &two_pcs,
        json!({"sent_at": ago(0), "device": "pc-2"}),
    );
    beat(&server, &ha_noi, json!({"sent_at": ago(0)}));
    let viewer = server.add_viewer("it-dak-lak", &["--province", "Dak Lak"]);

    // Without a session the dashboard sends the browser to the login form.
    browser.goto(&format!("{}/", server.url()));
    assert!(
        browser.location().contains("/login"),
        "{}",
        browser.location()
    );
    browser.screenshot("dashboard-login.png");
    let typed = format!(
        "document.getElementById('name').value = {};\
         document.getElementById('password').value = {};\
         document.getElementById('login').click(); true",
        json!(viewer.name),
        json!(viewer.password)
    );
    browser.eval(&typed);
    assert!(
        browser.wait_for(
            "location.pathname === '/' && document.readyState === 'complete' \
             && !!document.getElementById('communes')",
            Duration::from_secs(20)
        ),
        "no dashboard after logging in: {}",
        browser.location()
    );

    let seen = rows(&mut browser);
    let state_of = |code: &str| {
        seen.iter()
            .find(|(c, _, _)| c == code)
            .map(|(_, s, _)| s.as_str())
    };
    assert_eq!(state_of("00004"), Some("in_sync"), "{seen:?}");
    assert_eq!(state_of("00005"), Some("failing"), "{seen:?}");
    assert_eq!(state_of("00006"), Some("behind"), "{seen:?}");
    assert_eq!(state_of("00008"), Some("alert"), "{seen:?}");
    assert_eq!(state_of("00009"), Some("never_seen"), "{seen:?}");
    assert_eq!(state_of("00010"), Some("silent"), "{seen:?}");
    assert_eq!(seen.len(), 6, "{seen:?}");
    // Worst first, and what a person reads in each row.
    assert_eq!(seen[0].1, "alert", "{seen:?}");
    let failing_row = &seen.iter().find(|(c, _, _)| c == "00005").expect("00005").2;
    assert!(
        failing_row.contains("Đang lỗi") && failing_row.contains("connection refused"),
        "{failing_row}"
    );
    let text = browser.eval("document.body.innerText");
    let text = text.as_str().expect("page text");
    assert!(text.contains("Đắk Lắk"), "{text}");
    assert!(
        !text.contains("00101") && !text.contains("Ba Đình") && !text.contains("Hà Nội"),
        "another province's commune is shown:\n{text}"
    );
    browser.screenshot("dashboard-province.png");

    // The list refreshes itself: the failing commune recovers, and the page
    // shows it without being reloaded.
    browser.eval("window.stillTheSamePage = true");
    beat(
        &server,
        &failing,
        json!({"sent_at": ago(0), "pending": 0, "last_success_at": ago(0)}),
    );
    assert!(
        browser.wait_for(
            "window.stillTheSamePage === true && \
             document.querySelector('tr.commune[data-commune=\"00005\"]').dataset.state === 'in_sync'",
            Duration::from_secs(15)
        ),
        "the page did not refresh itself: {:?}",
        rows(&mut browser)
    );

    // A commune's page, and English on request.
    browser.goto(&format!("{}/commune/00008", server.url()));
    let text = browser.eval("document.body.innerText");
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("UBND xã Krông Na")),
        "{text}"
    );
    browser.screenshot("dashboard-commune.png");
    browser.goto(&format!("{}/?lang=en", server.url()));
    let text = browser.eval("document.body.innerText");
    let text = text.as_str().expect("page text");
    assert!(
        text.contains("Behind") && text.contains("Never seen"),
        "{text}"
    );
    // Another province's commune page is not there for this viewer.
    browser.goto(&format!("{}/commune/00101", server.url()));
    let text = browser.eval("document.body.innerText");
    assert!(!text.as_str().unwrap_or("").contains("Ba Đình"), "{text}");
}
