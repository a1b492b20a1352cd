//! The workers endpoint: live worker processes, their queues and what they run.

use std::collections::HashMap;

use mixdown_jobs::db::RunningJob;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use crate::{auth::Tenant, error::ApiError, state::AppState};

/// An attempt a worker runs.
#[derive(Debug, Clone, Object)]
pub struct RunningView {
    /// The job's id.
    pub job_id: String,
    /// Its kind.
    pub kind: String,
    /// When the attempt started.
    pub started_at: String,
}

/// A live worker process.
#[derive(Debug, Clone, Object)]
pub struct WorkerView {
    /// Unique per process start.
    pub worker_id: String,
    /// Host it runs on.
    pub hostname: String,
    /// Its process id on that host.
    pub pid: u32,
    /// Queues it takes work from.
    pub queues: Vec<String>,
    /// Attempts it runs at once, per queue.
    pub concurrency: u32,
    /// When it started.
    pub started_at: String,
    /// Its last heartbeat.
    pub last_seen: String,
    /// Attempts it runs now, of every tenant.
    pub in_flight: u32,
    /// The attempts among those that belong to the caller's tenant.
    pub jobs: Vec<RunningView>,
}

/// The answer of `GET /v1/workers`.
#[derive(Debug, Clone, Object)]
pub struct WorkerList {
    /// Workers that beat within the liveness window, oldest first.
    pub workers: Vec<WorkerView>,
}

/// The workers endpoint.
pub struct WorkersApi;

#[OpenApi(prefix_path = "/v1")]
impl WorkersApi {
    /// Lists live workers with their queues and in-flight attempts.
    #[oai(path = "/workers", method = "get")]
    async fn list(&self, state: Data<&AppState>, tenant: Tenant) -> poem::Result<Json<WorkerList>> {
        let db = &state.stores.db;
        let live = db.workers.live(state.fleet.dead_after_ms.get()).await;
        let live = live.map_err(ApiError::unavailable)?;
        let running = db.jobs.running().await.map_err(ApiError::unavailable)?;
        let mut by_worker: HashMap<&str, Vec<&RunningJob>> = HashMap::new();
        for job in &running {
            by_worker
                .entry(job.worker_id.as_str())
                .or_default()
                .push(job);
        }
        let workers = live
            .into_iter()
            .map(|w| {
                let runs = by_worker.remove(w.id.as_str()).unwrap_or_default();
                WorkerView {
                    in_flight: runs.len() as u32,
                    jobs: runs
                        .iter()
                        .filter(|j| j.tenant_id == tenant.0)
                        .map(|j| RunningView {
                            job_id: j.id.to_string(),
                            kind: j.kind.as_str().to_owned(),
                            started_at: j.started_at.to_rfc3339(),
                        })
                        .collect(),
                    worker_id: w.id.to_string(),
                    hostname: w.hostname,
                    pid: w.pid,
                    queues: w.queues,
                    concurrency: w.concurrency,
                    started_at: w.started_at.to_rfc3339(),
                    last_seen: w.last_seen.to_rfc3339(),
                }
            })
            .collect();
        Ok(Json(WorkerList { workers }))
    }
}
