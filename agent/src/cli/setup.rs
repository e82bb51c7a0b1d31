//! `init`: setting up this PC's agent.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{ApiClient, ApiError};
use crate::config::{
    AgentConfig, DataDir, Secret, check_commune, check_server_url, insecure_http_message,
    is_cleartext_to_another_host,
};
use crate::error::{AgentError, ConfigError};
use crate::journal::Journal;
use crate::tr;
use hotich_protocol::wire::WhoAmI;

pub(super) struct InitArgs {
    pub server: String,
    pub token: String,
    pub commune: String,
    pub ca_cert: Option<PathBuf>,
    pub force: bool,
    pub allow_insecure_http: bool,
    /// Write the setup without asking the server (no network at install time).
    pub offline: bool,
}

pub(super) fn init(data_dir: &DataDir, args: InitArgs) -> Result<ExitCode, AgentError> {
    let InitArgs {
        server,
        token,
        commune,
        ca_cert,
        force,
        allow_insecure_http,
        offline,
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
    // Keep tuning and the officials a previous config carried, if any.
    let (sync, upload_limit, officials) = previous
        .map(|c| (c.sync, c.upload_limit, c.officials))
        .unwrap_or_default();
    let config = AgentConfig {
        server,
        token: Secret::new(token.trim()),
        commune: commune.trim().to_string(),
        ca_cert,
        allow_insecure_http,
        sync,
        upload_limit,
        officials,
    };
    // A wrong token, commune or address found now, not days later when
    // someone wonders why nothing arrived; nothing is written before.
    let mut held_centrally = 0;
    if offline {
        println!("{}", tr!("init-offline"));
    } else {
        let confirmed = confirm_with_server(&config)?;
        println!("{}", confirmed_line(&confirmed));
        held_centrally = confirmed.journal_seq;
    }
    data_dir.create()?;
    config.save(data_dir)?;
    let journal = Journal::create(data_dir.path(), &data_dir.journal_path())?;
    crate::config::share_with_group(journal.path())
        .map_err(|e| AgentError::io(format!("cannot share {}", journal.path().display()), e))?;
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
    // This token's journal already sent records from another PC (or this
    // one before its disk died): numbering again from 1 would collide.
    if held_centrally > entries {
        println!(
            "{}",
            tr!(
                "init-server-holds-more",
                server = held_centrally,
                local = entries
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What the server says about this setup, for `init` and `doctor`.
pub(super) enum Confirmation {
    /// The token is this commune's.
    Confirmed(WhoAmI),
    /// The token is valid, for another commune.
    OtherCommune(WhoAmI),
    /// The server refused the token, could not be reached, or failed.
    Failed(ApiError),
}

/// Asks the server who this token belongs to.
pub(super) fn ask_server(config: &AgentConfig) -> Result<Confirmation, AgentError> {
    let client = ApiClient::new(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("cannot start the async runtime", e))?;
    Ok(match runtime.block_on(client.whoami()) {
        Ok(me) if me.commune == config.commune => Confirmation::Confirmed(me),
        Ok(me) => Confirmation::OtherCommune(me),
        Err(e) => Confirmation::Failed(e),
    })
}

/// `init`'s check: this commune's token, or an error saying what to fix
/// (and that nothing was written).
fn confirm_with_server(config: &AgentConfig) -> Result<WhoAmI, AgentError> {
    use crate::i18n::{Arg, message};
    let failed = |key: &str, detail: String| {
        AgentError::Config(ConfigError::Value(message(
            key,
            &[
                ("server", Arg::from(config.server.as_str())),
                ("detail", Arg::from(detail)),
            ],
        )))
    };
    match ask_server(config)? {
        Confirmation::Confirmed(me) => Ok(me),
        Confirmation::OtherCommune(me) => Err(ConfigError::Value(tr!(
            "init-wrong-commune",
            token_commune = me.commune.as_str(),
            commune = config.commune.as_str()
        ))
        .into()),
        Confirmation::Failed(ApiError::Unauthorized(why) | ApiError::Forbidden(why)) => {
            Err(failed("init-token-refused", why))
        }
        Confirmation::Failed(
            e @ (ApiError::Connect(_) | ApiError::Timeout(_) | ApiError::Transport(_)),
        ) => Err(failed("init-unreachable", AgentError::Api(e).message())),
        Confirmation::Failed(e) => Err(failed("init-check-failed", AgentError::Api(e).message())),
    }
}

/// "The server knows this token: commune 00004 (UBND xã Tân Lập, Đắk Lắk)".
pub(super) fn confirmed_line(me: &WhoAmI) -> String {
    let place: Vec<&str> = [me.name.as_deref(), me.province.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let place = if place.is_empty() {
        String::new()
    } else {
        format!(" ({})", place.join(", "))
    };
    tr!(
        "init-confirmed",
        commune = me.commune.as_str(),
        place = place,
        skew = clock_skew_secs(me)
    )
}

/// How far this PC's clock is from the server's, in whole seconds
/// (positive: this PC is ahead).
pub(super) fn clock_skew_secs(me: &WhoAmI) -> i64 {
    (hotich_protocol::Timestamp::now().millis() - me.server_time.millis()) / 1000
}
