//! Batch enqueue: up to [`MAX_BATCH`] jobs checked whole, recorded in one
//! statement and pushed in one pipeline.

use std::collections::HashSet;

use mixdown_jobs::{codes::ErrorCode, db::StoreError, ids::TenantId, model::NewJob};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};
use serde::Deserialize;

use crate::{
    auth::Tenant,
    error::ApiError,
    jobs::{Checks, CreateJob, Origin, Submission, submission},
    payload::{Batch, StrictJson},
    state::AppState,
    track_jobs::admit,
};

/// Most jobs a batch may hold.
pub const MAX_BATCH: usize = 1000;

/// Jobs to accept together. A job made from a track is admitted as `POST
/// /v1/jobs` admits it (the tenant's own ready track), before any is written.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBatch {
    /// 1 to 1,000 jobs, each as the body of `POST /v1/jobs` (with its own
    /// `idempotency_key`). `fanout` records an activity per job and is
    /// submitted one by one.
    #[oai(validator(min_items = 1, max_items = 1000))]
    jobs: Vec<CreateJob>,
}

/// One job of an accepted batch.
#[derive(Debug, Clone, Object)]
pub(crate) struct BatchEntryView {
    /// The job's id.
    job_id: String,
    /// Its state now.
    state: String,
    /// True when its idempotency key was used before: the first job.
    duplicate: bool,
}

/// An accepted batch.
#[derive(Debug, Clone, Object)]
pub(crate) struct BatchView {
    /// The jobs, in the order they were sent.
    jobs: Vec<BatchEntryView>,
}

/// The batch endpoint.
pub struct BatchApi;

#[OpenApi(prefix_path = "/v1")]
impl BatchApi {
    /// Submits up to 1,000 jobs at once. The batch is checked whole first:
    /// one bad job answers 422 naming it (`jobs[17].payload.sleep_ms`) and
    /// none of the batch is recorded.
    #[oai(path = "/jobs/batch", method = "post")]
    async fn create_batch(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        body: StrictJson<CreateBatch, Batch>,
    ) -> poem::Result<BatchAccepted> {
        let news = check(tenant.0, body.0, &state)?;
        for (index, new) in news.iter().enumerate() {
            admit(&state, new)
                .await
                .map_err(|e| e.within(&format!("jobs[{index}]")))?;
        }
        let inserted = state.stores.submit_many(&news).await;
        let inserted = inserted.map_err(|err| match err {
            StoreError::KeyReused { index } => ApiError::invalid_field(
                ErrorCode::IdempotencyKeyReused,
                "idempotency_key",
                "was used before for another request",
            )
            .within(&format!("jobs[{index}]")),
            other => ApiError::unavailable(other),
        })?;
        let jobs = inserted
            .iter()
            .map(|i| BatchEntryView {
                job_id: i.job.id.to_string(),
                state: i.job.state.client_name().to_owned(),
                duplicate: !i.created,
            })
            .collect();
        Ok(BatchAccepted::Accepted(Json(BatchView { jobs })))
    }
}

#[derive(poem_openapi::ApiResponse)]
enum BatchAccepted {
    /// Accepted: every job is recorded (or was, under its key).
    #[oai(status = 202)]
    Accepted(Json<BatchView>),
}

/// Every job of `batch`, checked as `POST /v1/jobs` checks one, or the
/// first fault named by the job's index.
fn check(tenant: TenantId, batch: CreateBatch, state: &AppState) -> Result<Vec<NewJob>, ApiError> {
    if batch.jobs.is_empty() || batch.jobs.len() > MAX_BATCH {
        let message = format!("must hold 1 to {MAX_BATCH} jobs, got {}", batch.jobs.len());
        return Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "jobs",
            message,
        ));
    }
    let now = state.stores.clock().now();
    let secrets = state.fleet.secrets_keys();
    let checks = Checks {
        catalog: state.presets(),
        secrets: secrets.as_ref(),
    };
    let mut keys = HashSet::new();
    let mut news = Vec::with_capacity(batch.jobs.len());
    for (index, job) in batch.jobs.into_iter().enumerate() {
        let part = format!("jobs[{index}]");
        let submitted = submission(tenant, None, job, now, &checks, Origin::Request);
        let new = match submitted.map_err(|e| e.within(&part))? {
            Submission::Job(new) => new,
            Submission::Activity(..) => {
                let message = "a fanout records an activity: submit it alone (POST /v1/activities)";
                let err = ApiError::invalid_field(ErrorCode::KindNotSubmittable, "kind", message);
                return Err(err.within(&part));
            }
        };
        if let Some(key) = &new.idempotency_key
            && !keys.insert(key.clone())
        {
            let message = "another job of the batch has the same key";
            let err = ApiError::invalid_field(ErrorCode::InvalidField, "idempotency_key", message);
            return Err(err.within(&part));
        }
        news.push(new);
    }
    Ok(news)
}
