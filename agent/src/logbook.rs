//! The last warnings and errors of this process's log, kept in memory so
//! heartbeats can carry them to the dashboard: IT staff read what went
//! wrong at a commune without going there. Log lines hold no token (the
//! token is never logged) and no citizen's data.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;

use hotich_protocol::Timestamp;
use hotich_protocol::wire::{HEARTBEAT_WARNING_CHARS, HEARTBEAT_WARNINGS, LogLine};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

static RECENT: Mutex<VecDeque<LogLine>> = Mutex::new(VecDeque::new());

/// A tracing layer that keeps the last [`HEARTBEAT_WARNINGS`] warnings and errors.
pub struct Logbook;

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for Logbook {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        remember(level, message.0);
    }
}

fn remember(level: Level, message: String) {
    let message = match message.char_indices().nth(HEARTBEAT_WARNING_CHARS) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message,
    };
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if recent.len() == HEARTBEAT_WARNINGS {
        recent.pop_front();
    }
    recent.push_back(LogLine {
        at: Timestamp::now(),
        level: level.to_string(),
        message,
    });
}

/// The warnings and errors kept, oldest first.
pub fn recent() -> Vec<LogLine> {
    RECENT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn keeps_the_last_warnings_with_their_fields() {
        let subscriber = tracing_subscriber::registry().with(Logbook);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            for i in 0..HEARTBEAT_WARNINGS + 5 {
                tracing::warn!(batch = i, "upload failed");
            }
            tracing::error!(error = %"disk full", "cannot write the journal");
        });
        let kept = recent();
        assert_eq!(kept.len(), HEARTBEAT_WARNINGS);
        let last = kept.last().unwrap();
        assert_eq!(last.level, "ERROR");
        assert_eq!(last.message, "cannot write the journal error=disk full");
        assert!(kept.iter().all(|l| l.message != "not kept"));
        assert!(
            kept[0].message.starts_with("upload failed batch="),
            "{kept:?}"
        );
    }
}
