//! Dead-letter replay: retrying or cancelling every job of the tenant that a
//! filter matches, and reporting a job's end to its callback URL again.

use mixdown_jobs::{
    codes::ErrorCode,
    db::Redelivery,
    model::{BulkFilter, JobState},
    time::Timestamp,
};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;

use crate::{
    auth::Tenant,
    error::ApiError,
    jobs::{parse_job_id, state_and_kind},
    payload::StrictJson,
    state::AppState,
    views::AcceptedView,
};

/// Most jobs one bulk request acts on (and its default limit).
const MAX_BULK: u32 = 100_000;

/// Which of the tenant's jobs to act on; every field narrows the match.
#[derive(Debug, Default, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobMatch {
    /// Only jobs in this state. Retry acts on `failed` (the default) and
    /// `cancelled` jobs, cancel on `queued` and `running` ones (both by
    /// default): another state matches nothing.
    #[serde(default)]
    state: Option<String>,
    /// Only jobs of this kind.
    #[serde(default)]
    kind: Option<String>,
    /// RFC 3339: only jobs accepted before this instant.
    #[serde(default)]
    created_before: Option<String>,
    /// RFC 3339: only jobs accepted after this instant.
    #[serde(default)]
    created_after: Option<String>,
    /// 1 to 100,000 jobs at most; default 100,000.
    #[serde(default)]
    #[oai(validator(minimum(value = "1"), maximum(value = "100000")))]
    limit: Option<i64>,
}

/// How many jobs a bulk request acted on.
#[derive(Debug, Clone, Object)]
pub(crate) struct MatchedView {
    /// Jobs retried (or cancelled, or asked to stop).
    matched: u64,
}

/// The dead-letter endpoints.
pub struct DeadLettersApi;

#[OpenApi(prefix_path = "/v1")]
impl DeadLettersApi {
    /// Runs again every failed (or cancelled) job of the tenant that the
    /// filter matches, oldest first, each with a fresh budget of attempts.
    #[oai(path = "/jobs/retry", method = "post")]
    async fn retry_matching(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        body: StrictJson<JobMatch>,
    ) -> poem::Result<Json<MatchedView>> {
        let filter = bulk_filter(body.0, Action::Retry)?;
        let matched = state.stores.retry_matching(tenant.0, &filter).await;
        let matched = matched.map_err(ApiError::unavailable)?;
        Ok(Json(MatchedView { matched }))
    }

    /// Cancels every queued (or running) job of the tenant that the filter
    /// matches: queued ones never run, running ones stop at their next
    /// checkpoint.
    #[oai(path = "/jobs/cancel", method = "post")]
    async fn cancel_matching(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        body: StrictJson<JobMatch>,
    ) -> poem::Result<Json<MatchedView>> {
        let filter = bulk_filter(body.0, Action::Cancel)?;
        let matched = state.stores.cancel_matching(tenant.0, &filter).await;
        let matched = matched.map_err(ApiError::unavailable)?;
        Ok(Json(MatchedView { matched }))
    }

    /// Reports an ended job's end to its callback URL again, whatever the
    /// earlier deliveries did, with a new delivery id: the answer is the
    /// `callback` job that delivers it.
    #[oai(path = "/jobs/:job_id/redeliver", method = "post")]
    async fn redeliver(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        job_id: Path<String>,
    ) -> poem::Result<Redelivered> {
        let id = parse_job_id(&job_id)?;
        let outcome = state.stores.redeliver(tenant.0, id).await;
        match outcome.map_err(ApiError::unavailable)? {
            Redelivery::Recorded(report) => Ok(Redelivered::Accepted(Json((&report).into()))),
            Redelivery::NotReportable(job) => {
                let message = if job.callback_url.is_none() {
                    "the job has no callback URL".to_owned()
                } else {
                    format!("the job has not ended: it is {}", job.state.client_name())
                };
                Err(ApiError::new(ErrorCode::NotRedeliverable, message).into())
            }
            Redelivery::NotFound => Err(ApiError::not_found("job").into()),
        }
    }
}

#[derive(ApiResponse)]
enum Redelivered {
    /// The `callback` job that reports the end again.
    #[oai(status = 202)]
    Accepted(Json<AcceptedView>),
}

/// What a bulk request does, which fixes the states it acts on.
#[derive(Debug, Clone, Copy)]
enum Action {
    Retry,
    Cancel,
}

impl Action {
    /// The states of the jobs it acts on, of those `named` (a client's
    /// state name) when one is: a state it cannot act on matches nothing.
    fn states(self, named: Option<JobState>) -> Vec<JobState> {
        let (actionable, default): (&[JobState], &[JobState]) = match self {
            Action::Retry => (
                &[JobState::Failed, JobState::Cancelled],
                &[JobState::Failed],
            ),
            Action::Cancel => {
                let all = &[JobState::Queued, JobState::Running, JobState::Waiting];
                (all, all)
            }
        };
        let named: Vec<JobState> = match named {
            None => return default.to_vec(),
            // A parent waiting for its children shows as running.
            Some(JobState::Running) => vec![JobState::Running, JobState::Waiting],
            Some(state) => vec![state],
        };
        named
            .into_iter()
            .filter(|s| actionable.contains(s))
            .collect()
    }
}

fn bulk_filter(body: JobMatch, action: Action) -> Result<BulkFilter, ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::invalid_field(ErrorCode::InvalidField, field, message)
    };
    let (state, kind) = state_and_kind(body.state, body.kind)?;
    let instant = |text: Option<String>, field: &str| {
        text.map(|t| {
            Timestamp::parse_rfc3339(&t)
                .ok_or_else(|| invalid(field, "must be an RFC 3339 instant"))
        })
        .transpose()
    };
    let limit = match body.limit {
        None => MAX_BULK,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_BULK).contains(n))
            .ok_or_else(|| invalid("limit", "must be between 1 and 100000"))?,
    };
    Ok(BulkFilter {
        states: action.states(state),
        kind,
        created_before: instant(body.created_before, "created_before")?,
        created_after: instant(body.created_after, "created_after")?,
        error_code: None,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_takes_its_own_states() {
        let retry = |state: &str| {
            let body = JobMatch {
                state: Some(state.into()),
                ..JobMatch::default()
            };
            bulk_filter(body, Action::Retry)
        };
        assert_eq!(retry("cancelled").unwrap().states, [JobState::Cancelled]);
        assert!(retry("queued").unwrap().states.is_empty());
        let cancel = bulk_filter(JobMatch::default(), Action::Cancel).unwrap();
        assert_eq!(cancel.states.len(), 3);
        assert_eq!(cancel.limit, MAX_BULK);
    }

    #[test]
    fn bad_fields_are_named() {
        for (body, field) in [
            (
                JobMatch {
                    limit: Some(0),
                    ..JobMatch::default()
                },
                "limit",
            ),
            (
                JobMatch {
                    created_before: Some("yesterday".into()),
                    ..JobMatch::default()
                },
                "created_before",
            ),
            (
                JobMatch {
                    kind: Some("nope".into()),
                    ..JobMatch::default()
                },
                "kind",
            ),
        ] {
            let err = bulk_filter(body, Action::Retry).unwrap_err();
            assert_eq!(err.field(), Some(field));
        }
    }
}
