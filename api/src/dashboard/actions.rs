//! The dashboard's actions: retrying or cancelling one job of any tenant, or
//! every job a failure's code matches. Each is a POST form carrying its
//! session's CSRF token, and answers with a redirect back to its page.

use mixdown_jobs::{
    codes::ErrorCode,
    db::{CancelOutcome, RetryOutcome},
    ids::JobId,
    model::{BulkFilter, JobState},
};
use poem::{
    Request, Response, handler,
    web::{Form, Path},
};
use serde::Deserialize;

use super::{
    layout,
    session::{self, csrf_refused, see_other},
};
use crate::{error::ApiError, state::AppState};

/// Most jobs one bulk action acts on per tenant.
const MAX_BULK: u32 = 100_000;

/// The fields of a form acting on one job.
#[derive(Debug, Deserialize)]
pub(super) struct OneJob {
    csrf: String,
    back: Option<String>,
}

/// The fields of a form acting on every job of a failure's code.
#[derive(Debug, Deserialize)]
pub(super) struct ByCode {
    csrf: String,
    back: Option<String>,
    code: String,
}

/// Where an action leads back to: a dashboard page the form named, never
/// anywhere else.
fn back_to(back: Option<&str>, notice: &str, n: u64) -> Response {
    let back = back
        .filter(|b| b.starts_with("/dashboard") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or("/dashboard");
    let joint = if back.contains('?') { '&' } else { '?' };
    see_other(&format!("{back}{joint}notice={notice}&n={n}"), None)
}

/// Checks the session and its token, then runs `act` with the state.
async fn acting<F, Fut>(req: &Request, csrf: &str, act: F) -> Response
where
    F: FnOnce(AppState) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let session = match session::require(req).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if !session.accepts(csrf) {
        return layout::problem(&session, &csrf_refused());
    }
    let acted = match session::app_state(req) {
        Ok(state) => act(state.clone()).await,
        Err(err) => Err(err),
    };
    acted.unwrap_or_else(|err| layout::problem(&session, &err))
}

/// What an operator does to one job.
#[derive(Debug, Clone, Copy)]
enum Act {
    Retry,
    Cancel,
}

/// `POST /dashboard/jobs/{id}/retry`.
#[handler]
pub(super) async fn retry_one(req: &Request, id: Path<String>, form: Form<OneJob>) -> Response {
    one_job(req, &id, form.0, Act::Retry).await
}

/// `POST /dashboard/jobs/{id}/cancel`.
#[handler]
pub(super) async fn cancel_one(req: &Request, id: Path<String>, form: Form<OneJob>) -> Response {
    one_job(req, &id, form.0, Act::Cancel).await
}

/// Does `act` to job `id` for its own tenant, as `/v1` would.
async fn one_job(req: &Request, id: &str, form: OneJob, act: Act) -> Response {
    let OneJob { csrf, back } = form;
    acting(req, &csrf, |state| async move {
        let Some(job) = any_job(&state, id).await? else {
            return Ok(back_to(back.as_deref(), "not_found", 0));
        };
        let stores = &state.stores;
        let notice = match act {
            Act::Retry => match stores.retry(job.tenant_id, job.id).await {
                Ok(RetryOutcome::Requeued(..)) => "retried",
                Ok(RetryOutcome::NotRetryable(_)) => "not_retryable",
                Ok(RetryOutcome::NotFound) => "not_found",
                Err(err) => return Err(ApiError::unavailable(err)),
            },
            Act::Cancel => match stores.cancel(job.tenant_id, job.id).await {
                Ok(CancelOutcome::Cancelled(..) | CancelOutcome::Requested(..)) => "cancelled",
                Ok(CancelOutcome::AlreadyFinal(_)) => "not_cancellable",
                Ok(CancelOutcome::NotFound) => "not_found",
                Err(err) => return Err(ApiError::unavailable(err)),
            },
        };
        Ok(back_to(back.as_deref(), notice, 1))
    })
    .await
}

/// The job named by `id` in a path, whichever tenant's it is.
async fn any_job(state: &AppState, id: &str) -> Result<Option<mixdown_jobs::model::Job>, ApiError> {
    let Some(id) = JobId::parse(id) else {
        return Ok(None);
    };
    state
        .stores
        .db
        .any_job(id)
        .await
        .map_err(ApiError::unavailable)
}

/// `POST /dashboard/errors/retry`: every failed job whose last attempt
/// failed with the code runs again, in every tenant.
#[handler]
pub(super) async fn retry_code(req: &Request, form: Form<ByCode>) -> Response {
    let ByCode { csrf, back, code } = form.0;
    acting(req, &csrf, |state| async move {
        let n = by_code(&state, &code, JobState::Failed).await?;
        Ok(back_to(back.as_deref(), "retried", n))
    })
    .await
}

/// `POST /dashboard/errors/cancel`: every job queued for another attempt
/// after failing with the code is cancelled, in every tenant.
#[handler]
pub(super) async fn cancel_code(req: &Request, form: Form<ByCode>) -> Response {
    let ByCode { csrf, back, code } = form.0;
    acting(req, &csrf, |state| async move {
        let n = by_code(&state, &code, JobState::Queued).await?;
        Ok(back_to(back.as_deref(), "cancelled", n))
    })
    .await
}

/// Retries (failed) or cancels (queued) the jobs in `state` of every tenant
/// whose last attempt failed with `code`; how many it acted on.
async fn by_code(app: &AppState, code: &str, state: JobState) -> Result<u64, ApiError> {
    let code = ErrorCode::parse(code).ok_or_else(|| {
        ApiError::invalid_field(ErrorCode::InvalidField, "code", "not an error code")
    })?;
    let filter = BulkFilter {
        states: vec![state],
        kind: None,
        created_before: None,
        created_after: None,
        error_code: Some(code),
        limit: MAX_BULK,
    };
    let stores = &app.stores;
    let tenants = stores.db.tenants_with_error(state, code).await;
    let mut done = 0;
    for tenant in tenants.map_err(ApiError::unavailable)? {
        let acted = match state {
            JobState::Failed => stores.retry_matching(tenant, &filter).await,
            _ => stores.cancel_matching(tenant, &filter).await,
        };
        done += acted.map_err(ApiError::unavailable)?;
    }
    Ok(done)
}
