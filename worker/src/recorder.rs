//! Records the ends of attempts in batches: whatever finished while the last
//! write was in flight goes into the next one, so the database sees one
//! statement per batch instead of one per job.

use std::time::Duration;

use mixdown_jobs::{Stores, store::Finish};
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::warn;

/// Most attempt ends written in one batch.
const MAX_BATCH: usize = 512;

/// Hands attempt ends to the recording task; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Finish>,
}

impl Recorder {
    /// Starts the recording task; it ends once every `Recorder` is dropped
    /// and everything sent has been written.
    pub fn spawn(stores: Stores) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        (Self { tx }, tokio::spawn(run(rx, stores)))
    }

    /// Queues one attempt end for writing.
    pub async fn record(&self, finish: Finish) {
        if self.tx.send(finish).await.is_err() {
            warn!("recorder stopped; the reconciler will take this job back");
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Finish>, stores: Stores) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write(&stores, &batch).await;
        batch.clear();
    }
}

/// Writes until the database takes it: the work is done and must not be lost
/// to a passing outage.
async fn write(stores: &Stores, batch: &[Finish]) {
    let mut delay = Duration::from_millis(50);
    loop {
        match stores.jobs.finish_attempts(batch).await {
            Ok(requeue) => return stores.push_recorded(&requeue).await,
            Err(err) => {
                warn!(error = %err, jobs = batch.len(), "recording attempts failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
