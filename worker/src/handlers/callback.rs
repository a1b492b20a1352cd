//! `callback`: reports an ended job, or the track it belongs to, by a signed POST to
//! the URL its client gave.
//!
//! The body names the event (`job.succeeded`, `job.failed`, `job.cancelled`,
//! `track.ready`, `track.failed`) and where to read the rest. It goes out under the
//! rules of every request the fleet sends (see [`super::outbound`]): signed, with this
//! job's id as its delivery id, public addresses only, 408, 429, 5xx and network
//! errors retried with the runtime's backoff and any other answer failing it for good.
//! The job's attempts and errors are the delivery log.

use std::time::Duration;

use mixdown_jobs::{
    callbacks::{CallbackEvent, CallbackPayload, DeliveryResult, JobReport},
    codes::ErrorCode,
    db::Database,
    ids::JobId,
    model::Job,
    payload::JobPayload,
    workflow::track,
};
use reqwest::Method;

use super::{
    JobContext,
    outbound::{Delivery, SendCodes, SendError},
};
use crate::failure::{Failure, Infra, infra_from};

/// How long a receiver has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The codes a callback fails with.
const CODES: SendCodes = SendCodes {
    address_refused: ErrorCode::CallbackAddressRefused,
    unreachable: ErrorCode::CallbackUnreachable,
    refused: ErrorCode::CallbackRefused,
};

/// Why a report was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    /// The reported job is gone, or has no callback URL.
    #[error("job {0} is gone or has no callback URL")]
    SubjectMissing(JobId),
    /// The receiver was not reached, or did not take it.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A store failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(CallbackError);

impl Failure for CallbackError {
    fn code(&self) -> ErrorCode {
        match self {
            CallbackError::SubjectMissing(_) => ErrorCode::CallbackSubjectMissing,
            CallbackError::Send(e) => e.code(CODES),
            CallbackError::Infra(e) => e.code(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            CallbackError::SubjectMissing(_) => false,
            CallbackError::Send(e) => e.retryable(),
            CallbackError::Infra(e) => e.retryable(),
        }
    }
}

pub(crate) async fn run(
    p: &CallbackPayload,
    ctx: &JobContext,
) -> Result<DeliveryResult, CallbackError> {
    let tenant = ctx.job.tenant_id;
    let db = &ctx.stores.db;
    let ended = db.jobs.get(tenant, p.job_id).await?;
    let ended = ended.ok_or(CallbackError::SubjectMissing(p.job_id))?;
    let url = ended
        .callback_url
        .as_deref()
        .ok_or(CallbackError::SubjectMissing(p.job_id))?;
    let body = serde_json::to_vec(&event(db, &ended).await?).expect("events serialise");
    let secrets = db.secrets.callback_secrets(tenant).await?;
    let delivery = Delivery {
        method: Method::POST,
        url,
        headers: vec![("Content-Type", "application/json")],
        body,
        timeout: DELIVERY_TIMEOUT,
        id: ctx.job.id,
        secrets: &secrets,
        signed_at: ctx.stores.clock().now().millis() / 1000,
    };
    let response = ctx.outbound.deliver(delivery).await?;
    Ok(DeliveryResult {
        status: response.status().as_u16(),
        url: response.url().to_string(),
    })
}

/// The report of `ended`: about its track for a track's workflow job (as
/// the workflow says), about itself otherwise.
async fn event(db: &Database, ended: &Job) -> Result<CallbackEvent, CallbackError> {
    if let Ok(JobPayload::Track(p)) = JobPayload::parse(ended.kind, Some(&ended.payload)) {
        let track = db.tracks.get(ended.tenant_id, p.track_id).await?;
        let track = track.ok_or(CallbackError::SubjectMissing(ended.id))?;
        return Ok(CallbackEvent::Track(track::report(&track, ended)));
    }
    Ok(CallbackEvent::Job(JobReport::of(ended)))
}
