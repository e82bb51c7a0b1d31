//! District monitoring end to end: real server processes, agents' heartbeats
//! over HTTP, viewers logging in, the dashboard, the status API and
//! `/metrics`, each seen from inside and outside a viewer's scope.

use std::time::Duration;

use hotich_tests::harness::{Login, TestServer, stderr, stdout, wait_until};
use hotich_tests::http::{Answer, request};
use hotich_tests::{RecordGen, TestAgent};
use serde_json::{Value, json};

fn beat(server: &TestServer, token: &str, body: Value) -> Answer {
    server.heartbeat(token, &body)
}

fn ago(secs: i64) -> String {
    hotich_tests::harness::rfc3339_ago(secs)
}

fn status(server: &TestServer, login: &Login, query: &str) -> Value {
    let answer = server.get_as(login, &format!("/api/v1/status{query}"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn states(v: &Value) -> Vec<(String, String)> {
    v["communes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["commune"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Logs in through the form; returns the session cookie.
fn login_cookie(server: &TestServer, login: &Login) -> String {
    let answer = server.post_login(&login.name, &login.password);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let cookie = answer.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

fn get_with_cookie(server: &TestServer, cookie: &str, path: &str) -> Answer {
    request(server.addr, "GET", path, &[("Cookie", cookie)], b"").unwrap()
}

#[test]
fn each_commune_shows_its_state_to_the_viewers_of_its_scope_only() {
    // Short thresholds so "silent" and "behind" happen within the test.
    let server = TestServer::start_with(
        hotich_tests::harness::Db::Sqlite,
        &[
            "--silent-after-hours",
            "0.001",
            "--behind-after-minutes",
            "1",
        ],
    );
    let dak_lak = ["--province", "Dak Lak"];
    let in_sync = server.add_agent_with(
        "00004",
        &[
            &dak_lak[..],
            &["--area", "Krông Ana", "--name", "UBND xã Tân Lập"],
        ]
        .concat(),
    );
    let failing = server.add_agent_with(
        "00005",
        &[
            &dak_lak[..],
            &["--area", "Krông Ana", "--name", "UBND xã Hòa An"],
        ]
        .concat(),
    );
    let behind = server.add_agent_with("00006", &[&dak_lak[..], &["--area", "Buôn Đôn"]].concat());
    let alerting =
        server.add_agent_with("00008", &[&dak_lak[..], &["--area", "Buôn Đôn"]].concat());
    let _never = server.add_agent_with("00009", &dak_lak);
    let silent = server.add_agent_with("00101", &["--province", "Hà Nội"]);
    let now = ago(0);
    assert_eq!(beat(&server, &silent, json!({"sent_at": now})).status, 200);
    // 3.6 s without contact is silent with these thresholds.
    std::thread::sleep(Duration::from_millis(3800));
    let now = ago(0);
    let ok = beat(
        &server,
        &in_sync,
        json!({"sent_at": now, "agent_version": "0.9.1",
        "last_success_at": ago(10), "device": "journal-a", "free_disk_bytes": 5_000_000_000u64}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    beat(
        &server,
        &failing,
        json!({"sent_at": now, "pending": 12, "oldest_pending_at": ago(30),
        "last_success_at": ago(7200), "last_error_at": ago(5), "last_error_kind": "unauthorized",
        "last_error": "the server does not accept this agent's token",
        "warnings": [{"at": ago(5), "level": "WARN", "message": "upload failed error=401 <script>x</script>"}]}),
    );
    beat(
        &server,
        &behind,
        json!({"sent_at": now, "pending": 40, "oldest_pending_at": ago(600),
        "last_success_at": ago(20)}),
    );
    beat(
        &server,
        &alerting,
        json!({"sent_at": now, "device": "pc-1"}),
    );
    beat(
        &server,
        &alerting,
        json!({"sent_at": now, "device": "pc-2"}),
    );

    // A national viewer sees every commune, worst first.
    let national = server.add_viewer("quoc-gia", &[]);
    let all = status(&server, &national, "");
    assert_eq!(
        states(&all),
        vec![
            ("00008".into(), "alert".into()),
            ("00005".into(), "failing".into()),
            ("00101".into(), "silent".into()),
            ("00006".into(), "behind".into()),
            ("00009".into(), "never_seen".into()),
            ("00004".into(), "in_sync".into()),
        ]
    );
    let failing_row = &all["communes"][1];
    assert_eq!(failing_row["waiting"], 12);
    assert_eq!(failing_row["last_error"]["kind"], "unauthorized");
    assert_eq!(all["communes"][5]["agents"][0]["version"], "0.9.1");
    assert_eq!(all["totals"]["alert"], 1);
    // Filters: by province (by name, without accents), area, state, search.
    let hn = status(&server, &national, "?province=ha%20noi");
    assert_eq!(states(&hn), vec![("00101".into(), "silent".into())]);
    let area = status(&server, &national, "?province=66&area=krong%20ana");
    assert_eq!(states(&area).len(), 2);
    let behind_only = status(&server, &national, "?state=behind");
    assert_eq!(
        states(&behind_only),
        vec![("00006".into(), "behind".into())]
    );
    let search = status(&server, &national, "?q=hoa%20an");
    assert_eq!(states(&search), vec![("00005".into(), "failing".into())]);
    assert_eq!(
        server.get_as(&national, "/api/v1/status?state=red").status,
        400
    );

    // A province viewer sees its province; an area viewer its area.
    let province = server.add_viewer("dak-lak", &["--province", "66"]);
    let seen = states(&status(&server, &province, ""));
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|(c, _)| c != "00101"), "{seen:?}");
    let krong_ana = server.add_viewer("krong-ana", &["--province", "66", "--area", "Krong Ana"]);
    let seen = states(&status(&server, &krong_ana, ""));
    assert_eq!(
        seen.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        vec!["00005", "00004"]
    );
    // Asking for another province inside one's scope finds nothing.
    assert!(states(&status(&server, &province, "?province=01")).is_empty());

    // /metrics from the database, in the viewer's scope.
    let metrics = server.get_as(&province, "/metrics").text();
    for line in [
        "hotich_communes{state=\"failing\"} 1",
        "hotich_communes{state=\"silent\"} 0",
        "hotich_records_waiting 52",
        "hotich_http_request_duration_seconds_bucket{route=\"heartbeat\"",
    ] {
        assert!(metrics.contains(line), "{line}:\n{metrics}");
    }

    // Without credentials: 401 asking for Basic auth; a wrong password too.
    let anonymous = request(server.addr, "GET", "/api/v1/status", &[], b"").unwrap();
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    let wrong = Login {
        password: "wrong".into(),
        ..province.clone()
    };
    assert_eq!(server.get_as(&wrong, "/metrics").status, 401);

    // The dashboard page: Vietnamese by default, the error escaped, other
    // provinces absent.
    let cookie = login_cookie(&server, &province);
    let page = get_with_cookie(&server, &cookie, "/").text();
    assert!(
        page.contains("Đang lỗi") && page.contains("Tỉnh Đắk Lắk"),
        "{page}"
    );
    assert!(page.contains("data-commune=\"00005\" data-state=\"failing\""));
    assert!(!page.contains("00101"));
    let english = get_with_cookie(&server, &cookie, "/?lang=en").text();
    assert!(english.contains("Failing") && english.contains("In sync"));
    // The commune page: its agent, warnings (escaped), history.
    let commune = get_with_cookie(&server, &cookie, "/commune/00005").text();
    assert!(commune.contains("UBND xã Hòa An"));
    assert!(commune.contains("&lt;script&gt;x&lt;/script&gt;") && !commune.contains("<script>x"));
    assert!(commune.contains("data-kind=\"error\""), "{commune}");
    // The agent's kind of error in the viewer's language, its message as sent.
    assert!(
        commune.contains("Mã khóa của máy bị từ chối: the server does not accept this agent"),
        "{commune}"
    );
    assert!(
        english.contains("token was refused: the server does not accept this agent"),
        "{english}"
    );
    let alert_page = get_with_cookie(&server, &cookie, "/commune/00008").text();
    assert!(alert_page.contains("two-devices"), "{alert_page}");
    assert!(
        alert_page
            .contains("Hai máy dùng chung một mã: nhật ký pc-1 trước đây, nhật ký pc-2 bây giờ"),
        "{alert_page}"
    );
    assert_eq!(
        get_with_cookie(&server, &cookie, "/commune/00101").status,
        404
    );
    // Without a session the page sends people to the login form.
    let out = request(server.addr, "GET", "/commune/00005", &[], b"").unwrap();
    assert_eq!(out.status, 303);
    assert!(out.header("location").unwrap().starts_with("/login"));
}

#[test]
fn logins_are_limited_revocable_and_only_admins_manage_agents() {
    let server = TestServer::start();
    let admin = server.add_viewer("it-dak-lak", &["--province", "Đắk Lắk", "--admin"]);
    let plain = server.add_viewer("xem", &["--province", "66"]);
    let other_province = server.add_agent_with("00101", &["--province", "01"]);
    let _ = other_province;
    // A few wrong passwords, then even the right one is refused for a while.
    for _ in 0..5 {
        let out = server.post_login(&admin.name, "wrong");
        assert_eq!(out.status, 401);
        assert!(out.text().contains("Sai tên đăng nhập hoặc mật khẩu"));
    }
    let out = server.post_login(&admin.name, &admin.password);
    assert_eq!(out.status, 429, "{}", out.text());
    // The plain viewer may look but not manage agents.
    let cookie = login_cookie(&server, &plain);
    assert_eq!(get_with_cookie(&server, &cookie, "/agents").status, 403);
    // A form from another site is refused.
    let forged = request(
        server.addr,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        b"",
    )
    .unwrap();
    assert_eq!(forged.status, 403);
    // Revoking a viewer ends its session at once.
    let out = hotich_tests::harness::run(
        std::process::Command::new(hotich_tests::harness::server_bin()).args([
            "viewer",
            "revoke",
            "--database",
            &server.database,
            &plain.id.to_string(),
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(get_with_cookie(&server, &cookie, "/").status, 303);
    assert_eq!(server.get_as(&plain, "/api/v1/status").status, 401);
}

#[test]
fn an_admin_registers_and_revokes_agents_of_its_province_from_the_dashboard() {
    let server = TestServer::start();
    let admin = server.add_viewer("it-admin", &["--province", "66", "--admin"]);
    let elsewhere = server.add_agent_with("00101", &["--province", "01"]);
    let _ = elsewhere;
    // Log in after the limiter test's failures cannot touch this server.
    let cookie = login_cookie(&server, &admin);
    let form = "commune=00004&name=UBND+x%C3%A3+T%C3%A2n+L%E1%BA%ADp&area=Kr%C3%B4ng+Ana";
    let out = request(
        server.addr,
        "POST",
        "/agents",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .unwrap();
    assert_eq!(out.status, 200, "{}", out.text());
    let page = out.text();
    let token = page
        .split("id=\"token\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    assert!(token.starts_with("hts_"), "{page}");
    // The token works for the agent, which lands in the admin's province.
    assert_eq!(
        beat(&server, &token, json!({"sent_at": ago(0)})).status,
        200
    );
    let all = status(&server, &admin, "");
    assert_eq!(all["communes"][0]["commune"], "00004");
    assert_eq!(all["communes"][0]["area"], "Krông Ana");
    let list = get_with_cookie(&server, &cookie, "/agents").text();
    assert!(list.contains("00004") && !list.contains("00101"), "{list}");
    // Another province's agent cannot be revoked from here; its own can.
    let revoke = |id: &str| {
        request(
            server.addr,
            "POST",
            &format!("/agents/{id}/revoke"),
            &[("Cookie", &cookie)],
            b"",
        )
        .unwrap()
    };
    assert_eq!(revoke("1").status, 404, "agent 1 is in Hà Nội");
    assert_eq!(revoke("2").status, 200);
    assert_eq!(
        beat(&server, &token, json!({"sent_at": ago(0)})).status,
        401
    );
}

#[test]
fn a_real_agent_reports_its_version_journal_disk_and_warnings() {
    // Half the requests fail: the agent logs warnings, and some heartbeats
    // get through to carry them.
    let server = TestServer::start_with(
        hotich_tests::harness::Db::Sqlite,
        &["--chaos-fail-before", "0.5", "--chaos-seed", "7"],
    );
    let token = server.add_agent_with("00004", &["--province", "66", "--name", "UBND xã Tân Lập"]);
    let mut agent = TestAgent::init_with(
        &server.url(),
        &token,
        "00004",
        "[sync]\nheartbeat_secs = 1\nbackoff_base_ms = 100\nbackoff_cap_secs = 1\n",
    );
    let file = agent.dir.path().join("records.jsonl");
    RecordGen::new(3, "00004")
        .write_jsonl(&file, 0, 300)
        .unwrap();
    let out = agent.import(&file);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    agent.start_service();
    let viewer = server.add_viewer("quoc-gia", &[]);
    let mut last = Value::Null;
    let reported = wait_until(Duration::from_secs(60), || {
        last = status(&server, &viewer, "");
        let a = &last["communes"][0]["agents"][0];
        a["version"].is_string()
            && a["free_disk_bytes"].as_u64().is_some_and(|n| n > 0)
            && a["journal_bytes"].as_u64().is_some_and(|n| n > 0)
            && a["device"].is_string()
            && !a["warnings"].as_array().is_none_or(Vec::is_empty)
            && last["communes"][0]["records_stored"] == 300
            && a["waiting"] == 0
    });
    assert!(reported, "{last:#}");
    let a = &last["communes"][0]["agents"][0];
    assert_eq!(a["version"], env!("CARGO_PKG_VERSION"));
    let id: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.journal_path().with_file_name("journal-id.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(a["device"], id["journal_id"]);
    assert!(a["clock_skew_secs"].as_i64().unwrap().abs() < 5);
    assert_eq!(last["communes"][0]["state"], "in_sync", "{last:#}");

    // The PC's own /metrics, on the service's loopback control endpoint.
    let control: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.data_dir.join("control.json")).unwrap(),
    )
    .unwrap();
    let port = control["port"].as_u64().unwrap() as u16;
    let answer = request(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        "GET",
        "/metrics",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    let text = answer.text();
    for line in [
        "hotich_agent_records{state=\"waiting\"} 0",
        "hotich_agent_records{state=\"sent\"} 300",
        "hotich_agent_records{state=\"refused\"} 0",
        "hotich_agent_consecutive_failures ",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    let journal_bytes = text
        .lines()
        .find_map(|l| l.strip_prefix("hotich_agent_journal_bytes "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(journal_bytes > 300 * 1000, "{text}");
}

/// District IT read integrity alerts in the dashboard's language: an entry
/// that arrives before its predecessor is worded in Vietnamese on the
/// Vietnamese page (the stored detail is English, for logs and the API).
#[test]
fn integrity_alerts_are_worded_in_the_viewers_language() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    // Entry #5 with no #4 received: a gap.
    let gap = hotich_tests::batch::batch(
        &[RecordGen::new(3, "00004").record(0)],
        5,
        hotich_protocol::GENESIS,
    );
    let auth = format!("Bearer {token}");
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/upload",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        &gap.json,
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());

    let viewer = server.add_viewer("quoc-gia", &[]);
    let cookie = login_cookie(&server, &viewer);
    let page = get_with_cookie(&server, &cookie, "/commune/00004").text();
    assert!(
        page.contains("data-kind=\"gap\"")
            && page.contains("Đến không theo thứ tự: mục #5 đến trước mục #4"),
        "{page}"
    );
    assert!(!page.contains("arrived before"), "{page}");
    let english = get_with_cookie(&server, &cookie, "/commune/00004?lang=en").text();
    assert!(
        english.contains("Gap: entry #5 arrived before entry #4"),
        "{english}"
    );
}
