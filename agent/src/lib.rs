//! The commune agent: a durable local journal of civil-status records and the
//! engine that uploads it to the central database whenever the network
//! allows. See ARCHITECTURE.md for the data flow and the invariants.

pub mod blobs;
pub mod cli;
pub mod client;
pub mod columns;
pub mod config;
pub mod control;
pub mod error;
pub mod i18n;
pub mod import;
pub mod input;
pub mod install;
pub mod journal;
pub mod legacy;
pub mod lock;
pub mod logbook;
pub mod logging;
pub mod memory;
pub mod notify;
pub mod ratelimit;
pub mod rejects;
pub mod retry;
pub mod service;
pub mod status;
pub mod sync;
pub mod sync_now;
pub mod ui;

pub use config::{AgentConfig, DataDir};
pub use error::AgentError;
pub use journal::Journal;
