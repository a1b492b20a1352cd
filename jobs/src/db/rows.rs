//! Turning stored rows back into typed values.

use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use super::StoreError;
use crate::{
    codes::ErrorCode,
    ids::{JobId, ScheduleId, TenantId, UserId},
    kind::JobKind,
    model::{Job, JobError, JobState, Priority},
    schedules::Tick,
    time::Timestamp,
};

/// The columns every job query selects, in the order `job_from_row` reads.
pub(super) const JOB_COLUMNS: &str = "id, tenant_id, kind, payload, state, priority, attempts, \
     max_attempts, progress, run_at, created_at, started_at, finished_at, result, error_code, \
     error_message, parent_id, callback_url, callback_job_id, cancel_requested, schedule_id, \
     schedule_tick";

pub(super) fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: parse_id(row, "id", JobId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        kind: parse_kind(row.try_get("kind")?)?,
        payload: parse_json(row.try_get("payload")?)?,
        state: parse_state(row.try_get("state")?)?,
        priority: parse_priority(row)?,
        attempts: non_negative(row.try_get("attempts")?),
        max_attempts: non_negative(row.try_get("max_attempts")?),
        progress: row.try_get("progress")?,
        run_at: Timestamp::from_millis(row.try_get("run_at")?),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        started_at: row
            .try_get::<Option<i64>, _>("started_at")?
            .map(Timestamp::from_millis),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at")?
            .map(Timestamp::from_millis),
        result: row
            .try_get::<Option<String>, _>("result")?
            .map(parse_json)
            .transpose()?,
        error: parse_error(row)?,
        parent_id: parse_opt_id(row, "parent_id")?,
        callback_url: row.try_get("callback_url")?,
        callback_job_id: parse_opt_id(row, "callback_job_id")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        schedule: parse_tick(row)?,
    })
}

/// The schedule tick in the `schedule_id` and `schedule_tick` columns, if any.
fn parse_tick(row: &AnyRow) -> Result<Option<Tick>, StoreError> {
    let Some(id) = row.try_get::<Option<String>, _>("schedule_id")? else {
        return Ok(None);
    };
    let schedule_id = ScheduleId::parse(&id)
        .ok_or_else(|| StoreError::Corrupt(format!("schedule_id {id:?} is not an id")))?;
    let at = row.try_get::<Option<i64>, _>("schedule_tick")?;
    let at = at.ok_or_else(|| StoreError::Corrupt("a schedule's job without its tick".into()))?;
    Ok(Some(Tick {
        schedule_id,
        at: Timestamp::from_millis(at),
    }))
}

pub(super) fn parse_id<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?} is not an id")))
}

/// The user id in `column`.
pub(super) fn parse_user(row: &AnyRow, column: &str) -> Result<UserId, StoreError> {
    parse_id(row, column, |text| UserId::parse(text).ok())
}

/// The job id in `column`, if it holds one.
pub(super) fn parse_opt_id(row: &AnyRow, column: &str) -> Result<Option<JobId>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        JobId::parse(&t).ok_or_else(|| StoreError::Corrupt(format!("{column} {t:?} is not an id")))
    })
    .transpose()
}

/// The `priority` column.
pub(super) fn parse_priority(row: &AnyRow) -> Result<Priority, StoreError> {
    Priority::new(row.try_get::<i64, _>("priority")?)
        .ok_or_else(|| StoreError::Corrupt("priority out of range".into()))
}

/// The error stored in the `error_code` and `error_message` columns, if any.
pub(super) fn parse_error(row: &AnyRow) -> Result<Option<JobError>, StoreError> {
    let Some(code) = row.try_get::<Option<String>, _>("error_code")? else {
        return Ok(None);
    };
    let code = ErrorCode::parse(&code)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown error code {code:?}")))?;
    let message: Option<String> = row.try_get("error_message")?;
    Ok(Some(JobError::new(code, message.unwrap_or_default())))
}

pub(super) fn parse_kind(text: String) -> Result<JobKind, StoreError> {
    JobKind::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("unknown kind {text:?}")))
}

fn parse_state(text: String) -> Result<JobState, StoreError> {
    JobState::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("unknown state {text:?}")))
}

pub(super) fn parse_json(text: String) -> Result<Value, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("bad JSON: {e}")))
}

pub(super) fn non_negative(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}
