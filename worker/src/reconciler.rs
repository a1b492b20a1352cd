//! The reconciler: makes the queue agree with the job store, the record.
//!
//! Each pass, under a lease so one process at a time does it:
//! 1. running jobs of workers that stopped beating go back to the queue (or
//!    fail, when out of attempts);
//! 2. queued jobs changed since the last pass are pushed again, which heals a
//!    crash between recording a job and pushing it. When the queue has lost
//!    its mark (a new namespace, or Redis restarted empty) every queued job is
//!    pushed again. Pushing is idempotent, so overlap costs nothing but time.
//! 3. parents still waiting though every child has ended (the wake was lost
//!    to a crash, or a child ended by recovery) are queued to run on;
//! 4. ended jobs with a callback URL get the `callback` job that reports
//!    their end (the outbox: whichever way a job ended, it is found here);
//! 5. at most every [`JanitorSettings::every`], the janitor sweeps.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use mixdown_jobs::{
    Stores,
    db::StoreError,
    kind::JobKind,
    queue::{QueueEntry, QueueError},
    settings::JobsSettings,
    time::Timestamp,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    janitor::{self, JanitorSettings},
    settings::WorkerSettings,
};

/// Queued jobs read per page while pushing again.
const PAGE: u32 = 1000;

/// How often and how carefully the reconciler works.
#[derive(Debug, Clone, Copy)]
pub struct ReconcilerSettings {
    /// Time between passes.
    pub interval: Duration,
    /// A queued job changed more recently than this is left to its writer.
    pub grace: Duration,
    /// A worker silent for longer than this is gone.
    pub dead_after: Duration,
    /// What the janitor keeps, and for how long.
    pub janitor: JanitorSettings,
}

impl ReconcilerSettings {
    /// The reconciler's part of a worker's and the fleet's settings.
    pub fn new(worker: &WorkerSettings, fleet: &JobsSettings) -> Self {
        Self {
            interval: worker.reconcile_interval_ms.get(),
            grace: worker.redrive_grace_ms.get(),
            dead_after: fleet.dead_after_ms.get(),
            janitor: JanitorSettings::new(fleet),
        }
    }
}

/// A reconciler failure; the pass is retried at the next interval.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The job store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Runs reconciliation passes.
#[derive(Debug, Clone)]
pub struct Reconciler {
    stores: Stores,
    settings: ReconcilerSettings,
    holder: String,
    last_sweep: Arc<Mutex<Option<Timestamp>>>,
}

impl Reconciler {
    /// A reconciler that leads under the name `holder`.
    pub fn new(stores: Stores, settings: ReconcilerSettings, holder: String) -> Self {
        Self {
            stores,
            settings,
            holder,
            last_sweep: Arc::default(),
        }
    }

    /// Passes every interval until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            let outcome = match self.pass().await {
                Ok(true) => "done",
                Ok(false) => "skipped",
                Err(err) => {
                    warn!(error = %err, "reconciler pass failed");
                    "error"
                }
            };
            let runs = &self.stores.metrics.reconciler_runs;
            runs.with_label_values(&[outcome]).inc();
        }
    }

    /// One pass; false when another process holds the lead.
    pub async fn pass(&self) -> Result<bool, ReconcileError> {
        let queue = &self.stores.queue;
        if !queue.lead(&self.holder, self.settings.interval * 3).await? {
            return Ok(false);
        }
        // An upgrade's leftovers must not stop the pass that recovers and redrives jobs.
        if let Err(error) = self.adopt_untagged().await {
            warn!(%error, "untagged queue keys not moved in; the next pass tries again");
        }
        let recovered = self
            .stores
            .db
            .jobs
            .recover_orphans(self.settings.dead_after)
            .await?;
        if !recovered.is_empty() {
            info!(jobs = recovered.len(), "took back jobs of stopped workers");
            self.count(&recovered, |m| &m.jobs_recovered);
            queue.push(&recovered).await?;
        }
        let now = self.stores.clock().now();
        let mark = queue.redrive_mark().await?;
        // Without a mark the queue may have lost anything, however recent.
        let upto = if mark.is_some() {
            now.minus(self.settings.grace)
        } else {
            now
        };
        let from = mark.unwrap_or(Timestamp::from_millis(i64::MIN));
        let pushed = self.push_queued(from, upto).await?;
        if mark.is_none() && pushed > 0 {
            info!(
                jobs = pushed,
                "queue had no mark: pushed every queued job again"
            );
        }
        queue
            .set_redrive_mark(now.minus(self.settings.grace))
            .await?;
        let woken = self.stores.db.jobs.wake_stalled(PAGE).await?;
        if !woken.is_empty() {
            info!(jobs = woken.len(), "woke parents whose children had ended");
            queue.push(&woken).await?;
        }
        let callbacks = self.stores.db.jobs.record_due_callbacks(PAGE).await?;
        if !callbacks.is_empty() {
            queue.push(&callbacks).await?;
        }
        if self.sweep_due() {
            janitor::sweep(&self.stores, &self.settings.janitor).await?;
        }
        Ok(true)
    }

    /// Moves what an older version left in the untagged Redis layout into
    /// each queue, so an upgrade strands no job there.
    async fn adopt_untagged(&self) -> Result<(), ReconcileError> {
        for queue in JobKind::queues_of(&JobKind::ALL) {
            let moved = self.stores.queue.adopt_untagged(queue).await?;
            if moved > 0 {
                info!(
                    queue,
                    entries = moved,
                    "moved queue entries of the untagged layout"
                );
            }
        }
        Ok(())
    }

    /// Whether the janitor's time has come; notes the sweep if so.
    fn sweep_due(&self) -> bool {
        let Ok(mut last) = self.last_sweep.lock() else {
            return false;
        };
        let now = self.stores.clock().now();
        let due = last.is_none_or(|at| now.since(at) >= self.settings.janitor.every);
        if due {
            *last = Some(now);
        }
        due
    }

    async fn push_queued(&self, from: Timestamp, upto: Timestamp) -> Result<usize, ReconcileError> {
        let mut pages = self
            .stores
            .db
            .jobs
            .queued_changed_between(from, upto)
            .chunks(PAGE as usize);
        let mut pushed = 0;
        while let Some(page) = pages.next().await {
            let entries = page.into_iter().collect::<Result<Vec<QueueEntry>, _>>()?;
            self.stores.queue.push(&entries).await?;
            self.count(&entries, |m| &m.redriven);
            pushed += entries.len();
        }
        Ok(pushed)
    }

    fn count(
        &self,
        entries: &[QueueEntry],
        counter: fn(&mixdown_jobs::metrics::Metrics) -> &prometheus::IntCounterVec,
    ) {
        let counter = counter(&self.stores.metrics);
        for e in entries {
            counter.with_label_values(&[e.queue.as_str()]).inc();
        }
    }
}
