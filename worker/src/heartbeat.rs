//! The worker's heartbeat: tells the job store it is alive, picks up
//! cancellation requests for the attempts it runs, and stops the attempts the
//! fleet took back while this process was silent (paused by SIGSTOP, stalled,
//! cut off from the database): the job runs elsewhere now, and must not run
//! here too.
//!
//! It runs on a thread of its own with its own runtime and database
//! connection: a handler that hogs the executor's threads (CPU-bound code
//! run where it should not be) must not make the fleet think this process
//! died and run its jobs twice.

use std::{thread::JoinHandle, time::Duration};

use mixdown_jobs::{
    db::{Database, WorkerRecord},
    metrics::Metrics,
};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::execute::CancelRegistry;

/// What the heartbeat thread needs.
pub(crate) struct Heartbeat {
    pub db: Database,
    pub metrics: Metrics,
    pub record: WorkerRecord,
    pub cancels: CancelRegistry,
    pub every: Duration,
}

impl Heartbeat {
    /// Beats every `every` on a thread of its own until `stop` fires.
    pub fn spawn(self, stop: CancellationToken) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("mixdown-heartbeat".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(self.run(stop)),
                    Err(err) => warn!(error = %err, "heartbeat runtime did not start"),
                }
            })
    }

    async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut own: Option<Database> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            // Connections belong to the runtime that opened them, so this
            // thread opens its own (again after a failure).
            if own.is_none() {
                match self.db.reopen_alone().await {
                    Ok(store) => own = Some(store),
                    Err(err) => warn!(error = %err, "heartbeat cannot reach the database"),
                }
            }
            if let Some(store) = &own
                && !self.beat(store).await
            {
                own = None;
            }
        }
    }

    /// One beat; false when the connection failed.
    async fn beat(&self, db: &Database) -> bool {
        let limit = self.every.max(Duration::from_secs(1));
        let beat = tokio::time::timeout(limit, db.workers.heartbeat(&self.record)).await;
        match beat {
            Ok(Ok(())) => {
                self.metrics
                    .worker_heartbeat
                    .set(db.clock().now().millis() / 1000);
                // Host clocks drift: follow the database's, which every
                // host's times are compared on.
                if let Ok(Err(err)) = tokio::time::timeout(limit, db.sync_clock()).await {
                    warn!(error = %err, "reading the database's time failed");
                }
            }
            Ok(Err(err)) => {
                warn!(error = %err, "heartbeat failed");
                return false;
            }
            Err(_) => {
                warn!("heartbeat timed out");
                return false;
            }
        }
        match tokio::time::timeout(limit, db.jobs.cancel_requests(&self.record.id)).await {
            Ok(Ok(ids)) => self.cancels.cancel(&ids),
            Ok(Err(err)) => warn!(error = %err, "reading cancellation requests failed"),
            Err(_) => warn!("reading cancellation requests timed out"),
        }
        self.stop_lost(db, limit).await;
        true
    }

    /// Stops the attempts running here that the store gave to no one or to
    /// another worker. Read the attempts first: one claimed after that is
    /// not in the list, and one listed was claimed before the store is asked.
    async fn stop_lost(&self, db: &Database, limit: Duration) {
        let running = self.cancels.running();
        let lost = db.jobs.lost_by(&self.record.id, &running);
        match tokio::time::timeout(limit, lost).await {
            Ok(Ok(ids)) if !ids.is_empty() => {
                warn!(
                    jobs = ids.len(),
                    "attempts taken back while this worker was silent: stopping them"
                );
                self.cancels.cancel(&ids);
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => warn!(error = %err, "reading lost attempts failed"),
            Err(_) => warn!("reading lost attempts timed out"),
        }
    }
}
