//! The worker's heartbeat: tells the job store it is alive, and picks up
//! cancellation requests for the attempts it runs.

use std::time::Duration;

use mixdown_jobs::{Stores, store::WorkerRecord, time::Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::execute::CancelRegistry;

/// Beats every `every` until `stop` fires.
pub(crate) async fn run(
    stores: Stores,
    record: WorkerRecord,
    cancels: CancelRegistry,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => beat(&stores, &record, &cancels).await,
            () = stop.cancelled() => return,
        }
    }
}

async fn beat(stores: &Stores, record: &WorkerRecord, cancels: &CancelRegistry) {
    match stores.jobs.heartbeat(record).await {
        Ok(()) => stores
            .metrics
            .worker_heartbeat
            .set(Timestamp::now().millis() / 1000),
        Err(err) => warn!(error = %err, "heartbeat failed"),
    }
    match stores.jobs.cancel_requests(&record.id).await {
        Ok(ids) => cancels.cancel(&ids),
        Err(err) => warn!(error = %err, "reading cancellation requests failed"),
    }
}
