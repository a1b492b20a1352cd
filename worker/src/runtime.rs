//! A worker process: one apalis worker per queue over a shared executor,
//! plus its heartbeat, its recorder, the reconciler and the scheduler;
//! drains on stop.

use std::{convert::Infallible, sync::Arc};

use apalis::layers::WorkerBuilderExt;
use apalis_core::{task::data::Data, worker::builder::WorkerBuilder};
use mixdown_jobs::{
    Stores,
    db::{StoreError, WorkerRecord},
    ids::WorkerId,
    kind::JobKind,
    settings::JobsSettings,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    execute::{CancelRegistry, Executor},
    fetch::{Assignment, FetchSettings, Fetcher},
    handlers::fanout::FanoutRuntime,
    handlers::{
        http::HttpRuntime,
        outbound::{Outbound, OutboundSettings},
        tracks::TrackSettings,
        voice::{VoiceRuntime, VoiceSettings},
    },
    heartbeat::Heartbeat,
    reconciler::{Reconciler, ReconcilerSettings},
    recorder::Recorder,
    scheduler::{Scheduler, SchedulerSettings},
    settings::WorkerSettings,
};

/// What a worker process runs: its queues, its own settings, and the
/// settings the whole fleet shares.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    /// Queues to take work from.
    pub queues: Vec<JobKind>,
    /// The worker's own settings.
    pub settings: WorkerSettings,
    /// The fleet's: liveness, voice rules and keys.
    pub fleet: JobsSettings,
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
    /// The `http` queue was asked for without the key that opens secret headers.
    #[error("queue http needs the key that opens secret headers (MIXDOWN_SECRETS_KEY)")]
    SecretsUnconfigured,
}

/// A worker process's parts, assembled and registered, ready to take work.
pub(crate) struct Parts {
    /// The process as the fleet sees it.
    pub record: WorkerRecord,
    /// Runs attempts and hands their ends to the recorder.
    pub executor: Arc<Executor>,
    /// Writes attempts' ends in batches.
    pub recorder: Recorder,
    /// The cancellation tokens of the attempts running here.
    pub cancels: CancelRegistry,
    /// Makes the queue agree with the database.
    pub reconciler: Reconciler,
    /// Fires due schedules.
    pub scheduler: Scheduler,
    /// What the worker was started with.
    pub plan: WorkerPlan,
}

/// Assembles a worker from `plan` and registers it, before its first claim,
/// so the reconciler never takes its jobs for orphans.
pub(crate) async fn assemble(stores: &Stores, plan: WorkerPlan) -> Result<Parts, WorkerError> {
    let WorkerPlan {
        queues,
        settings,
        fleet,
    } = &plan;
    let voice = match (queues.iter().find(|k| k.is_voice()), fleet.voice_keys()) {
        (Some(kind), None) => return Err(WorkerError::VoiceUnconfigured(kind.queue())),
        (Some(_), Some(keys)) => Some(VoiceRuntime::new(VoiceSettings::new(settings, fleet, keys))),
        (None, _) => None,
    };
    let secrets = fleet.secrets_keys();
    if queues.contains(&JobKind::Http) && secrets.is_none() {
        return Err(WorkerError::SecretsUnconfigured);
    }
    let host = hostname::get().map_or_else(|_| "host".into(), |h| h.to_string_lossy().into_owned());
    let record = WorkerRecord {
        id: WorkerId::generate(&host),
        queues: JobKind::queues_of(queues)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        concurrency: settings.concurrency.get() as u32,
        hostname: host,
        pid: std::process::id(),
        started_at: stores.clock().now(),
        last_seen: stores.clock().now(),
    };
    stores.db.workers.heartbeat(&record).await?;
    let recorder = Recorder::spawn(stores.clone());
    let cancels = CancelRegistry::default();
    let executor = Arc::new(Executor {
        stores: stores.clone(),
        worker_id: record.id.clone(),
        recorder: recorder.clone(),
        cancels: cancels.clone(),
        backoff: settings.backoff(),
        timeouts: settings.job_timeouts.clone(),
        fault_injection: settings.fault_injection,
        voice: voice.map(Arc::new),
        tracks: Arc::new(TrackSettings::new(settings)),
        outbound: Arc::new(Outbound::new(OutboundSettings {
            allow_private: settings.callback_allow_private,
        })),
        http: Arc::new(HttpRuntime::new(settings, secrets)),
        feeds: Arc::new(FanoutRuntime::new(settings)),
    });
    let passes = ReconcilerSettings::new(settings, fleet);
    let reconciler = Reconciler::new(stores.clone(), passes, record.id.to_string());
    let scheduler = Scheduler::new(stores.clone(), SchedulerSettings::new(settings));
    Ok(Parts {
        record,
        executor,
        recorder,
        cancels,
        reconciler,
        scheduler,
        plan,
    })
}

/// Runs a worker until `stop` fires, then drains: no new work is taken,
/// running attempts get `drain_timeout` to end, what they report is recorded,
/// and attempts still running after that are handed back to the queue
/// without counting against their jobs.
pub async fn run_worker(
    stores: Stores,
    plan: WorkerPlan,
    stop: CancellationToken,
) -> Result<(), WorkerError> {
    let Parts {
        record,
        executor,
        recorder,
        cancels,
        reconciler,
        scheduler,
        plan,
    } = assemble(&stores, plan).await?;
    info!(worker_id = %record.id, queues = ?record.queues, "worker started");
    let settings = &plan.settings;
    let background = CancellationToken::new();
    let beat = Heartbeat {
        db: stores.db.clone(),
        metrics: stores.metrics.clone(),
        record: record.clone(),
        cancels: cancels.clone(),
        every: plan.fleet.heartbeat_interval_ms.get(),
    }
    .spawn(background.clone())?;
    tokio::spawn(reconciler.run(background.clone()));
    // A draining worker takes on nothing new: the others fire the schedules.
    tokio::spawn(scheduler.run(stop.clone()));
    let concurrency = settings.concurrency.get();
    let mut running = JoinSet::new();
    for queue in JobKind::queues_of(&plan.queues) {
        let fetch = FetchSettings {
            queue,
            capacity: concurrency,
            poll_interval: settings.poll_interval_ms.get(),
            lease: settings.lease_ms.get(),
        };
        let fetcher = Fetcher::new(stores.clone(), record.id.clone(), fetch, stop.clone());
        running.spawn(run_queue(fetcher, executor.clone(), concurrency));
    }
    drop(executor);
    stop.cancelled().await;
    info!(worker_id = %record.id, "draining");
    let drained = tokio::time::timeout(settings.drain_timeout_ms.get(), async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    running.abort_all();
    recorder.flush().await;
    // What still runs now is given back; a report of it that comes later
    // finds the row moved on and changes nothing.
    let handed_back = hand_back(&stores, &record.id).await;
    // Aborting dropped the attempts' futures, not the work they moved to
    // blocking threads: stop that too, or it runs on beside the next attempt
    // (fired after the hand-back, so nothing of it is recorded as cancelled).
    cancels.cancel(&cancels.running());
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
