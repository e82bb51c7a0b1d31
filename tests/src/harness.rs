//! Starts the real binaries on loopback with temporary directories and tears
//! them down on drop: a [`TestServer`] (`hotich-server serve`, port 0) and
//! [`TestAgent`]s (`hotich-agent` with their own data directories).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The environment variable that names a PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "HOTICH_TEST_POSTGRES_URL";

fn target_dir() -> PathBuf {
    // Test executables live in target/<profile>/deps.
    let exe = std::env::current_exe().expect("test executable path");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of a workspace binary, built (once per test process) if needed.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "hotich-agent",
            "-p",
            "hotich-server",
            "--bins",
        ]);
        if target_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the binaries");
        assert!(
            status.success(),
            "building hotich-agent and hotich-server failed"
        );
    });
    let path = target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

pub fn agent_bin() -> PathBuf {
    binary("hotich-agent")
}

/// `hotich-agent` with English messages: the tests read English; the
/// Vietnamese catalog has tests of its own.
pub fn agent_cmd() -> Command {
    let mut c = Command::new(agent_bin());
    c.env("HOTICH_LANG", "en");
    c
}

pub fn server_bin() -> PathBuf {
    binary("hotich-server")
}

/// Runs a command to completion, with its output captured.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn command")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sends SIGTERM (a polite stop) to a child.
pub fn terminate(child: &Child) {
    // SAFETY: kill(2) with a pid we own; no memory is touched.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// Waits for a child to exit, up to `limit`; kills it after that.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Which database a test server uses.
pub enum Db {
    /// A fresh SQLite file in the server's temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database, dropped afterwards.
    Postgres(crate::pg::TempDatabase),
    /// A database another test server owns (a second replica on the same
    /// PostgreSQL database); whoever owns it drops it.
    Shared(String),
}

/// `hotich-server serve` on 127.0.0.1, killed on drop.
pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub database: String,
    extra: Vec<String>,
    _pg: Option<crate::pg::TempDatabase>,
    pub dir: TempDir,
    /// A national viewer for `/metrics`, made on first use.
    scraper: std::sync::OnceLock<Login>,
}

/// A dashboard login made by `hotich-server viewer add`.
#[derive(Debug, Clone)]
pub struct Login {
    pub id: i64,
    pub name: String,
    pub password: String,
}

impl Login {
    /// The `Authorization` header value for HTTP Basic auth.
    pub fn basic(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.name, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(Db::Sqlite, &[])
    }

    pub fn start_with(db: Db, extra: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database, pg) = match db {
            Db::Sqlite => (dir.path().join("central.db").display().to_string(), None),
            Db::Postgres(t) => (t.url.clone(), Some(t)),
            Db::Shared(url) => (url, None),
        };
        let mut server = TestServer {
            child: None,
            addr: "127.0.0.1:0".parse().expect("addr"),
            database,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _pg: pg,
            dir,
            scraper: std::sync::OnceLock::new(),
        };
        server.spawn("127.0.0.1:0");
        server
    }

    fn spawn(&mut self, listen: &str) {
        let mut child = Command::new(server_bin())
            .args(["serve", "--listen", listen, "--database", &self.database])
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hotich-server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server prints its address");
        let addr = line
            .split_whitespace()
            .find_map(|w| {
                w.strip_prefix("http://")
                    .or_else(|| w.strip_prefix("https://"))
            })
            .unwrap_or_else(|| panic!("no address in server output: {line:?}"));
        self.addr = addr.parse().expect("server address");
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Registers an agent; returns its token.
    pub fn add_agent(&self, commune: &str) -> String {
        self.add_agent_with(commune, &[])
    }

    /// Registers an agent with more flags (`--province`, `--area`, `--name`);
    /// returns its token.
    pub fn add_agent_with(&self, commune: &str, extra: &[&str]) -> String {
        let out = run(Command::new(server_bin())
            .args([
                "agent",
                "add",
                "--database",
                &self.database,
                "--commune",
                commune,
                "--json",
            ])
            .args(extra));
        assert!(out.status.success(), "agent add: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).expect("agent add --json");
        v["token"].as_str().expect("token").to_string()
    }

    /// Creates a dashboard login (`extra`: `--province`, `--area`, `--admin`).
    pub fn add_viewer(&self, name: &str, extra: &[&str]) -> Login {
        let out = run(Command::new(server_bin())
            .args([
                "viewer",
                "add",
                "--database",
                &self.database,
                "--name",
                name,
                "--json",
            ])
            .args(extra));
        assert!(out.status.success(), "viewer add: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).expect("viewer add --json");
        Login {
            id: v["id"].as_i64().expect("id"),
            name: name.to_string(),
            password: v["password"].as_str().expect("password").to_string(),
        }
    }

    /// `GET path` as `login` (HTTP Basic).
    pub fn get_as(&self, login: &Login, path: &str) -> crate::http::Answer {
        crate::http::request(
            self.addr,
            "GET",
            path,
            &[("Authorization", &login.basic())],
            b"",
        )
        .expect("GET from the server")
    }

    /// `POST /api/v1/heartbeat` with `token`, as an agent sends it.
    pub fn heartbeat(&self, token: &str, body: &Value) -> crate::http::Answer {
        crate::http::request(
            self.addr,
            "POST",
            "/api/v1/heartbeat",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .expect("POST /api/v1/heartbeat")
    }

    /// Posts the login form as a browser would (`name`, `password`, and
    /// `next=/`).
    pub fn post_login(&self, name: &str, password: &str) -> crate::http::Answer {
        let form = format!("name={name}&password={password}&next=%2F");
        crate::http::request(
            self.addr,
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .expect("POST /login")
    }

    /// `/metrics` as a national viewer.
    pub fn metrics(&self) -> String {
        let login = self
            .scraper
            .get_or_init(|| self.add_viewer("prometheus", &[]))
            .clone();
        let answer = self.get_as(&login, "/metrics");
        assert_eq!(answer.status, 200, "/metrics: {}", answer.text());
        answer.text()
    }

    /// Stored records still missing page scans, from `hotich-server scans --json`.
    pub fn missing_scans(&self) -> Vec<Value> {
        let out =
            run(Command::new(server_bin()).args(["scans", "--database", &self.database, "--json"]));
        assert!(out.status.success(), "scans: {}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("scans line is JSON"))
            .collect()
    }

    /// Every stored record, from `hotich-server export`.
    pub fn export(&self) -> Vec<Value> {
        let out = run(Command::new(server_bin()).args(["export", "--database", &self.database]));
        assert!(out.status.success(), "export: {}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("export line is JSON"))
            .collect()
    }

    /// Each book's report, from `hotich-server books --json`.
    pub fn books(&self, commune: &str) -> Vec<Value> {
        let out = run(Command::new(server_bin()).args([
            "books",
            "--database",
            &self.database,
            "--commune",
            commune,
            "--json",
        ]));
        assert!(out.status.success(), "books: {}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("books line is JSON"))
            .collect()
    }

    pub fn export_hashes(&self) -> Vec<String> {
        self.export()
            .iter()
            .map(|r| r["content_hash"].as_str().expect("hash").to_string())
            .collect()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: the server dies mid-whatever.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same address and database with other flags.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }

    /// Starts again on the same address and database.
    pub fn restart(&mut self) {
        self.kill();
        let listen = self.addr.to_string();
        // The port can take a moment to be free again.
        let start = Instant::now();
        loop {
            if std::net::TcpListener::bind(self.addr).is_ok()
                || start.elapsed() > Duration::from_secs(5)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn(&listen);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sync tuning for tests: short timeouts and backoff, frequent checks.
pub const FAST_SYNC: &str = "
[sync]
request_timeout_secs = 5.0
connect_timeout_secs = 2.0
backoff_base_ms = 200
backoff_cap_secs = 2
call_attempts = 2
idle_recheck_secs = 1
heartbeat_secs = 2
";

/// An agent with its own data directory; its service is killed on drop.
pub struct TestAgent {
    pub dir: TempDir,
    pub data_dir: PathBuf,
    pub service: Option<Child>,
}

impl TestAgent {
    /// `hotich-agent init` against `server_url`, with [`FAST_SYNC`] tuning.
    pub fn init(server_url: &str, token: &str, commune: &str) -> TestAgent {
        Self::init_with(server_url, token, commune, FAST_SYNC)
    }

    /// `init` as IT staff run it: the server confirms the token and commune.
    pub fn init_with(server_url: &str, token: &str, commune: &str, sync_toml: &str) -> TestAgent {
        Self::init_with_flags(server_url, token, commune, sync_toml, &[])
    }

    /// `init --offline`: set up without a server to ask (tests of the
    /// agent alone, or of a server that is down from the start).
    pub fn init_offline(server_url: &str, token: &str, commune: &str) -> TestAgent {
        Self::init_with_flags(server_url, token, commune, FAST_SYNC, &["--offline"])
    }

    pub fn init_with_flags(
        server_url: &str,
        token: &str,
        commune: &str,
        sync_toml: &str,
        flags: &[&str],
    ) -> TestAgent {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("agent");
        let agent = TestAgent {
            dir,
            data_dir,
            service: None,
        };
        let out = run(agent
            .command()
            .args([
                "init",
                "--server",
                server_url,
                "--token",
                token,
                "--commune",
                commune,
            ])
            .args(flags));
        assert!(out.status.success(), "init: {}", stderr(&out));
        if !sync_toml.is_empty() {
            let config = agent.data_dir.join("config.toml");
            let mut text = std::fs::read_to_string(&config).expect("config");
            // Replace the default [sync] table with the test tuning.
            if let Some(i) = text.find("[sync]") {
                text.truncate(i);
            }
            text.push_str(sync_toml);
            std::fs::write(&config, text).expect("write config");
        }
        agent
    }

    pub fn command(&self) -> Command {
        let mut c = agent_cmd();
        c.arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("HOTICH_SERVER")
            .env_remove("HOTICH_TOKEN");
        c
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        run(self.command().args(args))
    }

    pub fn import(&self, file: &Path) -> Output {
        run(self.command().arg("import").arg(file))
    }

    /// `hotich-agent sync`, which must succeed; its output otherwise names
    /// what went wrong in the failed test's message.
    pub fn sync_ok(&self) -> Output {
        let out = self.cmd(&["sync"]);
        assert!(
            out.status.success(),
            "sync failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        out
    }

    pub fn start_service(&mut self) {
        assert!(self.service.is_none(), "service already running");
        let child = self
            .command()
            .arg("run")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hotich-agent run");
        self.service = Some(child);
        // Ready when its control file is written.
        let control = self.data_dir.join("control.json");
        assert!(
            wait_until(Duration::from_secs(10), || control.exists()),
            "agent service did not start"
        );
    }

    pub fn kill_service(&mut self) {
        if let Some(mut c) = self.service.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait; returns whether it exited cleanly in time.
    pub fn stop_service(&mut self) -> bool {
        match self.service.take() {
            None => true,
            Some(mut c) => {
                terminate(&c);
                matches!(wait_exit(&mut c, Duration::from_secs(10)), Some(s) if s.success())
            }
        }
    }

    pub fn service_pid(&self) -> Option<u32> {
        self.service.as_ref().map(Child::id)
    }

    pub fn status(&self) -> Value {
        let out = self.cmd(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("status --json")
    }

    pub fn pending(&self) -> u64 {
        self.status()["pending"].as_u64().expect("pending")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.data_dir.join("journal.db")
    }

    /// Content hashes in the journal, read straight from SQLite.
    pub fn journal_hashes(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.journal_path()).expect("open journal");
        let mut stmt = conn
            .prepare("SELECT content_hash FROM entries ORDER BY seq")
            .expect("query");
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("rows")
            .map(|h| hex_lower(&h.expect("row")))
            .collect()
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.kill_service();
    }
}

/// The time `secs` seconds ago, as the wire writes it (RFC 3339).
pub fn rfc3339_ago(secs: i64) -> String {
    hotich_protocol::Timestamp(hotich_protocol::Timestamp::now().millis() - secs * 1000)
        .to_rfc3339()
}

pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts the central store holds exactly the journal's records: the same
/// set of hashes, none missing, none twice.
pub fn assert_export_matches_journal(server: &TestServer, agents: &[&TestAgent]) {
    let exported = server.export_hashes();
    let unique: std::collections::HashSet<&String> = exported.iter().collect();
    assert_eq!(
        unique.len(),
        exported.len(),
        "the server stored a record twice"
    );
    let mut journal: Vec<String> = agents.iter().flat_map(|a| a.journal_hashes()).collect();
    journal.sort();
    journal.dedup();
    let mut exported_sorted = exported.clone();
    exported_sorted.sort();
    let missing = journal.iter().filter(|h| !unique.contains(h)).count();
    let extra = exported_sorted.len() as i64 - (journal.len() - missing) as i64;
    assert_eq!(
        missing, 0,
        "{missing} journal records are missing at the server"
    );
    assert_eq!(
        extra, 0,
        "the server holds {extra} records that no journal has"
    );
    assert_eq!(exported_sorted, journal);
}

/// CPU time (user + system) a process has used, from /proc (Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis((utime + stime) * 1000 / ticks))
}

/// Peak resident memory of a process in bytes (VmHWM), from /proc (Linux).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
