//! The job source of one queue, as an apalis backend: leases ids from the
//! queue, claims them in the job store, acknowledges the leases, and yields
//! the claimed attempts.
//!
//! Fetching runs in a task of its own, beside the attempts: a fetch costs a
//! round trip to the queue and one to the store, so a worker that fetched
//! only once its slots were free would idle for that time after every batch
//! of short jobs. It claims ahead of its free slots as many jobs as ended
//! while its last fetch was in flight (at most its concurrency): short jobs
//! find the next batch waiting, while long ones, of which none ended
//! meanwhile, are not held back from other workers.

use std::{
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
use tokio::sync::{Notify, mpsc};
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
        self.0.held.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.fetch_add(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

/// The attempts a fetcher has claimed and not yet seen end, waiting or
/// running.
#[derive(Debug, Default)]
struct Slots {
    held: AtomicUsize,
    /// Attempts ended since the start, to tell how many ended during a fetch.
    ended: AtomicUsize,
    freed: Notify,
}

impl Slots {
    fn take(self: &Arc<Self>, job: ClaimedJob) -> Assignment {
        self.held.fetch_add(1, Ordering::AcqRel);
        Assignment {
            job,
            _slot: Slot(self.clone()),
        }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    fn ended(&self) -> usize {
        self.ended.load(Ordering::Acquire)
    }
}

/// Longest a fetch waits for more room to free up before taking what is free.
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
    /// How many jobs to claim beyond the free slots.
    ahead: usize,
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
            ahead: 0,
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
        // Never full: at most twice the capacity is claimed at once.
        let (claimed, rx) = mpsc::channel(2 * self.settings.capacity + 1);
        tokio::spawn(self.run(claimed));
        futures::stream::unfold(rx, move |mut rx| {
            let exhausted = exhausted.clone();
            async move {
                let Some(assignment) = rx.recv().await else {
                    exhausted.cancel();
                    return None;
                };
                Some((Ok(assignment), rx))
            }
        })
        .boxed()
    }

    /// Fetches until `stop` fires, sending what it claims to `claimed`.
    async fn run(mut self, claimed: mpsc::Sender<Assignment>) {
        let mut delay = Duration::from_millis(100);
        while !self.stop.is_cancelled() {
            if !self.gather_room().await {
                continue;
            }
            match self.fetch(&claimed).await {
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

    /// Jobs that may be claimed now.
    fn room(&self) -> usize {
        (self.settings.capacity + self.ahead).saturating_sub(self.slots.held())
    }

    /// Waits, at most [`BATCH_WAIT`], until a quarter of the capacity is
    /// room; false if there is none at all then. A fetch costs the same
    /// round trips whatever its size, so refilling each slot the moment it
    /// frees would cap a busy worker at one job per round trip; gathering
    /// them makes each fetch a batch.
    async fn gather_room(&self) -> bool {
        let wanted = (self.settings.capacity / 4).max(1);
        // Every slot held: sleep until one frees (notify_one keeps a permit, so
        // none is missed) rather than waking each BATCH_WAIT to find none.
        while self.room() == 0 {
            tokio::select! {
                () = self.slots.freed.notified() => {}
                () = self.stop.cancelled() => return false,
            }
        }
        let deadline = tokio::time::sleep(BATCH_WAIT);
        tokio::pin!(deadline);
        while self.room() < wanted {
            tokio::select! {
                () = self.slots.freed.notified() => {}
                () = &mut deadline => break,
                () = self.stop.cancelled() => return false,
            }
        }
        self.room() > 0
    }

    async fn idle(&self, limit: Duration) {
        tokio::select! {
            () = self.stores.queue.wait_for_work(self.settings.queue, limit) => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// One round trip each to queue and store; returns how many leases came,
    /// so that leases of unclaimable ids do not make the fetcher sleep.
    /// Claims ahead next time as many as ended during this one.
    async fn fetch(&mut self, claimed: &mpsc::Sender<Assignment>) -> Result<usize, FetchError> {
        let settings = &self.settings;
        let ended_before = self.slots.ended();
        let batch = claim_due(
            &self.stores,
            &self.worker_id,
            settings.queue,
            self.room(),
            settings.lease,
        );
        let Claimed { jobs, leased } = batch.await?;
        let ended = self.slots.ended() - ended_before;
        self.ahead = ended.max(self.ahead / 2).min(settings.capacity);
        for job in jobs {
            // The receiver is gone only when the worker was torn down; what
            // was claimed then is handed back with the rest of its attempts.
            let _ = claimed.send(self.slots.take(job)).await;
        }
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
