//! A worker process: one apalis worker per queue over a shared executor,
//! plus its heartbeat, its recorder and (optionally) the reconciler; drains
//! on stop.

use std::{convert::Infallible, sync::Arc, time::Duration};

use apalis::layers::WorkerBuilderExt;
use apalis_core::{task::data::Data, worker::builder::WorkerBuilder};
use mixdown_jobs::{
    Stores,
    backoff::Backoff,
    ids::WorkerId,
    kind::JobKind,
    store::{StoreError, WorkerRecord},
    time::Timestamp,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    execute::{CancelRegistry, Executor},
    fetch::{Assignment, FetchSettings, Fetcher},
    heartbeat,
    reconciler::{Reconciler, ReconcilerSettings},
    recorder::Recorder,
};

/// How a worker process runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Queues to take work from.
    pub queues: Vec<JobKind>,
    /// Attempts run at once, per queue.
    pub concurrency: usize,
    /// Longest wait between looks at an idle queue.
    pub poll_interval: Duration,
    /// Time between heartbeats (and cancellation checks).
    pub heartbeat_interval: Duration,
    /// How long a fetched id stays leased before the queue hands it out again.
    pub lease: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// How long a stop waits for running attempts.
    pub drain_timeout: Duration,
    /// Run the reconciler in this process too (`None`: leave it to others).
    pub reconciler: Option<ReconcilerSettings>,
}

/// Why a worker could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The job store refused the first heartbeat.
    #[error("worker could not register: {0}")]
    Register(#[from] StoreError),
}

/// Runs a worker until `stop` fires, then drains: no new work is taken,
/// running attempts get `drain_timeout` to end, and everything they report is
/// recorded before this returns.
pub async fn run_worker(
    stores: Stores,
    settings: WorkerSettings,
    stop: CancellationToken,
) -> Result<(), WorkerError> {
    let host = hostname::get().map_or_else(|_| "host".into(), |h| h.to_string_lossy().into_owned());
    let record = WorkerRecord {
        id: WorkerId::generate(&host),
        queues: settings
            .queues
            .iter()
            .map(|k| k.queue().to_owned())
            .collect(),
        concurrency: settings.concurrency as u32,
        hostname: host,
        pid: std::process::id(),
        started_at: Timestamp::now(),
        last_seen: Timestamp::now(),
    };
    // Registered before the first claim, so the reconciler never takes our
    // jobs for orphans.
    stores.jobs.heartbeat(&record).await?;
    info!(worker_id = %record.id, queues = ?record.queues, "worker started");
    let (recorder, recorder_task) = Recorder::spawn(stores.clone());
    let cancels = CancelRegistry::default();
    let background = CancellationToken::new();
    let beat = tokio::spawn(heartbeat::run(
        stores.clone(),
        record.clone(),
        cancels.clone(),
        settings.heartbeat_interval,
        background.clone(),
    ));
    if let Some(r) = settings.reconciler {
        let reconciler = Reconciler::new(stores.clone(), r, record.id.to_string());
        tokio::spawn(reconciler.run(background.clone()));
    }
    let executor = Arc::new(Executor {
        stores: stores.clone(),
        worker_id: record.id.clone(),
        recorder,
        cancels,
        backoff: settings.backoff,
    });
    let mut queues = JoinSet::new();
    for kind in &settings.queues {
        let fetch = FetchSettings {
            queue: kind.queue(),
            capacity: settings.concurrency,
            poll_interval: settings.poll_interval,
            lease: settings.lease,
        };
        let fetcher = Fetcher::new(stores.clone(), record.id.clone(), fetch, stop.clone());
        queues.spawn(run_queue(fetcher, executor.clone(), settings.concurrency));
    }
    drop(executor);
    stop.cancelled().await;
    info!(worker_id = %record.id, "draining");
    let drained = tokio::time::timeout(settings.drain_timeout, queues.join_all()).await;
    if drained.is_err() {
        warn!("drain deadline passed; attempts still running are left to the reconciler");
    }
    // Every executor is gone once the queues ended, so the recorder finishes
    // what it holds and stops.
    if tokio::time::timeout(Duration::from_secs(30), recorder_task)
        .await
        .is_err()
    {
        warn!("recorder did not flush in time; the reconciler will take those jobs back");
    }
    background.cancel();
    let _ = beat.await;
    if drained.is_ok() {
        stores.jobs.remove_worker(&record.id).await?;
    }
    info!(worker_id = %record.id, "worker stopped");
    Ok(())
}

async fn run_queue(fetcher: Fetcher, executor: Arc<Executor>, concurrency: usize) {
    let name = format!("{}-{}", executor.worker_id, fetcher.queue());
    let exhausted = CancellationToken::new();
    let worker = WorkerBuilder::new(name.as_str())
        .backend(fetcher.into_stream(exhausted.clone()))
        .concurrency(concurrency)
        .data(executor)
        .build(handle);
    // The fetcher ends only when stopped with nothing claimed left over; then
    // apalis waits for the running attempts and returns.
    let ended = async move {
        exhausted.cancelled().await;
        Ok::<(), apalis_core::error::WorkerError>(())
    };
    if let Err(err) = worker.run_until(ended).await {
        warn!(worker = %name, error = %err, "queue worker stopped");
    }
}

async fn handle(assignment: Assignment, executor: Data<Arc<Executor>>) -> Result<(), Infallible> {
    executor.execute(assignment.job.clone()).await;
    drop(assignment);
    Ok(())
}
