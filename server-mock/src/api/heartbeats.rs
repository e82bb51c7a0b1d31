//! Heartbeats are stored in groups: at national scale thousands arrive per
//! second, and one transaction (one fsync) for each would cap the rate at
//! what the disk can sync. A heartbeat is answered once its group commits.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::ApiError;
use crate::store::Storage;
use crate::store::monitor::BeatIn;

/// Heartbeats written in one transaction at most.
const GROUP: usize = 500;

type Ack = oneshot::Sender<Result<(), String>>;

pub struct HeartbeatWriter {
    tx: mpsc::Sender<(BeatIn, Ack)>,
}

impl HeartbeatWriter {
    /// Starts the writer task; it ends when the writer is dropped.
    pub fn start<S: Storage>(store: Arc<S>) -> HeartbeatWriter {
        let (tx, mut rx) = mpsc::channel::<(BeatIn, Ack)>(4 * GROUP);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match rx.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                let (beats, acks): (Vec<BeatIn>, Vec<Ack>) = group.into_iter().unzip();
                let result = store
                    .record_heartbeats(beats)
                    .await
                    .map_err(|e| e.to_string());
                if let Err(error) = &result {
                    tracing::error!(%error, "storing heartbeats failed");
                }
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
        });
        HeartbeatWriter { tx }
    }

    pub async fn store(&self, beat: BeatIn) -> Result<(), ApiError> {
        let (ack, done) = oneshot::channel();
        let gone = || ApiError::Unavailable("the server is stopping".into());
        self.tx.send((beat, ack)).await.map_err(|_| gone())?;
        match done.await.map_err(|_| gone())? {
            Ok(()) => Ok(()),
            Err(_) => Err(ApiError::Internal(
                "the central database failed; try again later".into(),
            )),
        }
    }
}
