//! The job source of one queue, as an apalis backend: leases ids from the
//! queue, claims them in the job store, acknowledges the leases, and yields
//! the claimed attempts.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::BoxStream};
use mixdown_jobs::{
    Stores, ids::JobId, ids::WorkerId, queue::QueueError, store::ClaimedJob, store::StoreError,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A claimed attempt plus its slot: dropping it frees the slot for fetching.
#[derive(Debug)]
pub(crate) struct Assignment {
    /// The attempt to run.
    pub job: ClaimedJob,
    _slot: Slot,
}

#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings of one queue's fetcher.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    pub queue: &'static str,
    pub capacity: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
}

/// Fetches claimed attempts for one queue until `stop` fires.
pub(crate) struct Fetcher {
    stores: Stores,
    worker_id: WorkerId,
    settings: FetchSettings,
    in_flight: Arc<AtomicUsize>,
    buffer: VecDeque<ClaimedJob>,
    stop: CancellationToken,
}

impl Fetcher {
    pub fn new(
        stores: Stores,
        worker_id: WorkerId,
        settings: FetchSettings,
        stop: CancellationToken,
    ) -> Self {
        Self {
            stores,
            worker_id,
            settings,
            in_flight: Arc::default(),
            buffer: VecDeque::new(),
            stop,
        }
    }

    /// The queue this fetcher takes from.
    pub fn queue(&self) -> &'static str {
        self.settings.queue
    }

    /// The fetcher as a stream that ends when `stop` fires and nothing
    /// claimed is left; it never yields an error, because a backend error
    /// would stop the apalis worker, while a passing outage must not.
    /// `exhausted` fires once it has ended.
    pub fn into_stream(
        self,
        exhausted: CancellationToken,
    ) -> BoxStream<'static, Result<Assignment, Infallible>> {
        futures::stream::unfold(self, move |mut f| {
            let exhausted = exhausted.clone();
            async move {
                let Some(job) = f.next().await else {
                    exhausted.cancel();
                    return None;
                };
                f.in_flight.fetch_add(1, Ordering::AcqRel);
                let slot = Slot(f.in_flight.clone());
                Some((Ok(Assignment { job, _slot: slot }), f))
            }
        })
        .boxed()
    }

    async fn next(&mut self) -> Option<ClaimedJob> {
        let mut delay = Duration::from_millis(100);
        loop {
            if let Some(job) = self.buffer.pop_front() {
                return Some(job);
            }
            if self.stop.is_cancelled() {
                return None;
            }
            match self.fetch().await {
                Ok(0) => self.idle(self.settings.poll_interval).await,
                Ok(_) => delay = Duration::from_millis(100),
                Err(err) => {
                    warn!(queue = self.settings.queue, error = %err, "fetching jobs failed");
                    self.idle(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn idle(&self, limit: Duration) {
        tokio::select! {
            () = self.stores.queue.wait_for_work(self.settings.queue, limit) => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// One round trip each to queue and store; returns how many leases came,
    /// so that leases of unclaimable ids do not make the fetcher sleep.
    async fn fetch(&mut self) -> Result<usize, FetchError> {
        let free = self
            .settings
            .capacity
            .saturating_sub(self.in_flight.load(Ordering::Acquire));
        let queue = self.settings.queue;
        let started = Instant::now();
        let leases = self
            .stores
            .queue
            .pop(queue, free.max(1), self.settings.lease)
            .await?;
        if leases.is_empty() {
            return Ok(0);
        }
        let ids: Vec<JobId> = leases.iter().map(|l| l.id).collect();
        let popped = started.elapsed();
        let claimed = self.stores.jobs.claim_jobs(&ids, &self.worker_id).await?;
        debug!(
            queue,
            free,
            leased = leases.len(),
            claimed = claimed.len(),
            pop_ms = popped.as_secs_f64() * 1e3,
            claim_ms = (started.elapsed() - popped).as_secs_f64() * 1e3,
            "fetched"
        );
        self.buffer.extend(claimed);
        // An unacknowledged lease only returns its id later, and the claim
        // above makes that a no-op: log, do not fail.
        if let Err(err) = self.stores.queue.ack(queue, &leases).await {
            warn!(queue, error = %err, "acknowledging leases failed");
        }
        Ok(leases.len())
    }
}
