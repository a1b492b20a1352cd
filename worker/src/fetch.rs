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
    Stores, db::ClaimedJob, db::StoreError, events::Event, ids::JobId, ids::WorkerId,
    queue::QueueError,
};
use tokio::sync::Notify;
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
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

/// The attempts a fetcher has handed out and not yet seen end.
#[derive(Debug, Default)]
struct Slots {
    taken: AtomicUsize,
    freed: Notify,
}

/// Longest a fetch waits for more slots to free up before taking what is free.
const BATCH_WAIT: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
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
    slots: Arc<Slots>,
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
            slots: Arc::default(),
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
                f.slots.taken.fetch_add(1, Ordering::AcqRel);
                let slot = Slot(f.slots.clone());
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
            self.gather_free_slots().await;
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

    fn free_slots(&self) -> usize {
        let taken = self.slots.taken.load(Ordering::Acquire);
        self.settings.capacity.saturating_sub(taken)
    }

    /// Waits, at most [`BATCH_WAIT`], until a quarter of the slots are free. A fetch
    /// costs a round trip to the queue and one to the store whatever its size, so
    /// refilling each slot the moment it frees caps a busy worker at one job per
    /// round trip; gathering them makes each fetch a batch.
    async fn gather_free_slots(&self) {
        let wanted = (self.settings.capacity / 4).max(1);
        let deadline = tokio::time::sleep(BATCH_WAIT);
        tokio::pin!(deadline);
        while self.free_slots() < wanted {
            tokio::select! {
                () = self.slots.freed.notified() => {}
                () = &mut deadline => return,
                () = self.stop.cancelled() => return,
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
        let free = self.free_slots().max(1);
        let settings = &self.settings;
        let batch = claim_due(
            &self.stores,
            &self.worker_id,
            settings.queue,
            free,
            settings.lease,
        );
        let Claimed { jobs, leased } = batch.await?;
        self.buffer.extend(jobs);
        Ok(leased)
    }
}

/// Jobs claimed for one attempt each, and how many leases it took.
pub(crate) struct Claimed {
    /// The attempts to run.
    pub jobs: Vec<ClaimedJob>,
    /// Ids the queue handed out (some may not have been claimable).
    pub leased: usize,
}

/// Leases up to `max` due ids of `queue`, claims them for `worker` in the
/// database and acknowledges the leases: one round trip to each store.
pub(crate) async fn claim_due(
    stores: &Stores,
    worker: &WorkerId,
    queue: &'static str,
    max: usize,
    lease: Duration,
) -> Result<Claimed, FetchError> {
    let started = Instant::now();
    let leases = stores.queue.pop(queue, max, lease).await?;
    if leases.is_empty() {
        return Ok(Claimed {
            jobs: Vec::new(),
            leased: 0,
        });
    }
    let ids: Vec<JobId> = leases.iter().map(|l| l.id).collect();
    let popped = started.elapsed();
    let claim = stores.db.jobs.claim_batch(&ids, worker).await?;
    if !claim.failed.is_empty() {
        warn!(queue, jobs = ?claim.failed, "claimed jobs whose stored rows do not parse ended failed");
        stores.push_recorded(&claim.push).await;
    }
    let jobs = claim.jobs;
    let running: Vec<_> = jobs
        .iter()
        .map(|j| (j.tenant_id, Event::claimed(j)))
        .collect();
    stores.events.post(&running);
    debug!(
        queue,
        max,
        leased = leases.len(),
        claimed = jobs.len(),
        pop_ms = popped.as_secs_f64() * 1e3,
        claim_ms = (started.elapsed() - popped).as_secs_f64() * 1e3,
        "fetched"
    );
    // An unacknowledged lease only returns its id later, and the claim
    // above makes that a no-op: log, do not fail.
    if let Err(err) = stores.queue.ack(queue, &leases).await {
        warn!(queue, error = %err, "acknowledging leases failed");
    }
    Ok(Claimed {
        jobs,
        leased: leases.len(),
    })
}
