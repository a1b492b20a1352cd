//! The jobs API: submit, read, list, cancel and retry jobs.

use std::time::Duration;

use mixdown_jobs::{
    codes::ErrorCode,
    db::{CancelOutcome, RetryOutcome},
    events::Event,
    http::HttpSubmission,
    ids::{JobId, TenantId},
    kind::JobKind,
    model::{Job, JobFilter, JobState, MaxAttempts, NewJob, Priority},
    payload::{JobPayload, PayloadError},
    seal::SealKeys,
    social::NewActivity,
    time::Timestamp,
    tracks::TrackState,
};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::Tenant,
    error::ApiError,
    paging,
    payload::StrictJson,
    social::publish,
    state::AppState,
    views::{AcceptedView, JobPage, JobView},
};

/// Furthest in the future a job may be scheduled.
const MAX_SCHEDULE_AHEAD: Duration = Duration::from_secs(366 * 24 * 3600);
/// Longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest callback URL accepted.
const MAX_CALLBACK_URL: usize = 2048;
/// Longest a client may wait for a job to end in one request.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A job to run.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// The job kind. `noop`: sleeps, then fails its first N attempts.
    /// `fanout`: records an activity once and spreads it to its actor's
    /// followers' feeds (the same as `POST /v1/activities`). `http`: Mixdown
    /// makes an HTTP request on the caller's behalf, signed and retried like
    /// a callback.
    kind: String,
    /// The kind's input. `noop`: `{"sleep_ms": 0..=600000, "fail_attempts": 0..=100}`.
    /// `fanout`: `{"actor_id", "verb", "object_type", "object_id", "occurred_at"?, "data"?}`.
    /// `http`: `{"url", "method"?: "POST", "headers"?: {}, "body"?: "…",
    /// "secret_headers"?: {}, "timeout_ms"?: 100..=60000}`; secret headers
    /// are sealed at rest and shown as `***`.
    #[serde(default)]
    payload: Option<Value>,
    /// -100 to 100, higher runs first; default 0.
    #[serde(default)]
    priority: Option<i64>,
    /// RFC 3339 instant before which the job does not run; default now.
    #[serde(default)]
    run_at: Option<String>,
    /// 1 to 100; default per kind.
    #[serde(default)]
    max_attempts: Option<i64>,
    /// http(s) URL told about the job's end.
    #[serde(default)]
    callback_url: Option<String>,
}

impl std::fmt::Debug for CreateJob {
    /// Without the payload: an `http` job's holds secrets in clear.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateJob")
            .field("kind", &self.kind)
            .field("priority", &self.priority)
            .field("run_at", &self.run_at)
            .field("max_attempts", &self.max_attempts)
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

#[derive(ApiResponse)]
enum Submitted {
    /// Accepted: the job is queued.
    #[oai(status = 202)]
    Accepted(Json<AcceptedView>),
    /// The same idempotency key was used before: the first job.
    #[oai(status = 200)]
    Existing(Json<AcceptedView>),
}

/// The jobs endpoints.
pub struct JobsApi;

#[OpenApi(prefix_path = "/v1")]
impl JobsApi {
    /// Submits a job.
    #[oai(path = "/jobs", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Repeating a request with the same key returns the first job.
        #[oai(name = "Idempotency-Key")]
        key: Header<Option<String>>,
        body: StrictJson<CreateJob>,
    ) -> poem::Result<Submitted> {
        let (now, secrets) = (state.stores.clock().now(), state.fleet.secrets_keys());
        let (job, created) = match submission(tenant, key.0, body.0, now, secrets.as_ref())? {
            Submission::Job(new) => {
                let inserted = state.stores.submit(&new).await;
                let inserted = inserted.map_err(ApiError::unavailable)?;
                (inserted.job, inserted.created)
            }
            Submission::Activity(activity, options) => {
                let published = publish(&state, &activity, &options).await?;
                (published.job, published.created)
            }
        };
        let view = Json(AcceptedView::from(&job));
        Ok(if created {
            Submitted::Accepted(view)
        } else {
            Submitted::Existing(view)
        })
    }

    /// Reads a job. With `wait`, answers as soon as the job has ended or
    /// the wait runs out, whichever comes first.
    #[oai(path = "/jobs/:job_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        job_id: Path<String>,
        /// Seconds to wait for the job to end (0 to 60); default 0.
        wait: Query<Option<f64>>,
    ) -> poem::Result<Json<JobView>> {
        let id = parse_job_id(&job_id)?;
        let wait = match wait.0 {
            None => Duration::ZERO,
            Some(s) if (0.0..=MAX_WAIT.as_secs_f64()).contains(&s) => Duration::from_secs_f64(s),
            Some(_) => {
                let message = "must be between 0 and 60 seconds";
                return Err(
                    ApiError::invalid_field(ErrorCode::InvalidField, "wait", message).into(),
                );
            }
        };
        let deadline = tokio::time::Instant::now() + wait;
        // Quick looks first (short jobs end in milliseconds), then every
        // 100 ms: a waiting client costs one indexed read per look.
        let mut pause = Duration::from_millis(10);
        loop {
            let job = state.stores.db.jobs.get(tenant.0, id).await;
            let job = job.map_err(ApiError::unavailable)?;
            let job = job.ok_or_else(|| ApiError::not_found("job"))?;
            let now = tokio::time::Instant::now();
            if job.state.is_final() || now >= deadline || state.draining.is_cancelled() {
                return Ok(Json(job.into()));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Lists jobs, newest first.
    #[oai(path = "/jobs", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Only jobs in this state.
        #[oai(name = "state")]
        state_filter: Query<Option<String>>,
        /// Only jobs of this kind.
        kind: Query<Option<String>>,
        /// Page size, 1 to 500; default 50.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<JobPage>> {
        let filter = job_filter(state_filter.0, kind.0, limit.0, cursor.0)?;
        let jobs = state.stores.db.jobs.list(tenant.0, &filter).await;
        let jobs = jobs.map_err(ApiError::unavailable)?;
        let next_cursor = (jobs.len() == filter.limit as usize)
            .then(|| jobs.last().map(|j| paging::cursor(&j.id.to_string())))
            .flatten();
        let jobs = jobs.into_iter().map(JobView::from).collect();
        Ok(Json(JobPage { jobs, next_cursor }))
    }

    /// Cancels a job: a queued one never runs, a running one stops at its next checkpoint.
    #[oai(path = "/jobs/:job_id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        job_id: Path<String>,
    ) -> poem::Result<Json<JobView>> {
        let id = parse_job_id(&job_id)?;
        let outcome = state.stores.db.jobs.cancel(tenant.0, id).await;
        match outcome.map_err(ApiError::unavailable)? {
            CancelOutcome::Cancelled(job, woken) => {
                let finished = &state.stores.metrics.jobs_finished;
                finished
                    .with_label_values(&[job.kind.as_str(), "cancelled"])
                    .inc();
                let events = [Event::job(&job)];
                state.stores.events.publish(tenant.0, &events).await;
                state.stores.push_recorded(&woken).await;
                Ok(Json(job.into()))
            }
            CancelOutcome::Requested(job, woken) => {
                state.stores.push_recorded(&woken).await;
                Ok(Json(job.into()))
            }
            CancelOutcome::AlreadyFinal(job) => Err(ApiError::new(
                ErrorCode::NotCancellable,
                format!("the job already ended: {}", job.state),
            )
            .into()),
            CancelOutcome::NotFound => Err(ApiError::not_found("job").into()),
        }
    }

    /// Runs a failed or cancelled job again.
    #[oai(path = "/jobs/:job_id/retry", method = "post")]
    async fn retry(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        job_id: Path<String>,
    ) -> poem::Result<Json<JobView>> {
        let id = parse_job_id(&job_id)?;
        let outcome = state.stores.db.retry(tenant.0, id).await;
        match outcome.map_err(ApiError::unavailable)? {
            RetryOutcome::Requeued(job, entries) => {
                state.stores.events.publish(tenant.0, &retried(&job)).await;
                state.stores.push_recorded(&entries).await;
                Ok(Json(job.into()))
            }
            RetryOutcome::NotRetryable(job) => Err(ApiError::new(
                ErrorCode::NotRetryable,
                format!(
                    "only failed or cancelled jobs can be retried; this one is {}",
                    job.state
                ),
            )
            .into()),
            RetryOutcome::NotFound => Err(ApiError::not_found("job").into()),
        }
    }
}

/// The events of a job run again: its state, and its track's when it is a
/// step of a track's workflow, which the retry reopened.
fn retried(job: &Job) -> Vec<Event> {
    let track = match JobPayload::parse(job.kind, Some(&job.payload)) {
        Ok(JobPayload::Ingest(p) | JobPayload::Transcode(p) | JobPayload::Track(p)) => {
            Some(Event::TrackState {
                track_id: p.track_id,
                state: TrackState::Processing,
            })
        }
        _ => None,
    };
    std::iter::once(Event::job(job)).chain(track).collect()
}

/// Ids that do not parse cannot exist: the same 404 as any unknown job.
fn parse_job_id(text: &str) -> Result<JobId, ApiError> {
    JobId::parse(text).ok_or_else(|| ApiError::not_found("job"))
}

/// What a `POST /v1/jobs` asks for.
enum Submission {
    /// A job whose payload is its input.
    Job(NewJob),
    /// A `fanout`: its payload is an activity, recorded first.
    Activity(NewActivity, JobOptions),
}

/// How a client's job runs, whatever its payload: the fields of `POST
/// /v1/jobs` besides `kind` and `payload`, and the idempotency key.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobOptions {
    priority: Priority,
    max_attempts: Option<MaxAttempts>,
    run_at: Option<Timestamp>,
    callback_url: Option<String>,
    idempotency_key: Option<String>,
}

impl JobOptions {
    /// Every default, with the client's idempotency key (checked).
    pub(crate) fn from_key(key: Option<String>) -> Result<Self, ApiError> {
        Ok(Self {
            idempotency_key: key.map(check_idempotency_key).transpose()?,
            ..Self::default()
        })
    }

    /// The job of `payload` for `tenant` run this way.
    pub(crate) fn job(&self, tenant: TenantId, payload: JobPayload) -> NewJob {
        let kind = payload.kind();
        NewJob {
            priority: self.priority,
            max_attempts: self.max_attempts.unwrap_or_else(|| {
                MaxAttempts::new(kind.default_max_attempts().into()).expect("default in range")
            }),
            run_at: self.run_at,
            callback_url: self.callback_url.clone(),
            idempotency_key: self.idempotency_key.clone(),
            ..NewJob::with_defaults(tenant, payload)
        }
    }
}

fn submission(
    tenant: Tenant,
    key: Option<String>,
    body: CreateJob,
    now: Timestamp,
    secrets: Option<&SealKeys>,
) -> Result<Submission, ApiError> {
    let kind = JobKind::parse(&body.kind).ok_or_else(|| {
        let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        let message = format!(
            "unknown kind {:?}; known kinds: {}",
            body.kind,
            known.join(", ")
        );
        ApiError::invalid_field(ErrorCode::UnknownKind, "kind", message)
    })?;
    if !kind.submittable() {
        let message =
            format!("{kind} jobs are made by their own endpoints (uploads, voice) or by the fleet");
        return Err(ApiError::invalid_field(
            ErrorCode::KindNotSubmittable,
            "kind",
            message,
        ));
    }
    let options = JobOptions {
        priority: bounded(
            body.priority,
            "priority",
            Priority::new,
            Priority::MIN,
            Priority::MAX,
        )?
        .unwrap_or_default(),
        max_attempts: bounded(body.max_attempts, "max_attempts", MaxAttempts::new, 1, 100)?,
        run_at: body
            .run_at
            .as_deref()
            .map(|t| parse_run_at(t, now))
            .transpose()?,
        callback_url: body.callback_url.map(check_callback_url).transpose()?,
        idempotency_key: key.map(check_idempotency_key).transpose()?,
    };
    if kind == JobKind::Fanout {
        let empty = Value::Object(Default::default());
        let value = body.payload.as_ref().unwrap_or(&empty);
        let activity = NewActivity::parse(tenant.0, value, now).map_err(|e| {
            let field = if e.field == "body" {
                "payload".into()
            } else {
                format!("payload.{}", e.field)
            };
            ApiError::from(PayloadError {
                field,
                message: e.message,
            })
        })?;
        return Ok(Submission::Activity(activity, options));
    }
    let payload = job_payload(tenant.0, kind, body.payload.as_ref(), secrets)?;
    Ok(Submission::Job(options.job(tenant.0, payload)))
}

/// The input of a submitted job of `kind`: an `http` job's secret headers
/// sealed for `tenant` under `secrets`, any other kind's as it comes.
pub(crate) fn job_payload(
    tenant: TenantId,
    kind: JobKind,
    value: Option<&Value>,
    secrets: Option<&SealKeys>,
) -> Result<JobPayload, ApiError> {
    if kind != JobKind::Http {
        return Ok(JobPayload::parse(kind, value)?);
    }
    let empty = Value::Object(Default::default());
    let submitted = HttpSubmission::parse(value.unwrap_or(&empty))?;
    Ok(JobPayload::Http(submitted.seal(secrets, tenant)?))
}

fn bounded<T, B: std::fmt::Display>(
    value: Option<i64>,
    field: &str,
    parse: fn(i64) -> Option<T>,
    min: B,
    max: B,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            parse(v).ok_or_else(|| {
                let message = format!("must be between {min} and {max}, got {v}");
                ApiError::invalid_field(ErrorCode::InvalidField, field, message)
            })
        })
        .transpose()
}

fn parse_run_at(text: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    let t = Timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::invalid_field(
            ErrorCode::InvalidField,
            "run_at",
            "must be an RFC 3339 instant",
        )
    })?;
    if t > now.plus(MAX_SCHEDULE_AHEAD) {
        return Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "run_at",
            "must be within a year from now",
        ));
    }
    Ok(t)
}

pub(crate) fn check_callback_url(url: String) -> Result<String, ApiError> {
    let ok = url.len() <= MAX_CALLBACK_URL
        && url
            .parse::<poem::http::Uri>()
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if ok {
        Ok(url)
    } else {
        Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "callback_url",
            format!("must be an http(s) URL of at most {MAX_CALLBACK_URL} bytes"),
        ))
    }
}

fn check_idempotency_key(key: String) -> Result<String, ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(key)
    } else {
        Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
        ))
    }
}

fn job_filter(
    state: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<JobFilter, ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::invalid_field(ErrorCode::InvalidField, field, message)
    };
    let state = state
        .map(|s| JobState::parse(&s).ok_or_else(|| invalid("state", "unknown state")))
        .transpose()?;
    let kind = kind
        .map(|k| JobKind::parse(&k).ok_or_else(|| invalid("kind", "unknown kind")))
        .transpose()?;
    let limit = paging::limit(limit, 50)?;
    let before = cursor
        .map(|c| paging::place(&c, JobId::parse))
        .transpose()?;
    Ok(JobFilter {
        state,
        kind,
        before,
        limit,
    })
}
