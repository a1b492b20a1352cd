//! The JSON shapes the API answers with.

use mixdown_jobs::{
    model::{Job, JobError},
    time::Timestamp,
};
use poem_openapi::Object;
use serde_json::Value;

/// Why a job's last attempt failed.
#[derive(Debug, Clone, Object)]
pub struct ErrorView {
    /// Stable snake_case code.
    pub code: String,
    /// Human sentence.
    pub message: String,
}

/// A job as clients read it.
#[derive(Debug, Clone, Object)]
pub struct JobView {
    /// The job's id.
    pub job_id: String,
    /// What it does.
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub state: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Progress of the current attempt, 0 to 1.
    pub progress: f64,
    /// Scheduling priority; higher runs first.
    pub priority: i32,
    /// Its input.
    pub payload: Value,
    /// When it was accepted.
    pub created_at: String,
    /// When its current or last attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Not run before this instant.
    pub run_at: String,
    /// What it produced.
    pub result: Option<Value>,
    /// Why its last attempt failed.
    pub error: Option<ErrorView>,
    /// The job that spawned it.
    pub parent_id: Option<String>,
    /// Where its end is reported.
    pub callback_url: Option<String>,
    /// Whether a running attempt was asked to stop.
    pub cancel_requested: bool,
}

fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            kind: job.kind.as_str().to_owned(),
            state: job.state.as_str().to_owned(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            progress: job.progress,
            priority: job.priority.get(),
            payload: job.payload,
            created_at: time(job.created_at),
            started_at: job.started_at.map(time),
            finished_at: job.finished_at.map(time),
            run_at: time(job.run_at),
            result: job.result,
            error: job
                .error
                .map(|JobError { code, message }| ErrorView { code, message }),
            parent_id: job.parent_id.map(|id| id.to_string()),
            callback_url: job.callback_url,
            cancel_requested: job.cancel_requested,
        }
    }
}

/// The answer to an accepted job.
#[derive(Debug, Clone, Object)]
pub struct AcceptedView {
    /// The job's id.
    pub job_id: String,
    /// Its state now.
    pub state: String,
    /// Where to read it.
    pub status_url: String,
}

impl From<&Job> for AcceptedView {
    fn from(job: &Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            state: job.state.as_str().to_owned(),
            status_url: format!("/v1/jobs/{}", job.id),
        }
    }
}

/// A page of jobs.
#[derive(Debug, Clone, Object)]
pub struct JobPage {
    /// Newest first.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}
