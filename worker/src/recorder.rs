//! Records the ends of attempts in batches: whatever finished while the last
//! write was in flight goes into the next one, so the database sees one
//! statement per batch instead of one per job. The live events of the ends
//! recorded follow in one batch too.

use std::{collections::HashSet, time::Duration};

use mixdown_jobs::{
    Stores,
    db::Finish,
    events::Event,
    ids::{JobId, TenantId},
};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Most attempt ends written in one batch.
const MAX_BATCH: usize = 512;

enum Message {
    /// An attempt's end, and the event that tells it once recorded.
    Finish(Finish, Option<(TenantId, Event)>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// Hands attempt ends to the recording task; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Message>,
}

impl Recorder {
    /// Starts the recording task; it runs until every `Recorder` is dropped.
    pub fn spawn(stores: Stores) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(rx, stores));
        Self { tx }
    }

    /// Queues one attempt end for writing; `event` is published once it is
    /// recorded.
    pub async fn record(&self, finish: Finish, event: Option<(TenantId, Event)>) {
        if self.tx.send(Message::Finish(finish, event)).await.is_err() {
            warn!("recorder stopped; the reconciler will take this job back");
        }
    }

    /// Waits until every attempt end recorded so far is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Message>, stores: Stores) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut events = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while rx.recv_many(&mut messages, MAX_BATCH).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Finish(finish, event) => {
                    events.extend(event.map(|(tenant, e)| (finish.id, tenant, e)));
                    batch.push(finish);
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !batch.is_empty() {
            let recorded = write(&stores, &batch).await;
            let told: Vec<_> = events
                .drain(..)
                .filter(|(id, ..)| recorded.contains(id))
                .map(|(_, tenant, event)| (tenant, event))
                .collect();
            stores.events.post(&told);
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes until the database takes it: the work is done and must not be lost
/// to a passing outage. Returns the jobs whose end was recorded.
async fn write(stores: &Stores, batch: &[Finish]) -> HashSet<JobId> {
    let mut delay = Duration::from_millis(50);
    loop {
        match stores.db.jobs.record_ends(batch).await {
            Ok(ended) => {
                stores.push_recorded(&ended.push).await;
                return ended.recorded.into_iter().collect();
            }
            Err(err) => {
                warn!(error = %err, jobs = batch.len(), "recording attempts failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
