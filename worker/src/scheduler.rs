//! The scheduler: every worker process passes over the due schedules every
//! `schedule_interval_ms` and pushes the jobs their ticks make. What a due
//! tick does is `mixdown_jobs::schedules`; that each tick is taken once
//! however many processes pass at once is `db::schedules`, so there is no
//! leader to elect or lose.

use std::time::Duration;

use mixdown_jobs::{Stores, db::StoreError};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::settings::WorkerSettings;

/// Due schedules taken per pass; more wait for the next pass.
const PAGE: u32 = 500;

/// How often the scheduler passes, and how late a tick may still fire.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerSettings {
    /// Time between passes: the most a tick's job waits to be made.
    pub interval: Duration,
    /// A tick met later than this after its instant was missed.
    pub grace: Duration,
}

impl SchedulerSettings {
    /// The scheduler's part of a worker's settings.
    pub fn new(worker: &WorkerSettings) -> Self {
        Self {
            interval: worker.schedule_interval_ms.get(),
            grace: worker.schedule_grace_ms.get(),
        }
    }
}

/// Fires due schedules.
#[derive(Debug, Clone)]
pub struct Scheduler {
    stores: Stores,
    settings: SchedulerSettings,
}

impl Scheduler {
    /// A scheduler over `stores`.
    pub fn new(stores: Stores, settings: SchedulerSettings) -> Self {
        Self { stores, settings }
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
            if let Err(err) = self.pass().await {
                warn!(error = %err, "scheduler pass failed");
            }
        }
    }

    /// One pass: records the jobs of the ticks due now and pushes them;
    /// returns how many it made.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        let schedules = &self.stores.db.schedules;
        let made = schedules.fire_due(self.settings.grace, PAGE).await?;
        self.stores.announce(&made).await;
        Ok(made.len())
    }
}
