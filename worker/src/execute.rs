//! Running one claimed attempt: span, cancellation, timeout, panic boundary,
//! metrics, and the decision to retry.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use futures::FutureExt;
use mixdown_jobs::{
    Stores,
    backoff::Backoff,
    db::{ClaimedJob, Finish},
    events::Event,
    ids::{JobId, WorkerId},
    kind::Timeouts,
    model::Outcome,
    workflow::Next,
};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::{
    failure::{AttemptFailure, HandlerError},
    handlers::fanout::FanoutRuntime,
    handlers::{
        self, JobContext, http::HttpRuntime, outbound::Outbound, tracks::TrackSettings,
        voice::VoiceRuntime,
    },
    recorder::Recorder,
};

/// Cancellation tokens of the attempts running in this process.
#[derive(Debug, Clone, Default)]
pub(crate) struct CancelRegistry(Arc<Mutex<HashMap<JobId, CancellationToken>>>);

impl CancelRegistry {
    fn map(&self) -> MutexGuard<'_, HashMap<JobId, CancellationToken>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token of attempt `id`, fired already when the job was asked to
    /// stop before it was claimed.
    fn register(&self, id: JobId, cancelled: bool) -> CancellationToken {
        let token = self.map().entry(id).or_default().clone();
        if cancelled {
            token.cancel();
        }
        token
    }

    fn remove(&self, id: JobId) {
        self.map().remove(&id);
    }

    /// The attempts running here.
    pub fn running(&self) -> Vec<JobId> {
        self.map().keys().copied().collect()
    }

    /// Fires the tokens of `ids` that run here.
    pub fn cancel(&self, ids: &[JobId]) {
        let map = self.map();
        ids.iter()
            .filter_map(|id| map.get(id))
            .for_each(|t| t.cancel());
    }
}

/// Runs attempts and hands their ends to the recorder.
#[derive(Debug)]
pub(crate) struct Executor {
    pub stores: Stores,
    pub worker_id: WorkerId,
    pub recorder: Recorder,
    pub cancels: CancelRegistry,
    pub backoff: Backoff,
    pub timeouts: Timeouts,
    pub fault_injection: bool,
    pub voice: Option<Arc<VoiceRuntime>>,
    pub tracks: Arc<TrackSettings>,
    pub outbound: Arc<Outbound>,
    pub http: Arc<HttpRuntime>,
    pub feeds: Arc<FanoutRuntime>,
}

impl Executor {
    /// Runs one attempt to its end and queues its record.
    pub async fn execute(&self, job: ClaimedJob) {
        let span = info_span!("job", job_id = %job.id, kind = %job.kind(), attempt = job.attempt);
        self.execute_in_span(job).instrument(span).await;
    }

    async fn execute_in_span(&self, job: ClaimedJob) {
        let kind = job.kind().as_str();
        let metrics = &self.stores.metrics;
        let wait = self.stores.clock().now().since(job.run_at);
        metrics
            .job_wait
            .with_label_values(&[kind])
            .observe(wait.as_secs_f64());
        let in_flight = metrics
            .jobs_in_flight
            .with_label_values(&[job.kind().queue()]);
        in_flight.inc();
        let started = Instant::now();
        let ctx = JobContext {
            cancel: self.cancels.register(job.id, job.cancel_requested),
            job,
            worker_id: self.worker_id.clone(),
            fault_injection: self.fault_injection,
            stores: self.stores.clone(),
            voice: self.voice.clone(),
            tracks: self.tracks.clone(),
            outbound: self.outbound.clone(),
            http: self.http.clone(),
            feeds: self.feeds.clone(),
        };
        let outcome = run_guarded(&ctx, self.timeouts.of(ctx.job.kind())).await;
        self.cancels.remove(ctx.job.id);
        metrics
            .job_duration
            .with_label_values(&[kind])
            .observe(started.elapsed().as_secs_f64());
        let finish = self.finish(&ctx.job, outcome);
        metrics
            .jobs_finished
            .with_label_values(&[kind, outcome_label(&finish)])
            .inc();
        let event = Event::attempt_ended(&ctx.job, &finish).map(|e| (ctx.job.tenant_id, e));
        self.recorder.record(finish, event).await;
        in_flight.dec();
    }

    fn finish(&self, job: &ClaimedJob, outcome: Outcome) -> Finish {
        let retry_at = match &outcome {
            Outcome::Failed {
                retryable: true, ..
            } if job.attempt < job.max_attempts => Some(
                self.stores
                    .clock()
                    .now()
                    .plus(self.backoff.delay(job.attempt)),
            ),
            _ => None,
        };
        if let Outcome::Failed { error, .. } = &outcome {
            warn!(code = %error.code, message = %error.message, will_retry = retry_at.is_some(), "attempt failed");
        }
        Finish {
            id: job.id,
            attempt: job.attempt,
            outcome,
            retry_at,
        }
    }
}

fn outcome_label(finish: &Finish) -> &'static str {
    match (&finish.outcome, finish.retry_at) {
        (Outcome::Succeeded(_), _) => "succeeded",
        (Outcome::Cancelled, _) => "cancelled",
        (Outcome::Failed { .. }, Some(_)) => "retried",
        (Outcome::Failed { .. }, None) => "failed",
        (Outcome::Awaiting(_), _) => "waiting",
        (Outcome::Deferred(_), _) => "deferred",
    }
}

/// Runs the handler under the kind's timeout and a panic boundary, so neither
/// a hang nor a bug in one job takes the worker down.
async fn run_guarded(ctx: &JobContext, timeout: Duration) -> Outcome {
    let run = tokio::time::timeout(timeout, handlers::run(ctx));
    let outcome = AssertUnwindSafe(run).catch_unwind().await;
    // Work the handler moved off the executor (blocking threads) holds the
    // token: stop it too, whatever ended the attempt.
    ctx.cancel.cancel();
    match outcome {
        Ok(Ok(Ok(Next::Done(result)))) => Outcome::Succeeded(result),
        Ok(Ok(Ok(Next::Await(children)))) => Outcome::Awaiting(children),
        Ok(Ok(Ok(Next::Defer(until)))) => Outcome::Deferred(until),
        Ok(Ok(Err(error))) => error.into(),
        Ok(Err(_elapsed)) => HandlerError::from(AttemptFailure::Timeout(timeout)).into(),
        Err(_panic) => HandlerError::from(AttemptFailure::Panicked).into(),
    }
}

impl From<HandlerError> for Outcome {
    fn from(error: HandlerError) -> Self {
        match error {
            HandlerError::Cancelled => Outcome::Cancelled,
            HandlerError::Failed { error, retryable } => Outcome::Failed { error, retryable },
        }
    }
}
