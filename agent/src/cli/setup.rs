//! `init`: setting up this PC's agent.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{
    AgentConfig, DataDir, Secret, SyncSettings, check_commune, check_server_url,
    insecure_http_message, is_cleartext_to_another_host,
};
use crate::error::{AgentError, ConfigError};
use crate::journal::Journal;
use crate::tr;

pub(super) struct InitArgs {
    pub server: String,
    pub token: String,
    pub commune: String,
    pub ca_cert: Option<PathBuf>,
    pub force: bool,
    pub allow_insecure_http: bool,
}

pub(super) fn init(data_dir: &DataDir, args: InitArgs) -> Result<ExitCode, AgentError> {
    let InitArgs {
        server,
        token,
        commune,
        ca_cert,
        force,
        allow_insecure_http,
    } = args;
    let server = server.trim().trim_end_matches('/').to_string();
    check_server_url(&server).map_err(ConfigError::Value)?;
    if !allow_insecure_http && is_cleartext_to_another_host(&server) {
        return Err(ConfigError::Value(insecure_http_message(&server)).into());
    }
    check_commune(commune.trim()).map_err(ConfigError::Value)?;
    if token.trim().is_empty() {
        return Err(ConfigError::Value(tr!("init-token-empty")).into());
    }
    if data_dir.config_path().exists() && !force {
        return Err(ConfigError::AlreadyInitialized(data_dir.path().to_path_buf()).into());
    }
    if let Some(ca) = &ca_cert
        && !ca.is_file()
    {
        return Err(
            ConfigError::Value(tr!("init-ca-not-a-file", path = ca.display().to_string())).into(),
        );
    }
    let previous = AgentConfig::load(data_dir).ok();
    // A journal holds one commune's records; the server refuses others'.
    if let Some(old) = previous.as_ref().filter(|c| c.commune != commune.trim())
        && data_dir.journal_path().exists()
        && Journal::open(&data_dir.journal_path())?.counts()?.total > 0
    {
        return Err(ConfigError::Value(tr!(
            "init-other-commune",
            dir = data_dir.path().display().to_string(),
            old = old.commune.as_str(),
            new = commune.trim()
        ))
        .into());
    }
    data_dir.create()?;
    // Keep tuning a previous config carried, if any.
    let sync: SyncSettings = previous.map(|c| c.sync).unwrap_or_default();
    let config = AgentConfig {
        server,
        token: Secret::new(token.trim()),
        commune: commune.trim().to_string(),
        ca_cert,
        allow_insecure_http,
        sync,
    };
    config.save(data_dir)?;
    let journal = Journal::create(data_dir.path(), &data_dir.journal_path())?;
    let entries = journal.counts()?.total;
    println!(
        "{}",
        tr!(
            "init-done",
            commune = config.commune.as_str(),
            dir = data_dir.path().display().to_string(),
            server = config.server.as_str(),
            journal = journal.path().display().to_string(),
            entries = entries
        )
    );
    Ok(ExitCode::SUCCESS)
}
