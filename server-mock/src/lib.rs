//! The central server: an idempotent, durable, hash-keyed record store on
//! SQLite or PostgreSQL, agent authentication, the chain check, and fault
//! injection for tests and demos.
//!
//! `main.rs` parses the command line ([`cli`]) and calls [`run`] with the
//! configuration, a bound listener and a shutdown future.

pub mod api;
pub mod auth;
pub mod blobs;
pub mod books;
pub mod chaos;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conn;
pub mod error;
pub mod monitor;
pub mod provinces;
pub mod receipts;
pub mod store;
pub mod tls;
pub mod web;
pub mod wording;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::chaos::Chaos;
use crate::config::{Database, ServerConfig};
use crate::conn::PlainListener;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Storage, StoreError};

pub use crate::error::ServerError;

/// Opens the configured store (SQLite or PostgreSQL), applying migrations.
pub async fn open_store(
    database: &Database,
    max_connections: usize,
) -> Result<AnyStore, ServerError> {
    match database {
        Database::Sqlite(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| ServerError::store(database, StoreError::Task(e.to_string())))?
                .map_err(|e| ServerError::store(database, e))?;
            Ok(AnyStore::Sqlite(store))
        }
        Database::Postgres(url) => Ok(AnyStore::Postgres(
            PgStore::connect(url, max_connections)
                .await
                .map_err(|e| ServerError::store(database, e))?,
        )),
    }
}

/// Either backend, for code that picks one at run time.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Serves until `shutdown` resolves, then finishes requests in flight.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = open_store(&config.database, config.max_connections).await?;
    run_store(store, config, listener, shutdown).await
}

/// Like [`run`], with the store already open.
pub async fn run_store(
    store: AnyStore,
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    match store {
        AnyStore::Sqlite(s) => serve(Arc::new(s), config, listener, shutdown).await,
        AnyStore::Postgres(s) => serve(Arc::new(s), config, listener, shutdown).await,
    }
}

/// Brings the database's note of held scans up to date with the scans
/// directory (scans stored before the database kept one, or a database
/// restored from an older backup), in the background.
fn note_held_scans<S: Storage>(store: Arc<S>, blobs: Arc<dyn blobs::BlobBackend>) {
    tokio::spawn(async move {
        let held = match tokio::task::spawn_blocking(move || blobs.all_held()).await {
            Ok(Ok(held)) => held,
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not list the held scans");
                return;
            }
            Err(_) => return,
        };
        let now = hotich_protocol::Timestamp::now();
        for (commune, sha) in held {
            if let Err(error) = store.note_scan_held(&commune, &sha.to_hex(), now).await {
                tracing::warn!(%error, "could not note a held scan");
                return;
            }
        }
    });
}

pub async fn serve<S: Storage>(
    store: Arc<S>,
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.chaos.check().map_err(ServerError::Usage)?;
    if !config.chaos.is_off() {
        tracing::warn!(chaos = ?config.chaos, "fault injection is ON");
    }
    let chaos = Arc::new(Chaos::new(config.chaos.clone()));
    let blob_dir = config.blobs.clone().or_else(|| match &config.database {
        Database::Sqlite(path) => Some(blobs::BlobDir::beside(path)),
        Database::Postgres(_) => None,
    });
    let blob_store = match blob_dir {
        Some(dir) => {
            let opened = blobs::BlobDir::open(&dir).map_err(|source| ServerError::Io {
                context: format!("opening the scans directory {}", dir.display()),
                source,
            })?;
            Some(Arc::new(opened) as Arc<dyn blobs::BlobBackend>)
        }
        None => {
            tracing::warn!("no --blobs directory: page scans are refused");
            None
        }
    };
    if let Some(blobs) = blob_store.clone() {
        note_held_scans(store.clone(), blobs);
    }
    let receipts = receipts::ReceiptSigner::load(store.as_ref())
        .await
        .map_err(|e| ServerError::store(&config.database, e))?;
    let app = api::router(
        store,
        config.limits,
        chaos,
        config.thresholds,
        config.tls.is_some(),
        blob_store,
        Arc::new(receipts),
    );
    match &config.tls {
        None => conn::serve(PlainListener(listener), app, config.conn, shutdown).await,
        Some(files) => {
            let tls = tls::load_config(&files.cert, &files.key).map_err(ServerError::Tls)?;
            let listener =
                tls::TlsListener::new(listener, tls).map_err(|source| ServerError::Io {
                    context: "starting TLS".into(),
                    source,
                })?;
            conn::serve(listener, app, config.conn, shutdown).await
        }
    }
    Ok(())
}
