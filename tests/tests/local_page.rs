//! The official's own page, served by the running agent: opened through a
//! one-time link (`hotich-agent open --print`), used in headless Chromium
//! as an official would (import a file with a bad row, press "Đồng bộ
//! ngay"), and attacked as another web page or a rebound DNS name would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hotich_tests::browser::Browser;
use hotich_tests::harness::{stderr, stdout, wait_until};
use hotich_tests::http::{Answer, request};
use hotich_tests::proxy::{FaultProxy, Mode};
use hotich_tests::{TestAgent, TestServer};
use serde_json::Value;

/// Only "sync now" sends: after a failure the service waits ten minutes
/// and does not probe, so a record that reaches the server was sent by
/// the button (or by an attack that got through).
const ONLY_SYNC_NOW_SENDS: &str = "
[sync]
request_timeout_secs = 5.0
connect_timeout_secs = 2.0
backoff_base_ms = 600000
backoff_cap_secs = 3600
call_attempts = 1
idle_recheck_secs = 3600
heartbeat_secs = 3600
probe_secs = 3600
";

/// Three births of book 01/1998; the third's sex is "X" (line 4).
fn write_book(dir: &Path) -> PathBuf {
    let path = dir.join("so-khai-sinh.csv");
    let text = "\u{feff}Loại;Mã xã;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh\r\n\
                Khai sinh;00004;1998;01;1;20/03/1998;Nguyễn Văn An;Nam;15/03/1998\r\n\
                Khai sinh;00004;1998;01;2;21/03/1998;Trần Thị Bình;Nữ;16/03/1998\r\n\
                Khai sinh;00004;1998;01;3;22/03/1998;Lê Văn Cường;X;17/03/1998\r\n";
    std::fs::write(&path, text).expect("write csv");
    path
}

fn control_port(agent: &TestAgent) -> u16 {
    let text = std::fs::read_to_string(agent.data_dir.join("control.json")).expect("control.json");
    let info: Value = serde_json::from_str(&text).expect("control.json is JSON");
    info["port"].as_u64().expect("port") as u16
}

fn login_link(agent: &TestAgent) -> String {
    let out = agent.cmd(&["open", "--print"]);
    assert!(out.status.success(), "open --print: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// A web page somewhere else on this machine (another loopback port: a
/// different origin, but the same "site" for cookies), for attacks.
struct OtherSite {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl OtherSite {
    fn serve(html: String) -> OtherSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                            html.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        OtherSite { addr, stop }
    }
}

impl Drop for OtherSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the service wrote to its log files.
fn service_log(agent: &TestAgent) -> String {
    std::fs::read_dir(agent.data_dir.join("logs"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn text_of(browser: &mut Browser, id: &str) -> String {
    browser
        .eval(&format!("document.getElementById('{id}').textContent"))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_official_imports_a_file_and_syncs_from_the_page_and_another_site_cannot() {
    let Some(mut browser) = Browser::start("local page") else {
        return;
    };
    let server = TestServer::start();
    let token = server.add_agent("00004");
    // The link is down while the official imports.
    let proxy = FaultProxy::start(server.addr, Mode::Reset).expect("proxy");
    let mut agent = TestAgent::init_with_flags(
        &proxy.url(),
        &token,
        "00004",
        ONLY_SYNC_NOW_SENDS,
        &["--offline"],
    );
    agent.start_service();
    let port = control_port(&agent);
    let link = login_link(&agent);
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/ui/login?code=")),
        "{link}"
    );

    // The link logs in and leaves the address bar.
    browser.goto(&link);
    assert_eq!(browser.location(), format!("http://127.0.0.1:{port}/"));
    assert!(
        browser.wait_for(
            "document.getElementById('link').textContent !== '–'",
            Duration::from_secs(10)
        ),
        "the queue was never filled in"
    );
    assert_eq!(text_of(&mut browser, "sync-now"), "Đồng bộ ngay");
    assert_eq!(browser.eval("document.documentElement.lang"), "vi");

    // Import a file with one bad row: its error, in Vietnamese, on its line.
    let book = write_book(agent.dir.path());
    browser.choose_file("#import-file", &book);
    browser.eval("document.getElementById('import-button').click()");
    assert!(
        browser.wait_for(
            "document.getElementById('import-summary').textContent.includes('Đã nhận')",
            Duration::from_secs(20)
        ),
        "import never finished: {}",
        text_of(&mut browser, "import-summary")
    );
    let summary = text_of(&mut browser, "import-summary");
    assert!(
        summary.contains("Đã nhận 2 hồ sơ mới") && summary.contains("1 dòng bị từ chối"),
        "{summary}"
    );
    let rows = browser.eval(
        "Array.from(document.querySelectorAll('#import-problems tbody tr'))
             .map(r => Array.from(r.cells).map(c => c.textContent))",
    );
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0][0], "Dòng 4", "{rows}");
    let problem = rows[0][1].as_str().unwrap_or_default();
    assert!(
        problem.contains("Giới tính") && problem.contains("không phải Nam hoặc Nữ"),
        "{problem}"
    );
    // The refused row comes back as a file to fix, in the file's own dialect.
    let rejects = browser.eval(
        "fetch(document.querySelector('#import-rejects a').dataset.url,
                   {headers: {'x-hotich-session': sessionStorage.getItem('hotich-session')}})
               .then(r => r.text())",
    );
    let rejects = rejects.as_str().unwrap_or_default();
    assert!(
        rejects.contains("Lê Văn Cường")
            && rejects.contains("Lỗi")
            && !rejects.contains("Nguyễn Văn An"),
        "{rejects}"
    );
    assert!(
        browser.wait_for(
            "document.getElementById('waiting').textContent === '2'",
            Duration::from_secs(10)
        ),
        "waiting: {}",
        text_of(&mut browser, "waiting")
    );
    assert!(
        browser.wait_for(
            "document.getElementById('link').className === 'link-down'",
            Duration::from_secs(10)
        ),
        "link: {}",
        text_of(&mut browser, "link")
    );
    browser.screenshot("local-page-import.png");

    // The link is back; the service waits out its backoff. Another page on
    // this machine tries to start a sync and to read the queue.
    proxy.set_mode(Mode::Pass);
    let target = format!("http://127.0.0.1:{port}");
    let other = OtherSite::serve(format!(
        "<!doctype html><html><body>
         <form id=f method=POST action=\"{target}/ui/api/sync\"></form>
         <script>
           window.attempts = Promise.all([
             fetch('{target}/ui/api/sync', {{method: 'POST', mode: 'no-cors', credentials: 'include'}})
               .then(() => 'sent', () => 'failed'),
             fetch('{target}/ui/api/status', {{credentials: 'include'}})
               .then(r => r.text(), () => 'unreadable'),
           ]);
         </script></body></html>"
    ));
    browser.goto(&format!("http://127.0.0.1:{}/", other.addr.port()));
    let attempts = browser.eval("window.attempts");
    assert_eq!(attempts[1], "unreadable", "{attempts}");
    browser.eval("document.getElementById('f').submit()");
    browser.wait_loaded();
    let answer = browser.eval("document.body.textContent");
    assert!(
        answer.as_str().unwrap_or_default().contains("bị từ chối"),
        "the form post was not refused: {answer}"
    );
    // The service saw both attempts and refused them; nothing was sent.
    assert!(
        wait_until(Duration::from_secs(10), || {
            service_log(&agent)
                .matches("request from another page refused")
                .count()
                >= 2
        }),
        "{}",
        service_log(&agent)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        server.export().is_empty(),
        "another site started a sync: {:?}",
        server.export()
    );

    // The official presses "Đồng bộ ngay": the waiting count reaches 0.
    browser.goto(&format!("{target}/"));
    assert!(browser.wait_for(
        "document.getElementById('waiting').textContent === '2'",
        Duration::from_secs(10)
    ));
    browser.eval("document.getElementById('sync-now').click()");
    assert!(
        browser.wait_for(
            "document.getElementById('waiting').textContent === '0' && \
             document.getElementById('sync-message').textContent.includes('Đồng bộ xong')",
            Duration::from_secs(60)
        ),
        "waiting {}, message {}",
        text_of(&mut browser, "waiting"),
        text_of(&mut browser, "sync-message")
    );
    assert!(browser.wait_for(
        "document.getElementById('link').className === 'link-up'",
        Duration::from_secs(10)
    ));
    assert_eq!(server.export().len(), 2);
    browser.screenshot("local-page.png");

    // English on request, the script's words and the service's alike.
    browser.goto(&format!("{target}/?lang=EN"));
    assert_eq!(text_of(&mut browser, "sync-now"), "Sync now");
    assert!(browser.wait_for(
        "document.getElementById('next-try').textContent === 'nothing is waiting'",
        Duration::from_secs(10)
    ));

    // The one-time link does not work twice.
    browser.goto(&link);
    let notice = text_of(&mut browser, "notice");
    assert!(notice.contains("đã được dùng"), "{notice}");
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "GET", path, headers, b"").expect("request")
}

/// The session a login link starts: its cookie (`name=value`) and the key
/// the page's script gets in the fragment of the address it is sent to.
fn log_in(addr: SocketAddr, link: &str) -> (String, String) {
    let path = &link[link.find("/ui/login").expect("login path")..];
    let answer = get(addr, path, &[]);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let cookie = answer.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let location = answer.header("location").expect("sent on to the page");
    let key = location
        .strip_prefix("/#k=")
        .unwrap_or_else(|| panic!("no key in {location}"));
    (
        cookie.split(';').next().expect("name=value").to_string(),
        key.to_string(),
    )
}

fn raw_request(addr: SocketAddr, text: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(text.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn the_page_needs_a_one_time_link_its_own_origin_and_a_loopback_host() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    // No service, no page: `open` says so instead of printing a dead link.
    let out = agent.cmd(&["open", "--print"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    agent.start_service();
    let port = control_port(&agent);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let origin = format!("http://127.0.0.1:{port}");

    // Without a session: a page saying how to open it, and no data.
    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 401);
    assert!(page.text().contains("hotich-agent open"), "{}", page.text());
    assert_eq!(get(addr, "/ui/api/status", &[]).status, 401);

    let link = login_link(&agent);
    let (cookie, key) = log_in(addr, &link);
    let path = &link[link.find("/ui/login").expect("login path")..];
    let again = get(addr, path, &[]);
    assert_eq!(again.status, 403, "a login link worked twice");
    assert!(again.text().contains("đã được dùng"), "{}", again.text());
    assert_eq!(get(addr, "/ui/login?code=guess", &[]).status, 403);

    let page = get(addr, "/", &[("cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Đồng bộ ngay"), "{}", page.text());
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let english = get(addr, "/?lang=en", &[("cookie", &cookie)]);
    assert!(english.text().contains("Sync now"), "{}", english.text());

    // A name that is not this machine's (DNS rebinding), or another port,
    // is refused, even with the session, even for the counts.
    for host in [
        format!("hotich.attacker.example:{port}"),
        "127.0.0.1:1".to_string(),
    ] {
        for target in ["/", "/metrics", "/ui/api/status"] {
            let answer = raw_request(
                addr,
                &format!(
                    "GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
                     x-hotich-session: {key}\r\nConnection: close\r\n\r\n"
                ),
            );
            assert!(
                answer.starts_with("HTTP/1.1 421"),
                "{host}{target}: {answer}"
            );
        }
    }

    // The cookie alone (what a program on another loopback port receives
    // from the browser) reads nothing and does nothing: the API needs the
    // key the page's script keeps.
    assert_eq!(
        get(addr, "/ui/api/status", &[("cookie", &cookie)]).status,
        401
    );
    assert_eq!(
        get(
            addr,
            "/ui/api/status",
            &[("cookie", &cookie), ("x-hotich-session", &"0".repeat(64))]
        )
        .status,
        401
    );
    assert_eq!(
        request(
            addr,
            "POST",
            "/ui/api/sync",
            &[("cookie", &cookie), ("origin", &origin)],
            b""
        )
        .expect("sync")
        .status,
        401
    );

    // Actions need this origin as well as the session.
    let session = [
        ("cookie", cookie.as_str()),
        ("x-hotich-session", key.as_str()),
    ];
    let with = |extra: &[(&'static str, &str)]| -> Vec<(&str, String)> {
        session
            .iter()
            .chain(extra)
            .map(|(k, v)| (*k, v.to_string()))
            .collect()
    };
    let sync = |headers: Vec<(&str, String)>| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(addr, "POST", "/ui/api/sync", &headers, b"").expect("sync request")
    };
    assert_eq!(sync(with(&[("origin", "http://127.0.0.1:1")])).status, 403);
    assert_eq!(sync(with(&[("origin", "http://localhost:1")])).status, 403);
    assert_eq!(sync(with(&[])).status, 403, "no Origin");
    assert_eq!(
        sync(with(&[
            ("origin", &origin),
            ("sec-fetch-site", "same-site")
        ]))
        .status,
        403
    );
    assert_eq!(
        sync(vec![("origin", origin.clone())]).status,
        401,
        "no session"
    );

    // Import through the page's API: per-row results, the rejects file.
    let book = std::fs::read(write_book(agent.dir.path())).expect("book");
    let imported = request(
        addr,
        "POST",
        "/ui/api/import?name=so-khai-sinh.csv",
        &[
            ("cookie", &cookie),
            ("x-hotich-session", &key),
            ("origin", &origin),
        ],
        &book,
    )
    .expect("import");
    assert_eq!(imported.status, 200, "{}", imported.text());
    let result = imported.json();
    assert_eq!(result["accepted"], 2, "{result}");
    assert_eq!(result["rejected"], 1, "{result}");
    assert_eq!(result["problems"][0]["line"], 4, "{result}");
    assert_eq!(result["problems"][0]["fields"][0], "child.sex", "{result}");
    let url = result["rejects"][0]["url"].as_str().expect("rejects url");
    let rejects = get(addr, url, &session);
    assert_eq!(rejects.status, 200);
    assert!(
        rejects.text().contains("Lê Văn Cường"),
        "{}",
        rejects.text()
    );
    assert_eq!(get(addr, url, &[]).status, 401, "rejects without a session");
    // Nothing but the files an import wrote there.
    let id = url.split('/').nth(4).expect("upload id");
    for name in [
        "..%2F..%2Fconfig.toml",
        "..%5Cconfig.toml",
        "C%3Aconfig.toml",
        "..",
    ] {
        let answer = get(addr, &format!("/ui/api/rejects/{id}/{name}"), &session);
        assert_eq!(answer.status, 404, "{name}: {}", answer.text());
    }
    // The journal remembers the official's file name, not the upload's.
    let conn = rusqlite::Connection::open(agent.journal_path()).expect("journal");
    let sources: Vec<String> = conn
        .prepare("SELECT path FROM sources")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect())
        })
        .expect("sources");
    assert_eq!(sources, ["so-khai-sinh.csv"]);
    drop(conn);

    // Importing the same file again stores nothing twice.
    let again = request(
        addr,
        "POST",
        "/ui/api/import?name=so-khai-sinh.csv",
        &[
            ("cookie", &cookie),
            ("x-hotich-session", &key),
            ("origin", &origin),
        ],
        &book,
    )
    .expect("import again")
    .json();
    assert_eq!(again["accepted"], 0, "{again}");
    assert_eq!(again["already_present"], 2, "{again}");

    // Sync now from the page: the events stream, the queue drains.
    let synced = sync(with(&[("origin", &origin)]));
    assert_eq!(synced.status, 200, "{}", synced.text());
    let last: Value = synced
        .text()
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event"))
        .expect("events");
    assert_eq!(last["event"], "finished", "{last}");
    assert_eq!(last["ending"], "drained", "{last}");
    assert!(
        last["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Đồng bộ xong"),
        "{last}"
    );
    assert!(wait_until(Duration::from_secs(10), || server
        .export()
        .len()
        == 2));
    let status = get(addr, "/ui/api/status", &session).json();
    assert_eq!(status["waiting"], 0, "{status}");
    assert_eq!(status["sent"], 2, "{status}");
    assert_eq!(status["link"], "up", "{status}");

    // Blank templates to download.
    let template = get(addr, "/ui/templates/birth.xlsx", &session);
    assert_eq!(template.status, 200);
    assert!(template.body.starts_with(b"PK"), "not a workbook");
}

#[test]
fn the_page_asks_which_official_is_typing_when_the_office_lists_several() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    for name in ["Nguyễn Thị Lan", "Trần Văn Hùng"] {
        assert!(agent.cmd(&["official", "add", name]).status.success());
    }
    agent.start_service();
    let addr = SocketAddr::from(([127, 0, 0, 1], control_port(&agent)));
    let (cookie, key) = log_in(addr, &login_link(&agent));
    let origin = format!("http://127.0.0.1:{}", addr.port());
    let page = get(addr, "/", &[("cookie", &cookie)]).text();
    assert!(
        page.contains("<select id=\"import-official\" required>")
            && page.contains("<option>Trần Văn Hùng</option>"),
        "{page}"
    );
    let book = std::fs::read(write_book(agent.dir.path())).expect("book");
    let import = |query: &str| {
        request(
            addr,
            "POST",
            &format!("/ui/api/import?name=so.csv{query}"),
            &[
                ("cookie", &cookie),
                ("x-hotich-session", &key),
                ("origin", &origin),
            ],
            &book,
        )
        .expect("import")
    };
    // Nobody named: nothing is imported, and the page says why.
    let refused = import("");
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.text().contains("Hãy chọn người đang nhập"),
        "{}",
        refused.text()
    );
    let unknown = import("&official=Nobody");
    assert_eq!(unknown.status, 422, "{}", unknown.text());
    let imported = import("&official=tran%20van%20hung");
    assert_eq!(imported.status, 200, "{}", imported.text());
    assert_eq!(imported.json()["accepted"], 2);
    let conn = rusqlite::Connection::open(agent.journal_path()).expect("journal");
    let officials: Vec<String> = conn
        .prepare("SELECT DISTINCT official FROM entries")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect())
        })
        .expect("officials");
    assert_eq!(officials, ["Trần Văn Hùng"]);
}
