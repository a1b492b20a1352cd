//! A worker driven step by step, on the caller's task: each call runs every
//! job due now and whatever those jobs lead to (children, woken parents,
//! callbacks), until nothing is left due. Nothing runs between calls, so
//! with a manual clock a retry waits until its caller moves the clock:
//! tests drive time instead of sleeping.

use futures::future::join_all;
use mixdown_jobs::Stores;

use crate::{
    fetch::claim_due,
    runtime::{Parts, WorkerError, WorkerPlan, assemble},
};

/// Due jobs taken from one queue at a time.
const BATCH: usize = 64;

/// A worker that runs jobs when told to.
pub struct Stepper {
    stores: Stores,
    parts: Parts,
}

impl Stepper {
    /// A worker of `plan` over `stores`, registered and idle.
    pub async fn new(stores: Stores, plan: WorkerPlan) -> Result<Self, WorkerError> {
        let parts = assemble(&stores, plan).await?;
        Ok(Self { stores, parts })
    }

    /// Runs every job of the worker's queues that is due now, then what
    /// they lead to, each step after a reconciler pass (which records the
    /// callbacks of ended jobs) and a scheduler pass (which makes the jobs
    /// of due ticks), until a step finds nothing due. Returns how many
    /// attempts ran.
    pub async fn run_due(&self) -> usize {
        let parts = &self.parts;
        let lease = parts.plan.settings.lease_ms.get();
        let mut total = 0;
        loop {
            // Beat first: a clock moved since the last step must not make
            // this worker look dead to the pass below.
            let _ = self.stores.db.workers.heartbeat(&parts.record).await;
            if let Err(err) = parts.reconciler.pass().await {
                tracing::warn!(error = %err, "reconciler pass failed");
            }
            if let Err(err) = parts.scheduler.pass().await {
                tracing::warn!(error = %err, "scheduler pass failed");
            }
            let mut ran = 0;
            for kind in &parts.plan.queues {
                let worker = &parts.record.id;
                let claimed = claim_due(&self.stores, worker, kind.queue(), BATCH, lease).await;
                let jobs = claimed.map(|c| c.jobs).unwrap_or_default();
                ran += jobs.len();
                join_all(jobs.into_iter().map(|job| parts.executor.execute(job))).await;
            }
            parts.recorder.flush().await;
            if ran == 0 {
                return total;
            }
            total += ran;
        }
    }
}
