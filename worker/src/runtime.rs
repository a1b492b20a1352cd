//! A worker process: one apalis worker per queue over a shared executor,
//! plus its heartbeat, its recorder and (optionally) the reconciler; drains
//! on stop.

use std::{convert::Infallible, sync::Arc, time::Duration};

use apalis::layers::WorkerBuilderExt;
use apalis_core::{task::data::Data, worker::builder::WorkerBuilder};
use mixdown_jobs::{
    Stores,
    backoff::Backoff,
    db::{StoreError, WorkerRecord},
    ids::WorkerId,
    kind::{JobKind, Timeouts},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    execute::{CancelRegistry, Executor},
    fetch::{Assignment, FetchSettings, Fetcher},
    handlers::{
        callback::{CallbackClient, CallbackSettings},
        tracks::TrackSettings,
        voice::{VoiceRuntime, VoiceSettings},
    },
    heartbeat::Heartbeat,
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
    /// How long one attempt of each kind may run.
    pub timeouts: Timeouts,
    /// How long a stop waits for running attempts before handing them back.
    pub drain_timeout: Duration,
    /// Run the reconciler in this process too (`None`: leave it to others).
    pub reconciler: Option<ReconcilerSettings>,
    /// Honour the faults a `noop` job may ask for (crash, hog a thread):
    /// for proving recovery, never for production.
    pub fault_injection: bool,
    /// The voice engine's settings; required when a voice queue is run.
    pub voice: Option<VoiceSettings>,
    /// Limits and scratch space of the track handlers.
    pub tracks: TrackSettings,
    /// Where callbacks may go.
    pub callbacks: CallbackSettings,
}

/// Why a worker could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The job store refused the first heartbeat.
    #[error("worker could not register: {0}")]
    Register(#[from] StoreError),
    /// The heartbeat thread could not be started.
    #[error("heartbeat thread did not start: {0}")]
    Heartbeat(#[from] std::io::Error),
    /// A voice queue was asked for without voice settings (above all, the key
    /// that seals voiceprints).
    #[error("queue {0} needs the voice settings, and the voiceprint key above all")]
    VoiceUnconfigured(&'static str),
}

/// Runs a worker until `stop` fires, then drains: no new work is taken,
/// running attempts get `drain_timeout` to end, what they report is recorded,
/// and attempts still running after that are handed back to the queue
/// without counting against their jobs.
pub async fn run_worker(
    stores: Stores,
    settings: WorkerSettings,
    stop: CancellationToken,
) -> Result<(), WorkerError> {
    if let Some(kind) = settings.queues.iter().find(|k| k.is_voice())
        && settings.voice.is_none()
    {
        return Err(WorkerError::VoiceUnconfigured(kind.queue()));
    }
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
        started_at: stores.clock().now(),
        last_seen: stores.clock().now(),
    };
    // Registered before the first claim, so the reconciler never takes our
    // jobs for orphans.
    stores.db.workers.heartbeat(&record).await?;
    info!(worker_id = %record.id, queues = ?record.queues, "worker started");
    let recorder = Recorder::spawn(stores.clone());
    let cancels = CancelRegistry::default();
    let background = CancellationToken::new();
    let beat = Heartbeat {
        db: stores.db.clone(),
        metrics: stores.metrics.clone(),
        record: record.clone(),
        cancels: cancels.clone(),
        every: settings.heartbeat_interval,
    }
    .spawn(background.clone())?;
    if let Some(r) = settings.reconciler {
        let reconciler = Reconciler::new(stores.clone(), r, record.id.to_string());
        tokio::spawn(reconciler.run(background.clone()));
    }
    let executor = Arc::new(Executor {
        stores: stores.clone(),
        worker_id: record.id.clone(),
        recorder: recorder.clone(),
        cancels,
        backoff: settings.backoff,
        timeouts: settings.timeouts.clone(),
        fault_injection: settings.fault_injection,
        voice: settings.voice.map(|v| Arc::new(VoiceRuntime::new(v))),
        tracks: Arc::new(settings.tracks),
        callbacks: Arc::new(CallbackClient::new(settings.callbacks)),
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
    let drained = tokio::time::timeout(settings.drain_timeout, async {
        while queues.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    queues.abort_all();
    recorder.flush().await;
    // What still runs now is given back; a report of it that comes later
    // finds the row moved on and changes nothing.
    let handed_back = hand_back(&stores, &record.id).await;
    if !drained {
        warn!(
            jobs = handed_back,
            "drain deadline passed; attempts still running were handed back"
        );
    }
    background.cancel();
    let _ = tokio::task::spawn_blocking(move || beat.join()).await;
    stores.db.workers.remove(&record.id).await?;
    info!(worker_id = %record.id, "worker stopped");
    Ok(())
}

/// Gives the attempts this worker still runs back to the queue; returns how
/// many. On failure they are left to the reconciler, which counts them as
/// attempts of a lost worker.
async fn hand_back(stores: &Stores, worker: &WorkerId) -> usize {
    match stores.db.jobs.release(worker).await {
        Ok(entries) => {
            stores.push_recorded(&entries).await;
            entries.len()
        }
        Err(err) => {
            warn!(error = %err, "handing back running attempts failed; the reconciler will");
            0
        }
    }
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
