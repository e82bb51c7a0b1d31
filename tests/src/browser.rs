//! Headless Chromium for tests that check what a person sees: the browser is
//! started on a temporary profile with its DevTools endpoint on loopback, and
//! driven over the DevTools protocol (navigate, run a script, screenshot).
//! Tests call [`Browser::start`]; where Chromium is not installed they print
//! that they are skipped (`.ci/run` installs it).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;
use tungstenite::{Message, WebSocket};

/// Where Chromium is, if it is: `HOTICH_CHROMIUM`, else the usual names.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("HOTICH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// Where tests keep screenshots: `HOTICH_ARTIFACTS`, else
/// `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("HOTICH_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("test-artifacts")
        });
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A headless Chromium with one page; killed on drop.
pub struct Browser {
    child: Child,
    page: WebSocket<TcpStream>,
    next_id: u64,
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium, or returns `None` (and says the test is skipped)
    /// when it is not installed.
    pub fn start(test: &str) -> Option<Browser> {
        let Some(binary) = chromium() else {
            eprintln!(
                "skipped {test}: Chromium is not installed (apt-get install chromium, or set HOTICH_CHROMIUM)"
            );
            return None;
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(&binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1366,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        // Chromium says where its DevTools endpoint listens on stderr.
        let stderr = child.stderr.take().expect("chromium stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium did not open its DevTools endpoint");
        let port = browser_url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected DevTools address {browser_url}"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut page_url = None;
        let t = Instant::now();
        while page_url.is_none() && t.elapsed() < Duration::from_secs(10) {
            if let Ok(answer) = crate::http::request(addr, "GET", "/json/list", &[], b"") {
                let targets: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                page_url = targets.as_array().and_then(|list| {
                    list.iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                        .map(str::to_string)
                });
            }
            if page_url.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let page_url = page_url.expect("Chromium has no page");
        let stream = TcpStream::connect(addr).expect("connect to DevTools");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let (page, _) = tungstenite::client(page_url.as_str(), stream).expect("DevTools handshake");
        let mut browser = Browser {
            child,
            page,
            next_id: 0,
            _profile: profile,
        };
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        Some(browser)
    }

    /// Sends a DevTools command and returns its result (events are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.page
            .send(Message::text(text))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        loop {
            let message = self.page.read().unwrap_or_else(|e| panic!("{method}: {e}"));
            let Message::Text(text) = message else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == id {
                if let Some(error) = v.get("error") {
                    panic!("{method}: {error}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Opens `url` and waits until the page has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_loaded();
    }

    /// Waits until the current document (after a navigation or a form
    /// submission) has loaded.
    pub fn wait_loaded(&mut self) {
        std::thread::sleep(Duration::from_millis(100));
        let loaded = self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        );
        assert!(loaded, "the page did not load");
    }

    /// Runs `script` in the page and returns its value.
    pub fn eval(&mut self, script: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": script, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("script failed: {exception}\n{script}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `condition` (a script) until it is true or `limit` passes.
    pub fn wait_for(&mut self, condition: &str, limit: Duration) -> bool {
        let t = Instant::now();
        loop {
            let ok = self.call(
                "Runtime.evaluate",
                json!({"expression": condition, "returnByValue": true}),
            );
            if ok["result"]["value"] == true {
                return true;
            }
            if t.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Chooses `file` in the file input `selector`, as a person picking it
    /// in the file dialog would (the input's change event fires).
    pub fn choose_file(&mut self, selector: &str, file: &Path) {
        let document = self.call("DOM.getDocument", json!({}));
        let root = document["root"]["nodeId"].clone();
        let found = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        );
        let node = found["nodeId"].clone();
        assert_ne!(node, json!(0), "no {selector} on the page");
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node, "files": [file.display().to_string()]}),
        );
    }

    /// The page's address now.
    pub fn location(&mut self) -> String {
        self.eval("location.href")
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Saves a PNG of the whole page as `name` in [`artifacts_dir`].
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
