//! The jobs API: submit, read, list, cancel and retry jobs.

use std::time::Duration;

use mixdown_jobs::{
    codes::ErrorCode,
    db::{CancelOutcome, RetryOutcome},
    http::HttpSubmission,
    ids::{JobId, ScheduleId, TenantId},
    kind::JobKind,
    model::{JobFilter, JobState, MaxAttempts, NewJob, Priority, RequestDigest},
    payload::{JobPayload, PayloadError},
    seal::SealKeys,
    social::NewActivity,
    time::Timestamp,
    tracks::RenditionsRequest,
};
use mixdown_media::transcode::Preset;
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
    track_jobs::{job_view, renditions, submit},
    views::{AcceptedView, JobPage, JobView},
};

/// The first instant a job may not be scheduled at, 2100-01-01T00:00:00Z:
/// the queue orders due times below 2^42 ms, which lasts until 2109.
const NO_RUN_FROM: Timestamp = Timestamp::from_millis(4_102_444_800_000);
/// Longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest callback URL accepted.
const MAX_CALLBACK_URL: usize = 2048;
/// Longest a client may wait for a job to end in one request.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A job to run.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateJob {
    /// The job kind. `noop`: sleeps, then fails its first N attempts.
    /// `fanout`: records an activity once and spreads it to its actor's
    /// followers' feeds (the same as `POST /v1/activities`). `transcode`:
    /// adds renditions to a ready track. `waveform`: writes a ready track's
    /// waveform as a file. `http`: Mixdown makes an HTTP request on the
    /// caller's behalf, signed and retried like a callback.
    pub(crate) kind: String,
    /// The kind's input. `noop`: `{"sleep_ms": 0..=600000, "fail_attempts": 0..=100}`.
    /// `fanout`: `{"actor_id", "verb", "object_type", "object_id", "occurred_at"?, "data"?}`.
    /// `transcode`: `{"track_id", "presets": [names]}`. `waveform`: `{"track_id",
    /// "format": "dat|json|png|svg", …}` with the options of `mixdown waveform`.
    /// `http`: `{"url", "method"?: "POST", "headers"?: {}, "body"?: "…",
    /// "secret_headers"?: {}, "timeout_ms"?: 100..=60000}`; secret headers
    /// are sealed at rest and shown as `***`.
    #[serde(default)]
    pub(crate) payload: Option<Value>,
    /// -100 to 100, higher runs first; default 0.
    #[serde(default)]
    pub(crate) priority: Option<i64>,
    /// RFC 3339 instant before which the job does not run; default now.
    #[serde(default)]
    pub(crate) run_at: Option<String>,
    /// 1 to 100; default per kind.
    #[serde(default)]
    pub(crate) max_attempts: Option<i64>,
    /// http(s) URL told about the job's end.
    #[serde(default)]
    pub(crate) callback_url: Option<String>,
    /// 1 to 255 printable ASCII characters: repeating a job with the same key
    /// returns the first. In a batch, each job's own; for `POST /v1/jobs`,
    /// the same as the `Idempotency-Key` header (give one, or both alike).
    #[serde(default)]
    pub(crate) idempotency_key: Option<String>,
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
pub(crate) enum Submitted {
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
        let (job, created) = match submission(
            tenant.0,
            key.0,
            body.0,
            now,
            &Checks {
                catalog: state.presets(),
                secrets: secrets.as_ref(),
            },
            Origin::Request,
        )? {
            Submission::Job(new) => submit(&state, new).await?,
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
                return Ok(Json(job_view(&state, job).await?));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Lists jobs, newest first.
    #[allow(clippy::too_many_arguments)]
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
        /// Only jobs this schedule made.
        schedule_id: Query<Option<String>>,
        /// Page size, 1 to 500; default 50.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<JobPage>> {
        let asked = ListedJobs {
            state: state_filter.0,
            kind: kind.0,
            schedule_id: schedule_id.0,
            limit: limit.0,
            cursor: cursor.0,
        };
        let filter = job_filter(asked)?;
        let jobs = state.stores.db.jobs.list(tenant.0, &filter).await;
        let jobs = jobs.map_err(ApiError::unavailable)?;
        let next_cursor = (jobs.len() == filter.limit as usize)
            .then(|| jobs.last().map(|j| j.id.to_string()))
            .flatten();
        let mut views = Vec::with_capacity(jobs.len());
        for job in jobs {
            views.push(job_view(&state, job).await?);
        }
        Ok(Json(JobPage {
            jobs: views,
            next_cursor,
        }))
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
        let outcome = state.stores.cancel(tenant.0, id).await;
        match outcome.map_err(ApiError::unavailable)? {
            CancelOutcome::Cancelled(job, _) | CancelOutcome::Requested(job, _) => {
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
        let outcome = state.stores.retry(tenant.0, id).await;
        match outcome.map_err(ApiError::unavailable)? {
            RetryOutcome::Requeued(job, _) => Ok(Json(job.into())),
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

/// Ids that do not parse cannot exist: the same 404 as any unknown job.
pub(crate) fn parse_job_id(text: &str) -> Result<JobId, ApiError> {
    JobId::parse(text).ok_or_else(|| ApiError::not_found("job"))
}

/// What a `POST /v1/jobs`, or a schedule's template, asks for.
pub(crate) enum Submission {
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
    request_digest: Option<RequestDigest>,
}

impl JobOptions {
    /// Every default, with the client's idempotency key (checked) for
    /// `request`, the body (and path) of the request that carries it.
    pub(crate) fn from_key(key: Option<String>, request: &Value) -> Result<Self, ApiError> {
        let key = key
            .map(|key| check_idempotency_key(key, "Idempotency-Key"))
            .transpose()?;
        Ok(Self {
            request_digest: key.as_ref().map(|_| RequestDigest::of(request)),
            idempotency_key: key,
            ..Self::default()
        })
    }

    /// The digest of a `POST /v1/jobs` of `kind` and `payload` run this way,
    /// defaults resolved, so that leaving out a default asks for the same.
    fn digest(&self, kind: JobKind, payload: Option<&Value>) -> RequestDigest {
        let max_attempts = self
            .max_attempts
            .map_or(i64::from(kind.default_max_attempts()), |m| m.get().into());
        RequestDigest::of(&serde_json::json!({
            "kind": kind.as_str(),
            "payload": payload,
            "priority": self.priority.get(),
            "max_attempts": max_attempts,
            "run_at": self.run_at.map(|t| t.millis()),
            "callback_url": self.callback_url,
        }))
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
            request_digest: self.request_digest.clone(),
            ..NewJob::with_defaults(tenant, payload)
        }
    }
}

/// What checking a job needs besides the request: the presets a track may
/// ask for, and the keys that seal an `http` job's secret headers.
pub(crate) struct Checks<'a> {
    /// The preset catalogue.
    pub catalog: &'a [Preset],
    /// The sealing keys, when configured.
    pub secrets: Option<&'a SealKeys>,
}

/// Who describes a job: a client's request for one now, or a schedule's
/// template for one at each tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `POST /v1/jobs`.
    Request,
    /// A schedule's `job`.
    Schedule,
}

/// Checks a job a client describes, as a request or a schedule's template:
/// one function for both, so that a schedule's jobs are held to what a
/// submitted job is held to. Fields are named as in `CreateJob`;
/// `header_key` is the `Idempotency-Key` header of a `POST /v1/jobs`.
pub(crate) fn submission(
    tenant: TenantId,
    header_key: Option<String>,
    body: CreateJob,
    now: Timestamp,
    checks: &Checks<'_>,
    origin: Origin,
) -> Result<Submission, ApiError> {
    let key = match (header_key, body.idempotency_key) {
        (Some(header), Some(field)) if header != field => {
            let message = "differs from the Idempotency-Key header; give one, or both alike";
            let err = ApiError::invalid_field(ErrorCode::InvalidField, "idempotency_key", message);
            return Err(err);
        }
        (_, Some(field)) => Some((field, "idempotency_key")),
        (header, None) => header.map(|h| (h, "Idempotency-Key")),
    };
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
    if origin == Origin::Schedule && kind == JobKind::Fanout {
        return Err(not_schedulable(kind));
    }
    let mut options = JobOptions {
        priority: bounded(
            body.priority,
            "priority",
            Priority::new,
            Priority::MIN,
            Priority::MAX,
        )?
        .unwrap_or_default(),
        max_attempts: bounded(body.max_attempts, "max_attempts", MaxAttempts::new, 1, 100)?,
        run_at: body.run_at.as_deref().map(parse_run_at).transpose()?,
        callback_url: body.callback_url.map(check_callback_url).transpose()?,
        idempotency_key: key
            .map(|(key, field)| check_idempotency_key(key, field))
            .transpose()?,
        request_digest: None,
    };
    if options.idempotency_key.is_some() {
        options.request_digest = Some(options.digest(kind, body.payload.as_ref()));
    }
    if kind == JobKind::Fanout {
        let empty = Value::Object(Default::default());
        let value = body.payload.as_ref().unwrap_or(&empty);
        let activity = NewActivity::parse(tenant, value, now).map_err(|e| {
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
    let payload = match kind {
        // Clients name presets of the catalogue; the job stores them resolved.
        JobKind::Transcode => {
            let request = RenditionsRequest::parse(body.payload.as_ref())?;
            renditions(checks.catalog, request, "payload.presets")?
        }
        _ => job_payload(tenant, kind, body.payload.as_ref(), checks.secrets)?,
    };
    Ok(Submission::Job(options.job(tenant, payload)))
}

/// The refusal of a kind in a schedule: a `fanout` records its activity
/// once, and a schedule would repeat it.
pub(crate) fn not_schedulable(kind: JobKind) -> ApiError {
    let message = format!(
        "{kind} jobs cannot be scheduled: a fan-out records its activity once, and a schedule \
         would repeat it; publish each activity with POST /v1/activities"
    );
    ApiError::invalid_field(ErrorCode::KindNotSchedulable, "kind", message)
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

fn parse_run_at(text: &str) -> Result<Timestamp, ApiError> {
    let t = Timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::invalid_field(
            ErrorCode::InvalidField,
            "run_at",
            "must be an RFC 3339 instant",
        )
    })?;
    if t >= NO_RUN_FROM {
        return Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "run_at",
            "must be before the year 2100",
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

fn check_idempotency_key(key: String, field: &str) -> Result<String, ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(key)
    } else {
        Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            field,
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
        ))
    }
}

/// The query of a `GET /v1/jobs`, as sent.
struct ListedJobs {
    state: Option<String>,
    kind: Option<String>,
    schedule_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The `state` and `kind` a filter names, each checked.
pub(crate) fn state_and_kind(
    state: Option<String>,
    kind: Option<String>,
) -> Result<(Option<JobState>, Option<JobKind>), ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::invalid_field(ErrorCode::InvalidField, field, message)
    };
    let state = state
        .map(|s| JobState::parse(&s).ok_or_else(|| invalid("state", "unknown state")))
        .transpose()?;
    let kind = kind
        .map(|k| JobKind::parse(&k).ok_or_else(|| invalid("kind", "unknown kind")))
        .transpose()?;
    Ok((state, kind))
}

fn job_filter(asked: ListedJobs) -> Result<JobFilter, ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::invalid_field(ErrorCode::InvalidField, field, message)
    };
    let (state, kind) = state_and_kind(asked.state, asked.kind)?;
    let schedule = asked
        .schedule_id
        .map(|id| ScheduleId::parse(&id).ok_or_else(|| invalid("schedule_id", "not an id")))
        .transpose()?;
    let limit = paging::limit(asked.limit, 50)?;
    let before = asked
        .cursor
        .map(|c| paging::place(&c, JobId::parse))
        .transpose()?;
    Ok(JobFilter {
        state,
        kind,
        before,
        schedule,
        limit,
    })
}
