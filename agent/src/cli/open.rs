//! `open`: the official's page in the default browser, through a one-time
//! login link the running service makes (see `crate::ui`).

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use crate::config::DataDir;
use crate::control::{ControlInfo, SECRET_HEADER};
use crate::error::AgentError;
use crate::tr;

fn refused(error: String) -> AgentError {
    AgentError::Failed(tr!("open-service-refused", error = error))
}

/// Asks the service for a login link. Only who can read `control.json`
/// (the data directory's owner, or the service's group) gets one.
fn login_url(data_dir: &DataDir) -> Result<String, AgentError> {
    let info = ControlInfo::read(&data_dir.control_path())
        .ok_or_else(|| AgentError::Failed(tr!("open-no-service")))?;
    let runtime = super::runtime()?;
    let path = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| refused(e.to_string()))?;
        let response = client
            .post(format!("http://127.0.0.1:{}/v1/ui-link", info.port))
            .header(SECRET_HEADER, &info.secret)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    // A control file left by a service that has stopped.
                    AgentError::Failed(tr!("open-no-service"))
                } else {
                    refused(e.to_string())
                }
            })?;
        if !response.status().is_success() {
            return Err(refused(format!("HTTP {}", response.status().as_u16())));
        }
        let answer: serde_json::Value =
            response.json().await.map_err(|e| refused(e.to_string()))?;
        answer["path"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| refused("no link in the answer".into()))
    })?;
    Ok(format!("http://127.0.0.1:{}{path}", info.port))
}

/// The desktop's own way of opening a link.
fn browser_command(url: &str) -> Command {
    if cfg!(windows) {
        // `start` takes the first quoted argument as a window title.
        let mut c = Command::new("cmd");
        c.args(["/C", "start", "", url]);
        c
    } else if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else {
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    }
}

pub(super) fn open(data_dir: &DataDir, print: bool) -> Result<ExitCode, AgentError> {
    let url = login_url(data_dir)?;
    if print {
        println!("{url}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{}", tr!("open-opening"));
    let opened = browser_command(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match opened {
        Ok(status) if status.success() => Ok(ExitCode::SUCCESS),
        Ok(status) => Err(AgentError::Failed(tr!(
            "open-no-browser",
            error = status.to_string(),
            url = url
        ))),
        Err(e) => Err(AgentError::Failed(tr!(
            "open-no-browser",
            error = e.to_string(),
            url = url
        ))),
    }
}
