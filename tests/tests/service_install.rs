//! The agent as a systemd service: the unit (checked by `systemd-analyze
//! verify`), install refused without rights, and installed for real (as
//! root): its own account, the machine-wide data directory shared with the
//! officials' group, the token the service's alone, readiness and the
//! watchdog spoken over a `NOTIFY_SOCKET` this test owns, the log file.
//!
//! Installing creates system accounts, so that test runs as root only, with
//! names of its own, removed at the end; elsewhere it says it is skipped.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hotich_tests::harness::{agent_bin, run, stderr, stdout, terminate, wait_exit};
use hotich_tests::{RecordGen, TestServer};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn agent(system_dir: &Path) -> Command {
    let mut c = Command::new(agent_bin());
    c.env("HOTICH_SYSTEM_DATA_DIR", system_dir)
        .env("HOTICH_LANG", "en")
        .env_remove("HOTICH_DATA_DIR")
        .env_remove("HOTICH_TOKEN")
        .env_remove("HOTICH_SERVER");
    c
}

/// The same command run as another local user (and their groups).
fn as_user(user: &str, mut command: Command) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={user}"),
        &format!("--regid={}", primary_group(user)),
        "--init-groups",
    ])
    .arg(command.get_program());
    c.args(command.get_args());
    for (k, v) in command.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let _ = &mut command;
    c
}

fn primary_group(user: &str) -> String {
    let out = run(Command::new("id").args(["-gn", user]));
    stdout(&out).trim().to_string()
}

#[test]
fn dry_run_prints_a_unit_systemd_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(agent(&dir.path().join("sys")).args(["service", "install", "--dry-run"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let (unit, desktop) = printed
        .split_once("[Desktop Entry]")
        .expect("the desktop shortcut is printed after the unit");
    let unit = unit.to_string();
    let exe = agent_bin().canonicalize().unwrap();
    assert!(
        desktop.lines().any(|l| l
            == format!(
                "Exec={} --data-dir {} open",
                exe.display(),
                dir.path().join("sys").display()
            )),
        "{desktop}"
    );
    assert!(desktop.contains("Name=Hộ tịch – Đồng bộ"), "{desktop}");
    for line in [
        "Type=notify".to_string(),
        "Restart=always".into(),
        "WatchdogSec=120".into(),
        "ProtectSystem=strict".into(),
        "NoNewPrivileges=yes".into(),
        "User=hotich-agent".into(),
        "Group=hotich".into(),
        format!(
            "ExecStart={} --data-dir {} run",
            exe.display(),
            dir.path().join("sys").display()
        ),
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line:?} in\n{unit}");
    }
    // Nothing was created.
    assert!(!dir.path().join("sys").exists());

    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze not installed: unit verification skipped");
        return;
    }
    let unit_file = dir.path().join("hotich-agent.service");
    std::fs::write(&unit_file, &unit).unwrap();
    let verify = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_file));
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}{}",
        stdout(&verify),
        stderr(&verify)
    );
    // The check can fail: a unit whose program is missing is refused.
    std::fs::write(
        &unit_file,
        unit.replace(&exe.display().to_string(), "/nonexistent/hotich-agent"),
    )
    .unwrap();
    let broken = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_file));
    assert!(!broken.status.success());
}

#[test]
fn install_without_administrator_rights_is_refused_and_changes_nothing() {
    if !is_root() {
        eprintln!("not root: cannot switch to an unprivileged user; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let units = dir.path().join("units");
    let mut install = agent(&dir.path().join("sys"));
    install
        .args(["service", "install", "--unit-dir"])
        .arg(&units)
        .arg("--desktop-dir")
        .arg(&units);
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(install.get_program())
        .args(install.get_args())
        .envs(install.get_envs().filter_map(|(k, v)| Some((k, v?)))));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs administrator rights")
            && stderr(&out).contains("sudo hotich-agent service install"),
        "{}",
        stderr(&out)
    );
    assert!(!units.exists() && !dir.path().join("sys").exists());
}

/// Removes what the install test made, whatever happened.
struct Accounts {
    service: String,
    group: String,
    officials: Vec<String>,
    units: PathBuf,
    system_dir: PathBuf,
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let _ = agent(&self.system_dir)
            .args(["service", "uninstall", "--remove-account", "--user"])
            .arg(&self.service)
            .arg("--group")
            .arg(&self.group)
            .arg("--unit-dir")
            .arg(&self.units)
            .arg("--desktop-dir")
            .arg(&self.units)
            .output();
        for user in &self.officials {
            let _ = Command::new("userdel").arg(user).output();
        }
        let _ = Command::new("userdel").arg(&self.service).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

fn notifications(socket: &UnixDatagram, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(15) && !until(&got) {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    got
}

#[test]
fn installed_service_shares_the_journal_with_the_officials_group_and_keeps_the_token() {
    if !is_root() || Command::new("useradd").arg("--help").output().is_err() {
        eprintln!("not root or no useradd: the real install is skipped");
        return;
    }
    let tag = format!("{:x}", std::process::id() % 0xfffff);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let system_dir = dir.path().join("var-lib-hotich-agent");
    let accounts = Accounts {
        service: format!("hts-svc-{tag}"),
        group: format!("hts-grp-{tag}"),
        officials: vec![format!("hts-off-{tag}"), format!("hts-out-{tag}")],
        units: dir.path().join("units"),
        system_dir: system_dir.clone(),
    };
    let (official, outsider) = (&accounts.officials[0], &accounts.officials[1]);
    for user in [official, outsider] {
        let out = run(Command::new("useradd").args(["--no-create-home", user]));
        assert!(out.status.success(), "useradd: {}", stderr(&out));
    }

    let install = run(agent(&system_dir)
        .args(["service", "install", "--user", &accounts.service])
        .args(["--group", &accounts.group, "--official", official])
        .arg("--unit-dir")
        .arg(&accounts.units)
        .arg("--desktop-dir")
        .arg(&accounts.units));
    assert!(install.status.success(), "install: {}", stderr(&install));
    assert!(
        stdout(&install).contains("next: sudo hotich-agent init"),
        "{}",
        stdout(&install)
    );
    let unit = std::fs::read_to_string(accounts.units.join("hotich-agent.service")).unwrap();
    assert!(unit.contains(&format!("User={}", accounts.service)));
    let shortcut = std::fs::read_to_string(accounts.units.join("hotich-agent.desktop")).unwrap();
    assert!(
        shortcut
            .lines()
            .any(|l| l.starts_with("Exec=") && l.ends_with(" open")),
        "{shortcut}"
    );
    let meta = std::fs::metadata(&system_dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o2770);

    // IT staff set it up as root; `init` finds the machine-wide directory.
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let init = run(agent(&system_dir).args([
        "init",
        "--server",
        &server.url(),
        "--token",
        &token,
        "--commune",
        "00004",
    ]));
    assert!(init.status.success(), "init: {}", stderr(&init));
    let token_file = system_dir.join("token");
    let token_meta = std::fs::metadata(&token_file).unwrap();
    assert_eq!(token_meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        token_meta.uid(),
        std::fs::metadata(&system_dir).unwrap().uid()
    );
    let config = std::fs::read_to_string(system_dir.join("config.toml")).unwrap();
    assert!(
        !config.contains(&token),
        "the token must not be in config.toml"
    );

    // An official in the group imports as themselves, without --data-dir.
    let records = dir.path().join("records.jsonl");
    RecordGen::new(41, "00004")
        .write_jsonl(&records, 0, 25)
        .unwrap();
    std::fs::set_permissions(&records, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut import = agent(&system_dir);
    import.arg("import").arg(&records);
    let imported = run(&mut as_user(official, import));
    assert!(imported.status.success(), "import: {}", stderr(&imported));
    // ... but cannot read the token.
    let read_token = run(&mut as_user(official, {
        let mut c = Command::new("cat");
        c.arg(&token_file);
        c
    }));
    assert!(!read_token.status.success());
    // Someone outside the group is told what to ask for.
    let mut status = agent(&system_dir);
    status.arg("status");
    let refused = run(&mut as_user(outsider, status));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("ask the IT staff to add you to the group"),
        "{}",
        stderr(&refused)
    );

    // The service, as systemd would start it: its account, a notify
    // socket, a watchdog, standard error read by the journal.
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut run_cmd = agent(&system_dir);
    run_cmd
        .arg("--data-dir")
        .arg(&system_dir)
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .env("JOURNAL_STREAM", "8:1234")
        .env("RUST_LOG", "info");
    let mut service = as_user(&accounts.service, run_cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = notifications(&socket, |got| {
        got.iter().any(|m| m.starts_with("READY=1"))
            && got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2
    });
    assert!(
        started.iter().any(|m| m.starts_with("READY=1")),
        "{started:?}"
    );
    assert!(
        started.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2,
        "{started:?}"
    );

    // The official's "sync now" goes through the service (it holds the token).
    let mut sync = agent(&system_dir);
    sync.arg("sync");
    let synced = run(&mut as_user(official, sync));
    assert!(
        synced.status.success(),
        "sync: {}{}",
        stdout(&synced),
        stderr(&synced)
    );
    assert_eq!(server.export().len(), 25);

    // The desktop shortcut's `open`: the official gets a login link to the
    // service's page; someone outside the group gets none.
    let mut open = agent(&system_dir);
    open.args(["open", "--print"]);
    let opened = run(&mut as_user(official, open));
    assert!(opened.status.success(), "open: {}", stderr(&opened));
    assert!(
        stdout(&opened).starts_with("http://127.0.0.1:")
            && stdout(&opened).contains("/ui/login?code="),
        "{}",
        stdout(&opened)
    );
    let mut open = agent(&system_dir);
    open.args(["open", "--print"]);
    let refused = run(&mut as_user(outsider, open));
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(!stdout(&refused).contains("/ui/login"));

    terminate(&service);
    assert!(wait_exit(&mut service, Duration::from_secs(10)).is_some_and(|s| s.success()));
    let stopping = notifications(&socket, |got| got.iter().any(|m| m == "STOPPING=1"));
    assert!(stopping.iter().any(|m| m == "STOPPING=1"), "{stopping:?}");
    let mut console = String::new();
    std::io::Read::read_to_string(&mut service.stderr.take().unwrap(), &mut console).unwrap();
    assert!(
        console
            .lines()
            .any(|l| l.starts_with("<6>") && l.contains("service started")),
        "journald lines carry their priority: {console}"
    );
    assert!(
        !console.contains('\u{1b}'),
        "no colour codes for the journal"
    );

    // The plain-text log file in the data directory.
    let logs: Vec<_> = std::fs::read_dir(system_dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("hotich-agent.") && name.ends_with(".log"),
        "{name}"
    );
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        log.contains("service started") && log.contains("service stopped"),
        "{log}"
    );
    assert!(!log.contains('\u{1b}') && !log.contains(&token), "{log}");

    let uninstall = run(agent(&system_dir)
        .args(["service", "uninstall", "--remove-account", "--user"])
        .arg(&accounts.service)
        .args(["--group", &accounts.group, "--unit-dir"])
        .arg(&accounts.units)
        .arg("--desktop-dir")
        .arg(&accounts.units));
    assert!(uninstall.status.success(), "{}", stderr(&uninstall));
    assert!(!accounts.units.join("hotich-agent.service").exists());
    assert!(!accounts.units.join("hotich-agent.desktop").exists());
    assert!(
        system_dir.join("journal.db").exists(),
        "the journal is kept"
    );
    drop(accounts);
}
