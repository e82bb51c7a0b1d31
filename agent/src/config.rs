//! The agent's one typed configuration: defaults, then `config.toml` in the
//! data directory, then environment variables. The token is a [`Secret`]: it
//! is written to the owner-only config file and nowhere else.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

pub const CONFIG_FILE: &str = "config.toml";
pub const JOURNAL_FILE: &str = "journal.db";
pub const CONTROL_FILE: &str = "control.json";
/// In a machine-wide data directory the token lives apart from the rest of
/// the config: readable by the service's account alone, while the
/// officials' group reads `config.toml`.
pub const TOKEN_FILE: &str = "token";
/// Where the machine-wide data directory is, for tests and unusual installs.
pub const SYSTEM_DATA_DIR_ENV: &str = "HOTICH_SYSTEM_DATA_DIR";

/// A value that must never reach a log or a terminal.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl Secret {
    /// What may be shown of it: its kind (`hts_`), never its value.
    pub fn redacted(&self) -> String {
        let kind = self.0.split('_').next().filter(|k| *k != self.0.as_str());
        format!("{}***", kind.map(|k| format!("{k}_")).unwrap_or_default())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Base URL of the central server, e.g. `https://hotich.example.vn`.
    pub server: String,
    /// Absent from a machine-wide `config.toml`: then in [`TOKEN_FILE`].
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub token: Secret,
    /// The commune this office uploads for; records of other communes are refused.
    pub commune: String,
    /// A PEM file of extra root certificates, for a district server with its own CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Plain `http://` to a host other than this PC sends the token and the
    /// records in clear; only with this set (`init --allow-insecure-http`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
    #[serde(default)]
    pub sync: SyncSettings,
    /// The upload rate limit of office hours.
    #[serde(default)]
    pub upload_limit: crate::ratelimit::UploadLimit,
    /// The office's officials, by name: each entry records who entered it
    /// (on a shared Windows account the OS user says nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub officials: Vec<String>,
}

/// Tuning of the sync engine. Defaults suit a commune office's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// A request that has not completed after this long is abandoned and retried.
    pub request_timeout_secs: f64,
    pub connect_timeout_secs: f64,
    /// First retry delay after a failure; it doubles per failure up to the cap.
    pub backoff_base_ms: u64,
    pub backoff_cap_secs: u64,
    /// Quick attempts of one request before falling back to the long schedule.
    pub call_attempts: usize,
    pub batch_initial: usize,
    pub batch_max: usize,
    /// Upper bound of one batch's uncompressed size.
    pub batch_max_bytes: usize,
    /// How often an idle agent reports to the district dashboard.
    pub heartbeat_secs: u64,
    /// How often an idle service looks for entries added without telling it.
    pub idle_recheck_secs: u64,
    /// How often the service re-checks what the server holds, even without an outage.
    pub reconcile_secs: u64,
    /// "Sync now" stops when nothing could be sent for this long.
    pub sync_now_stall_secs: u64,
    /// While the server cannot be reached, the service checks this often
    /// whether it can again (a bare request to `/healthz`), so a link that
    /// comes back is used within seconds instead of after the backoff.
    pub probe_secs: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            request_timeout_secs: 60.0,
            connect_timeout_secs: 10.0,
            backoff_base_ms: 1000,
            backoff_cap_secs: 600,
            call_attempts: 3,
            batch_initial: 250,
            batch_max: 6000,
            batch_max_bytes: 8 * 1024 * 1024,
            heartbeat_secs: 300,
            idle_recheck_secs: 60,
            reconcile_secs: 3600,
            sync_now_stall_secs: crate::sync_now::STALL_LIMIT.as_secs(),
            probe_secs: 5,
        }
    }
}

impl SyncSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_secs)
    }
    pub fn sync_now_stall(&self) -> Duration {
        Duration::from_secs(self.sync_now_stall_secs)
    }
    pub fn probe_every(&self) -> Duration {
        Duration::from_secs(self.probe_secs)
    }

    fn check(&self) -> Result<(), String> {
        let seconds = |name: &str, v: f64, max: f64| {
            if v.is_finite() && v > 0.0 && v <= max {
                Ok(())
            } else {
                Err(format!(
                    "sync.{name} = {v}: must be a number of seconds above 0 and at most {max}"
                ))
            }
        };
        seconds("request_timeout_secs", self.request_timeout_secs, 3600.0)?;
        seconds("connect_timeout_secs", self.connect_timeout_secs, 600.0)?;
        let whole = |name: &str, v: u64, min: u64, max: u64| {
            if (min..=max).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "sync.{name} = {v}: must be between {min} and {max}"
                ))
            }
        };
        const DAY: u64 = 86_400;
        whole("backoff_cap_secs", self.backoff_cap_secs, 1, DAY)?;
        whole(
            "backoff_base_ms",
            self.backoff_base_ms,
            1,
            self.backoff_cap_secs * 1000,
        )?;
        whole("call_attempts", self.call_attempts as u64, 1, 10)?;
        // The server takes at most 10,000 entries in one upload.
        whole("batch_max", self.batch_max as u64, 1, 10_000)?;
        whole(
            "batch_initial",
            self.batch_initial as u64,
            1,
            self.batch_max as u64,
        )?;
        whole(
            "batch_max_bytes",
            self.batch_max_bytes as u64,
            1024,
            16 * 1024 * 1024,
        )?;
        whole("heartbeat_secs", self.heartbeat_secs, 1, DAY)?;
        whole("idle_recheck_secs", self.idle_recheck_secs, 1, DAY)?;
        whole("reconcile_secs", self.reconcile_secs, 1, 7 * DAY)?;
        whole("sync_now_stall_secs", self.sync_now_stall_secs, 1, DAY)?;
        whole("probe_secs", self.probe_secs, 1, 3600)?;
        Ok(())
    }
}

impl AgentConfig {
    pub fn check(&self) -> Result<(), String> {
        check_server_url(&self.server)?;
        if !self.allow_insecure_http && is_cleartext_to_another_host(&self.server) {
            return Err(insecure_http_message(&self.server));
        }
        check_commune(&self.commune)?;
        // An empty token is checked where it is needed (the API client): in
        // a machine-wide setup the officials' commands cannot read it, and
        // need not.
        self.sync.check()?;
        self.upload_limit.check()
    }

    /// Defaults, then `config.toml`, then `HOTICH_*` variables, then `--set`
    /// flags ([`Overrides`]).
    pub fn load(data_dir: &DataDir) -> Result<AgentConfig, ConfigError> {
        let path = data_dir.config_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotInitialized(data_dir.path().to_path_buf()));
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: path.clone(),
            message,
        };
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        forget_old_batch_defaults(&mut table);
        for (key, value, source) in overrides() {
            apply_override(&mut table, &key, &value)
                .map_err(|e| ConfigError::Value(format!("{source}: {e}")))?;
        }
        let mut config: AgentConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        #[cfg(unix)]
        if data_dir.is_shared() {
            check_config_owner(data_dir, &path)?;
        }
        if config.token.is_empty() {
            // Unreadable (not the service's account) is not an error here.
            if let Ok(token) = fs::read_to_string(data_dir.token_path()) {
                config.token = Secret::new(token.trim());
            }
        }
        config.check().map_err(|message| {
            // A bad value from a variable or flag is named by where it came from.
            match overrides()
                .into_iter()
                .rev()
                .find(|(key, _, _)| message.starts_with(&format!("{key} ")))
            {
                Some((_, _, source)) => ConfigError::Value(format!("{source}: {message}")),
                None => ConfigError::Invalid { path, message },
            }
        })?;
        Ok(config)
    }

    /// Writes the config readable by its owner only, atomically. In a
    /// machine-wide data directory the token goes to its own file, for the
    /// service's account alone, and the rest is readable by the group.
    pub fn save(&self, data_dir: &DataDir) -> Result<(), ConfigError> {
        let path = data_dir.config_path();
        let mut shown = self.clone();
        if data_dir.is_shared() {
            let token_path = data_dir.token_path();
            write_private(&token_path, format!("{}\n", self.token.expose()).as_bytes()).map_err(
                |source| ConfigError::Write {
                    path: token_path,
                    source,
                },
            )?;
            shown.token = Secret::default();
        }
        let text = toml::to_string_pretty(&shown).map_err(|e| ConfigError::Value(e.to_string()))?;
        let text = if shown.token.is_empty() {
            format!(
                "# hotich-agent configuration. The token is in the file `{TOKEN_FILE}`.\n{text}"
            )
        } else {
            format!(
                "# hotich-agent configuration. Holds the agent's secret token: keep it private.\n{text}"
            )
        };
        write_private(&path, text.as_bytes()).map_err(|source| ConfigError::Write { path, source })
    }
}

/// Adds `name` to the office's officials in `config.toml`, keeping the rest
/// of the file as it is; false if it was there already.
pub fn add_official(data_dir: &DataDir, name: &str) -> Result<bool, ConfigError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ConfigError::Value(crate::tr!(
            "official-bad-name",
            name = name
        )));
    }
    let path = data_dir.config_path();
    // In a machine-wide directory an official's own file over config.toml
    // would be refused as not the service's: only its owner or root edits it.
    #[cfg(unix)]
    if data_dir.is_shared() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let owner = fs::metadata(data_dir.path()).map(|m| m.uid()).ok();
        if me != 0 && owner != Some(me) {
            return Err(ConfigError::Value(crate::tr!(
                "official-needs-admin",
                name = name
            )));
        }
    }
    let text = fs::read_to_string(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotInitialized(data_dir.path().to_path_buf()),
        _ => ConfigError::Read {
            path: path.clone(),
            source,
        },
    })?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.clone(),
        message: e.message().to_string(),
    })?;
    let officials = table
        .entry("officials")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    let Some(list) = officials.as_array_mut() else {
        return Err(ConfigError::Invalid {
            path,
            message: "officials must be a list of names".into(),
        });
    };
    let folded = hotich_protocol::text::fold(name);
    if list
        .iter()
        .any(|v| v.as_str().map(hotich_protocol::text::fold) == Some(folded.clone()))
    {
        return Ok(false);
    }
    list.push(toml::Value::String(name.to_string()));
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = toml::to_string_pretty(&table).map_err(|e| ConfigError::Value(e.to_string()))?;
    write_private(&path, format!("{header}{body}").as_bytes()).map_err(|source| {
        ConfigError::Write {
            path: path.clone(),
            source,
        }
    })?;
    #[cfg(unix)]
    give_to_dir_owner(&path).map_err(|source| ConfigError::Write { path, source })?;
    Ok(true)
}

/// The official entering records now: the one named (who must be on the
/// office's list), or the only one on it. `None` when the office keeps no
/// list.
pub fn choose_official(
    config: &AgentConfig,
    named: Option<&str>,
) -> Result<Option<String>, String> {
    use hotich_protocol::text::fold;
    match named.map(str::trim) {
        Some(name) => config
            .officials
            .iter()
            .find(|o| fold(o) == fold(name))
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                crate::tr!(
                    "official-unknown",
                    name = name,
                    list = config.officials.join(", ")
                )
            }),
        None => match config.officials.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only.clone())),
            many => Err(crate::tr!("official-choose", list = many.join(", "))),
        },
    }
}

/// The officials' group may create files in a machine-wide data directory:
/// a `config.toml` one of them put there (naming another server, which
/// would receive the token) is refused. It must be the service account's
/// (the directory's owner) or root's.
#[cfg(unix)]
fn check_config_owner(data_dir: &DataDir, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let read = |p: &Path| {
        fs::metadata(p).map_err(|source| ConfigError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let owner = read(path)?.uid();
    let dir_owner = read(data_dir.path())?.uid();
    if owner == 0 || owner == dir_owner {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "belongs to user id {owner}, not to the service's account (id {dir_owner}) or \
                 root: it may have been replaced; set the agent up again with `sudo \
                 hotich-agent init --force`"
            ),
        })
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `--set KEY=VALUE` flags of this process, set once by the command line.
static FLAG_OVERRIDES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

/// Records the `--set` flags; they win over the file and the environment.
pub fn set_flag_overrides(flags: Vec<(String, String)>) {
    let _ = FLAG_OVERRIDES.set(flags);
}

/// The settings a variable or flag may change, with the variable's name:
/// `sync.probe_secs` is `HOTICH_SYNC_PROBE_SECS`.
pub fn settable_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "server",
        "token",
        "commune",
        "ca_cert",
        "allow_insecure_http",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for (section, table) in default_sections() {
        keys.extend(table.keys().map(|k| format!("{section}.{k}")));
    }
    keys
}

fn default_sections() -> Vec<(&'static str, toml::Table)> {
    let table = |v: Result<toml::Table, _>| v.unwrap_or_default();
    vec![
        (
            "sync",
            table(toml::Table::try_from(SyncSettings::default())),
        ),
        (
            "upload_limit",
            table(toml::Table::try_from(
                crate::ratelimit::UploadLimit::default(),
            )),
        ),
    ]
}

pub fn env_name(key: &str) -> String {
    format!("HOTICH_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Every override in force, in the order applied: variables, then flags;
/// each with where it came from.
pub fn overrides() -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for key in settable_keys() {
        let name = env_name(&key);
        if let Some(value) = env_nonempty(&name) {
            found.push((key, value, name));
        }
    }
    for (key, value) in FLAG_OVERRIDES.get().into_iter().flatten() {
        found.push((key.clone(), value.clone(), format!("--set {key}")));
    }
    found
}

/// Puts `value` at `key` (`section.name`), typed as the default has it.
fn apply_override(table: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let unknown = || {
        format!(
            "no setting \"{key}\"; the settings are: {}",
            settable_keys().join(", ")
        )
    };
    let (section, name) = match key.split_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, key),
    };
    let typed = match section {
        None => match name {
            "server" | "token" | "commune" | "ca_cert" => toml::Value::String(value.to_string()),
            "allow_insecure_http" => toml::Value::Boolean(
                value
                    .parse()
                    .map_err(|_| format!("{key} = \"{value}\": must be true or false"))?,
            ),
            _ => return Err(unknown()),
        },
        Some(section) => {
            let defaults = default_sections()
                .into_iter()
                .find(|(s, _)| *s == section)
                .map(|(_, t)| t)
                .ok_or_else(unknown)?;
            let kind = defaults.get(name).ok_or_else(unknown)?;
            let bad = |what: &str| format!("{key} = \"{value}\": must be {what}");
            match kind {
                toml::Value::Integer(_) => {
                    toml::Value::Integer(value.trim().parse().map_err(|_| bad("a whole number"))?)
                }
                toml::Value::Float(_) => {
                    toml::Value::Float(value.trim().parse().map_err(|_| bad("a number"))?)
                }
                toml::Value::Boolean(_) => {
                    toml::Value::Boolean(value.trim().parse().map_err(|_| bad("true or false"))?)
                }
                _ => toml::Value::String(value.to_string()),
            }
        }
    };
    match section {
        None => {
            table.insert(name.to_string(), typed);
        }
        Some(section) => {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                return Err(format!("{section} in config.toml is not a table"));
            };
            inner.insert(name.to_string(), typed);
        }
    }
    Ok(())
}

pub fn check_server_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("server URL \"{url}\" must start with http:// or https://"))?;
    if rest.trim_end_matches('/').is_empty() {
        return Err(format!("server URL \"{url}\" has no host"));
    }
    Ok(())
}

/// Whether `url` is plain HTTP to a host other than this PC (loopback).
pub fn is_cleartext_to_another_host(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

pub fn insecure_http_message(url: &str) -> String {
    format!(
        "server URL \"{url}\" is plain http:// to another computer: the agent's token and the \
         records would cross the network unencrypted. Use https:// (with --ca-cert for a \
         district CA), or --allow-insecure-http on a network you trust"
    )
}

pub fn check_commune(code: &str) -> Result<(), String> {
    if hotich_protocol::is_commune_code(code) {
        Ok(())
    } else {
        Err(format!(
            "commune code \"{code}\" must be 5 digits, e.g. 00004"
        ))
    }
}

/// Writes a file only its owner can read, replacing any old one atomically.
/// In a machine-wide data directory ([`DataDir::is_shared`]) the officials'
/// group may read it too, except the token; written by root there, it is
/// handed to the directory's owner (the service's account).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let shared = path.parent().is_some_and(dir_is_shared);
    let is_token = path.file_name().is_some_and(|n| n == TOKEN_FILE);
    let _mode: u32 = if shared && !is_token { 0o640 } else { 0o600 };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(_mode);
    }
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    {
        // An older file at `tmp` keeps its mode through open(); force it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(_mode))?;
        if shared {
            give_to_dir_owner(&tmp)?;
        }
    }
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

/// A machine-wide data directory: set-group-ID, so that what the service
/// and the officials' group create there belongs to the group.
pub fn dir_is_shared(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o2000 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// A file SQLite created in a machine-wide data directory (the journal)
/// becomes writable by the group and, when root created it, the service
/// account's; SQLite gives its WAL files the same owner and mode.
pub fn share_with_group(path: &Path) -> std::io::Result<()> {
    if !path.parent().is_some_and(dir_is_shared) {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        give_to_dir_owner(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o660))?;
    }
    Ok(())
}

/// Root writing in a machine-wide data directory (`sudo hotich-agent init
/// --force`) must not leave files the service's account cannot read.
#[cfg(unix)]
pub fn give_to_dir_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let owner = fs::metadata(dir)?;
    std::os::unix::fs::chown(path, Some(owner.uid()), Some(owner.gid()))
}

/// The agent's data directory and the files in it.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// `--data-dir` (or `HOTICH_DATA_DIR`, which clap folds into it), else the
    /// machine-wide one of an installed service when this user may use it
    /// (the service's group can see into it), else the user's own.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<DataDir, ConfigError> {
        if let Some(p) = explicit {
            return Ok(DataDir(p));
        }
        if let Some(system) = system_data_dir()
            && dir_is_shared(&system)
        {
            if !may_enter(&system) {
                return Err(ConfigError::NotMember(system));
            }
            return Ok(DataDir(system));
        }
        directories::ProjectDirs::from("vn", "hotich", "hotich-agent")
            .map(|d| DataDir(d.data_dir().to_path_buf()))
            .ok_or(ConfigError::NoDataDir)
    }

    pub fn new(path: impl Into<PathBuf>) -> DataDir {
        DataDir(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn config_path(&self) -> PathBuf {
        self.0.join(CONFIG_FILE)
    }
    pub fn journal_path(&self) -> PathBuf {
        self.0.join(JOURNAL_FILE)
    }
    pub fn control_path(&self) -> PathBuf {
        self.0.join(CONTROL_FILE)
    }
    pub fn token_path(&self) -> PathBuf {
        self.0.join(TOKEN_FILE)
    }
    pub fn log_dir(&self) -> PathBuf {
        self.0.join("logs")
    }
    /// The machine-wide data directory of an installed service.
    pub fn is_shared(&self) -> bool {
        dir_is_shared(&self.0)
    }

    /// The journal, checked against what this directory knows of it.
    pub fn open_journal(
        &self,
        access: crate::journal::Access,
    ) -> Result<crate::journal::Journal, crate::error::JournalError> {
        crate::journal::Journal::open_checked(&self.0, &self.journal_path(), access)
    }

    /// Creates the directory, private to its owner.
    pub fn create(&self) -> Result<(), ConfigError> {
        let write_err = |source| ConfigError::Write {
            path: self.0.clone(),
            source,
        };
        fs::create_dir_all(&self.0).map_err(write_err)?;
        // A machine-wide directory keeps the modes `service install` gave it.
        #[cfg(unix)]
        if !self.is_shared() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700)).map_err(write_err)?;
        }
        Ok(())
    }
}

/// Whether this user may read and enter `dir` (the group's members may).
fn may_enter(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated path.
        unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::X_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        dir.is_dir()
    }
}

/// The machine-wide data directory a service uses: `/var/lib/hotich-agent`
/// (`%ProgramData%\\hotich` on Windows), or [`SYSTEM_DATA_DIR_ENV`].
pub fn system_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(SYSTEM_DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if cfg!(windows) {
        std::env::var_os("ProgramData").map(|p| PathBuf::from(p).join("hotich"))
    } else {
        Some(PathBuf::from("/var/lib/hotich-agent"))
    }
}

/// Free space for an unprivileged user on the disk holding `path`.
#[cfg(unix)]
pub fn free_disk_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        // `journal.db` in the current directory, or `/`.
        _ if path.parent().is_some() => Path::new("."),
        _ => path,
    };
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `stat` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// Not measured off Unix yet (no Windows toolchain here to build it with).
#[cfg(not(unix))]
pub fn free_disk_bytes(_path: &Path) -> Option<u64> {
    None
}

/// The batch caps `init` wrote into every `config.toml` before they were
/// raised (2,000 records, 2 MiB). A file holding exactly these took the
/// defaults of its day, so it takes today's; any other value was chosen and
/// stays.
fn forget_old_batch_defaults(table: &mut toml::Table) {
    let Some(sync) = table.get_mut("sync").and_then(|s| s.as_table_mut()) else {
        return;
    };
    let integer = |key: &str| sync.get(key).and_then(|v| v.as_integer());
    if integer("batch_max") == Some(2000) && integer("batch_max_bytes") == Some(2 * 1024 * 1024) {
        sync.remove("batch_max");
        sync.remove("batch_max_bytes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug() {
        let c = AgentConfig {
            server: "http://x".into(),
            token: Secret::new("hts_supersecret"),
            commune: "00004".into(),
            ca_cert: None,
            allow_insecure_http: false,
            sync: SyncSettings::default(),
            upload_limit: Default::default(),
            officials: Vec::new(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("Secret(***)"));
    }

    #[test]
    fn save_load_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("agent"));
        dd.create().unwrap();
        let c = AgentConfig {
            server: "http://127.0.0.1:8700".into(),
            token: Secret::new("hts_abc"),
            commune: "00004".into(),
            ca_cert: None,
            allow_insecure_http: false,
            sync: SyncSettings::default(),
            upload_limit: Default::default(),
            officials: Vec::new(),
        };
        c.save(&dd).unwrap();
        let back = AgentConfig::load(&dd).unwrap();
        assert_eq!(back.token.expose(), "hts_abc");
        assert_eq!(back.sync, SyncSettings::default());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dd.config_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn cleartext_only_to_this_pc() {
        for local in [
            "http://127.0.0.1:8700",
            "http://localhost",
            "http://[::1]:80/x",
            "https://hotich.example.vn",
            "http://user@127.0.0.2",
        ] {
            assert!(!is_cleartext_to_another_host(local), "{local}");
        }
        for remote in [
            "http://hotich.example.vn",
            "http://10.0.0.5:8700",
            "http://127.0.0.1.evil.example",
            "http://[2001:db8::1]/",
        ] {
            assert!(is_cleartext_to_another_host(remote), "{remote}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        assert!(check_server_url("ftp://x").unwrap_err().contains("http://"));
        assert!(check_commune("4").unwrap_err().contains("5 digits"));
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path());
        fs::write(
            dd.config_path(),
            "server = \"http://127.0.0.1:9\"\ntoken = \"t\"\ncommune = \"00004\"\n[sync]\nbatch_max = 0\n",
        )
        .unwrap();
        let err = AgentConfig::load(&dd).unwrap_err().to_string();
        assert!(err.contains("batch_max"), "{err}");
    }

    #[test]
    fn batch_caps_init_wrote_before_they_were_raised_take_the_new_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path());
        let head = "server = \"http://127.0.0.1:9\"\ntoken = \"t\"\ncommune = \"00004\"\n[sync]\n";
        fs::write(
            dd.config_path(),
            format!("{head}batch_max = 2000\nbatch_max_bytes = 2097152\n"),
        )
        .unwrap();
        let config = AgentConfig::load(&dd).unwrap();
        let defaults = SyncSettings::default();
        assert_eq!(config.sync.batch_max, defaults.batch_max);
        assert_eq!(config.sync.batch_max_bytes, defaults.batch_max_bytes);
        assert!(defaults.batch_max > 2000);
        // A value someone chose stays.
        fs::write(
            dd.config_path(),
            format!("{head}batch_max = 2000\nbatch_max_bytes = 1048576\n"),
        )
        .unwrap();
        let config = AgentConfig::load(&dd).unwrap();
        assert_eq!(config.sync.batch_max, 2000);
        assert_eq!(config.sync.batch_max_bytes, 1024 * 1024);
    }
}
