//! Test support for hotich-sync: a generator of valid records, a fault
//! injecting TCP proxy, PostgreSQL scratch databases, and a harness that runs
//! the real `hotich-server` and `hotich-agent` binaries on loopback.

pub mod batch;
pub mod browser;
pub mod harness;
pub mod http;
pub mod pg;
pub mod proxy;
pub mod records;

pub use harness::{Db, TestAgent, TestServer};
pub use proxy::{FaultProxy, Mode};
pub use records::RecordGen;
