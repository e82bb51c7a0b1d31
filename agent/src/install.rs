//! `service install|uninstall|status`: the agent as a systemd service.
//!
//! The service runs `hotich-agent run` under its own account
//! (`hotich-agent`) with the machine-wide data directory
//! (`/var/lib/hotich-agent`), owned by that account and the officials' group
//! (`hotich`), mode 2770: set-group-ID, so everything created in it belongs
//! to the group. The officials' own commands find that directory by
//! themselves ([`crate::config::DataDir::resolve`]) and, as members of the
//! group, import into the journal and ask the service to sync through its
//! control endpoint; the token file stays the service account's alone.
//!
//! Windows has no toolchain on the build machines, so a Windows service
//! cannot be built or checked here: see ARCHITECTURE.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::config::{CONFIG_FILE, CONTROL_FILE, DataDir};
use crate::error::AgentError;

pub const SERVICE_NAME: &str = "hotich-agent";
pub const SERVICE_USER: &str = "hotich-agent";
pub const OFFICIALS_GROUP: &str = "hotich";
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Shortcuts here appear in every user's application menu.
pub const DESKTOP_DIR: &str = "/usr/share/applications";
/// systemd restarts a service that has not fed its watchdog for this long.
pub const WATCHDOG_SECS: u64 = 120;

/// What `service install` sets up.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub exe: PathBuf,
    pub data_dir: PathBuf,
    pub user: String,
    pub group: String,
    pub unit_dir: PathBuf,
    pub desktop_dir: PathBuf,
}

impl ServiceSpec {
    pub fn desktop_path(&self) -> PathBuf {
        self.desktop_dir.join(format!("{SERVICE_NAME}.desktop"))
    }

    /// The shortcut that opens the official's page (`hotich-agent open`).
    pub fn desktop_entry(&self) -> String {
        format!(
            "[Desktop Entry]
Type=Application
Version=1.0
Name=Hộ tịch – Đồng bộ
Name[en]=Civil registry sync
Comment=Hàng chờ gửi, Đồng bộ ngay, nhập tệp hồ sơ
Comment[en]=Upload queue, sync now, import files
Exec={exe} --data-dir {data} open
Icon=network-transmit-receive
Terminal=false
Categories=Office;
",
            exe = self.exe.display(),
            data = self.data_dir.display()
        )
    }

    pub fn unit_path(&self) -> PathBuf {
        self.unit_dir.join(format!("{SERVICE_NAME}.service"))
    }

    /// The systemd unit.
    pub fn unit(&self) -> String {
        let exe = self.exe.display();
        let data = self.data_dir.display();
        format!(
            "# Written by `hotich-agent service install`; `hotich-agent service uninstall` removes it.
[Unit]
Description=hotich-sync agent: uploads this commune's civil-status records to the central database
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exe} --data-dir {data} run
User={user}
Group={group}
UMask=0007
Restart=always
RestartSec=10
WatchdogSec={WATCHDOG_SECS}
TimeoutStopSec=30
Environment=HOTICH_LANG=vi
# The journal, the token and the logs live here; everything else is read-only.
ReadWritePaths={data}
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# A weak PC is shared with the officials' work: the agent yields to it.
Nice=10
IOSchedulingClass=idle

[Install]
WantedBy=multi-user.target
",
            user = self.user,
            group = self.group,
        )
    }
}

fn failed(message: impl Into<String>) -> AgentError {
    AgentError::Failed(message.into())
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Runs a system tool; its failure is an error naming it and what it said.
fn tool(program: &str, args: &[&str]) -> Result<(), AgentError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| AgentError::io(format!("cannot run {program}"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn exists_in(database: &str, name: &str) -> bool {
    Command::new("getent")
        .args([database, name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Paths the unit's `ProtectHome`/`PrivateTmp` hide from the service.
fn hidden_from_service(exe: &Path) -> bool {
    ["/home", "/root", "/tmp", "/var/tmp", "/run/user"]
        .iter()
        .any(|p| exe.starts_with(p))
}

pub fn install(
    spec: &ServiceSpec,
    officials: &[String],
    dry_run: bool,
) -> Result<ExitCode, AgentError> {
    if !cfg!(target_os = "linux") {
        return Err(AgentError::Usage(
            "service install writes a systemd unit and works on Linux only; on Windows see \
             ARCHITECTURE.md (Windows service)"
                .into(),
        ));
    }
    let mut plan = String::new();
    let _ = writeln!(
        plan,
        "# {}\n# account {} (group {}), data directory {} (mode 2770)",
        spec.unit_path().display(),
        spec.user,
        spec.group,
        spec.data_dir.display()
    );
    if dry_run {
        print!(
            "{plan}{}\n# {}\n{}",
            spec.unit(),
            spec.desktop_path().display(),
            spec.desktop_entry()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !is_root() {
        return Err(AgentError::Usage(format!(
            "installing the service needs administrator rights (it creates the account {}, \
             the directory {} and the unit {}): run `sudo hotich-agent service install`, or \
             `--dry-run` to see what it would write",
            spec.user,
            spec.data_dir.display(),
            spec.unit_path().display()
        )));
    }
    if hidden_from_service(&spec.exe) {
        println!(
            "warning: {} is in a home or temporary directory, which the service's sandbox \
             hides: copy it to /usr/local/bin and run `sudo /usr/local/bin/hotich-agent service \
             install` again",
            spec.exe.display()
        );
    }
    if !exists_in("group", &spec.group) {
        tool("groupadd", &["--system", &spec.group])?;
        println!("group {} created", spec.group);
    }
    let data = spec.data_dir.display().to_string();
    if !exists_in("passwd", &spec.user) {
        tool(
            "useradd",
            &[
                "--system",
                "--gid",
                &spec.group,
                "--home-dir",
                &data,
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &spec.user,
            ],
        )?;
        println!("account {} created", spec.user);
    }
    for official in officials {
        tool("usermod", &["--append", "--groups", &spec.group, official])?;
        println!("{official} may now use the agent (group {})", spec.group);
    }
    std::fs::create_dir_all(&spec.data_dir)
        .map_err(|e| AgentError::io(format!("cannot create {data}"), e))?;
    let owner = format!("{}:{}", spec.user, spec.group);
    // What an earlier per-user setup or root left there becomes the
    // service's, readable by the group; the token stays the service's alone.
    tool("chown", &["-R", &owner, &data])?;
    tool("chmod", &["2770", &data])?;
    let data_dir = DataDir::new(&spec.data_dir);
    tool("chmod", &["-R", "g+rwX,o-rwx", &data])?;
    // The group reads the config but may not change it (the server it
    // names receives the token).
    let config_path = data_dir.config_path();
    if config_path.exists() {
        tool("chmod", &["0640", &config_path.display().to_string()])?;
    }
    if let Ok(config) = crate::config::AgentConfig::load(&data_dir)
        && !config.token.is_empty()
    {
        // Move the token out of config.toml into the service's own file.
        config.save(&data_dir)?;
    }
    if data_dir.token_path().exists() {
        tool(
            "chmod",
            &["0600", &data_dir.token_path().display().to_string()],
        )?;
    }
    let unit_path = spec.unit_path();
    std::fs::create_dir_all(&spec.unit_dir)
        .and_then(|()| std::fs::write(&unit_path, spec.unit()))
        .map_err(|e| AgentError::io(format!("cannot write {}", unit_path.display()), e))?;
    println!("unit written: {}", unit_path.display());
    let desktop = spec.desktop_path();
    // Without a desktop (a server install) the shortcut is only a nicety.
    match std::fs::create_dir_all(&spec.desktop_dir)
        .and_then(|()| std::fs::write(&desktop, spec.desktop_entry()))
    {
        Ok(()) => println!(
            "shortcut written: {} (\"Hộ tịch – Đồng bộ\" opens the officials' page)",
            desktop.display()
        ),
        Err(e) => println!("warning: no shortcut at {}: {e}", desktop.display()),
    }
    let set_up = spec.data_dir.join(CONFIG_FILE).exists();
    if systemd_running() {
        tool("systemctl", &["daemon-reload"])?;
        tool("systemctl", &["enable", SERVICE_NAME])?;
        if set_up {
            tool("systemctl", &["restart", SERVICE_NAME])?;
            println!("service {SERVICE_NAME} enabled and started");
        } else {
            println!("service {SERVICE_NAME} enabled; it starts once the agent is set up");
        }
    } else {
        println!(
            "systemd is not running on this machine: the unit is written; on a machine that \
             boots with systemd, `systemctl enable --now {SERVICE_NAME}` starts it"
        );
    }
    if !set_up {
        println!(
            "next: sudo hotich-agent init --server URL --token TOKEN --commune CODE \
             (it finds {data} by itself), then sudo systemctl restart {SERVICE_NAME}"
        );
    }
    println!(
        "officials in group {} use the agent as themselves (`sudo usermod -aG {} NAME`, then \
         log in again)",
        spec.group, spec.group
    );
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(spec: &ServiceSpec, remove_account: bool) -> Result<ExitCode, AgentError> {
    if !is_root() {
        return Err(AgentError::Usage(
            "removing the service needs administrator rights: run `sudo hotich-agent service uninstall`"
                .into(),
        ));
    }
    if systemd_running() {
        // Stopping a unit that is not loaded fails; removing it is what matters.
        let _ = tool("systemctl", &["disable", "--now", SERVICE_NAME]);
    }
    let unit_path = spec.unit_path();
    match std::fs::remove_file(&unit_path) {
        Ok(()) => println!("unit removed: {}", unit_path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("no unit at {}", unit_path.display());
        }
        Err(e) => {
            return Err(AgentError::io(
                format!("cannot remove {}", unit_path.display()),
                e,
            ));
        }
    }
    match std::fs::remove_file(spec.desktop_path()) {
        Ok(()) => println!("shortcut removed: {}", spec.desktop_path().display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => println!(
            "warning: cannot remove {}: {e}",
            spec.desktop_path().display()
        ),
    }
    if systemd_running() {
        tool("systemctl", &["daemon-reload"])?;
    }
    if remove_account {
        if exists_in("passwd", &spec.user) {
            tool("userdel", &[&spec.user])?;
        }
        if exists_in("group", &spec.group) {
            tool("groupdel", &[&spec.group])?;
        }
    }
    // The journal may hold records not yet sent: never removed here.
    println!(
        "the data directory {} is kept (its journal may hold records not yet sent)",
        spec.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Installed? Running? Where are the data and the logs?
pub fn status(spec: &ServiceSpec, json: bool) -> Result<ExitCode, AgentError> {
    let installed = spec.unit_path().exists();
    let data_dir = DataDir::new(&spec.data_dir);
    let control = crate::control::ControlInfo::read(&data_dir.path().join(CONTROL_FILE));
    let running = crate::lock::SyncLock::is_held(data_dir.path());
    let systemd_state = systemd_running()
        .then(|| {
            Command::new("systemctl")
                .args(["is-active", SERVICE_NAME])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .flatten();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "installed": installed,
                "unit": spec.unit_path(),
                "running": running,
                "pid": control.as_ref().map(|c| c.pid),
                "systemd": systemd_state,
                "data_dir": spec.data_dir,
                "logs": data_dir.log_dir(),
            })
        );
    } else {
        println!(
            "unit: {} ({})",
            spec.unit_path().display(),
            if installed {
                "installed"
            } else {
                "not installed"
            }
        );
        match (&control, running) {
            (Some(c), true) => println!("service: running (pid {})", c.pid),
            (_, true) => println!("service: running"),
            _ => println!("service: not running"),
        }
        if let Some(state) = systemd_state {
            println!("systemd: {state}");
        }
        println!("data: {}", spec.data_dir.display());
        println!("logs: {}", data_dir.log_dir().display());
    }
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::EXIT_PROBLEMS)
    })
}
