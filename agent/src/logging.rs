//! Where the agent's log goes. Every command logs to standard error (colour
//! only on a terminal). The service also keeps a plain-text log file in the
//! data directory, one per day, the last [`LOG_FILES_KEPT`] kept, so that IT
//! staff at the commune read what happened without any tool. Under systemd
//! standard error goes to the journal: lines then carry no colour and no
//! time (the journal adds its own) and start with a `<N>` priority, so
//! `journalctl -p warning` works. `RUST_LOG` filters as usual.
//!
//! Nothing logged holds the token (it is never passed to a log macro) or a
//! citizen's data (records are logged by sequence number only).

use std::io::{self, Write};
use std::path::Path;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Daily files kept in `logs/`: two weeks, a few MB at most.
pub const LOG_FILES_KEPT: usize = 14;
pub const LOG_FILE_PREFIX: &str = "hotich-agent";

/// Sets up logging for this process. `log_dir`: the service's log files
/// (`None` for other commands). A log directory that cannot be written is
/// reported and skipped: the service runs on without its file.
pub fn init(level: &str, log_dir: Option<&Path>) {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let console = tracing_subscriber::fmt::layer()
        .with_writer(PrioritizedStderr {
            prefix: under_journald,
        })
        .with_ansi(!under_journald && io::IsTerminal::is_terminal(&io::stderr()))
        .with_target(false);
    let console = if under_journald {
        console.without_time().with_filter(filter()).boxed()
    } else {
        console.with_filter(filter()).boxed()
    };
    let mut file_problem = None;
    let file = log_dir.and_then(|dir| match daily_file(dir) {
        Ok(appender) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(appender)
                .with_ansi(false)
                .with_target(false)
                .with_filter(filter()),
        ),
        Err(e) => {
            file_problem = Some(format!("{}: {e}", dir.display()));
            None
        }
    });
    // Warnings also go to heartbeats, whatever the console shows.
    let logbook = crate::logbook::Logbook.with_filter(LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(console)
        .with(file)
        .with(logbook)
        .init();
    if let Some(problem) = file_problem {
        tracing::warn!(%problem, "cannot write the log file; logging to standard error only");
    }
}

fn daily_file(dir: &Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(LOG_FILES_KEPT)
        .build(dir)
        .map_err(|e| e.to_string())
}

/// Standard error, each line led by its syslog priority when the journal
/// reads it (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug).
struct PrioritizedStderr {
    prefix: bool,
}

struct PrefixedLine {
    priority: Option<u8>,
}

impl Write for PrefixedLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut err = io::stderr().lock();
        if let Some(p) = self.priority.take() {
            write!(err, "<{p}>")?;
        }
        err.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

impl<'a> MakeWriter<'a> for PrioritizedStderr {
    type Writer = PrefixedLine;
    fn make_writer(&'a self) -> PrefixedLine {
        PrefixedLine { priority: None }
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> PrefixedLine {
        PrefixedLine {
            priority: self.prefix.then(|| syslog_priority(meta.level())),
        }
    }
}
