//! What a client sends about a schedule, and how it is checked: each
//! error names its field, those of the job template under `job`.

use mixdown_jobs::{
    codes::ErrorCode,
    ids::TenantId,
    kind::JobKind,
    schedules::{
        CatchUp, JobTemplate, NewSchedule, Recurrence, RecurrenceError, Schedule, ScheduleChange,
        ScheduleName,
    },
    time::Timestamp,
};
use poem_openapi::Object;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    error::ApiError,
    jobs::{Checks, CreateJob, Origin, Submission, not_schedulable, submission},
};

/// A schedule to create.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// What the tenant calls it: 1 to 200 characters.
    name: String,
    /// Cron expression: 5 fields (minute, hour, day of month, month, day of
    /// week) or 6 with seconds first, e.g. `0 */5 * * * *`.
    cron: String,
    /// IANA time zone the expression is read in, e.g. `Europe/Berlin`; default `UTC`.
    #[serde(default)]
    timezone: Option<String>,
    /// The job each tick makes.
    job: ScheduledJob,
    /// What ticks missed while the fleet was down or the schedule paused
    /// make: `skip` (nothing; the default) or `once` (one job, for the latest).
    #[serde(default)]
    catch_up: Option<String>,
    /// Whether it starts paused; default false.
    #[serde(default)]
    paused: Option<bool>,
}

/// The job a schedule makes at each tick: what `POST /v1/jobs` takes,
/// checked the same way, without `run_at` (the tick is its time). A
/// `fanout` cannot be scheduled.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct ScheduledJob {
    /// The job kind.
    kind: String,
    /// The kind's input.
    #[serde(default)]
    payload: Option<Value>,
    /// -100 to 100, higher runs first; default 0.
    #[serde(default)]
    priority: Option<i64>,
    /// 1 to 100; default per kind.
    #[serde(default)]
    max_attempts: Option<i64>,
    /// http(s) URL told about each job's end.
    #[serde(default)]
    callback_url: Option<String>,
}

/// A change to a schedule: the fields given replace the schedule's (`job`
/// whole); `paused` pauses or resumes it.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct ChangeSchedule {
    /// A new name.
    #[serde(default)]
    name: Option<String>,
    /// A new cron expression; the schedule starts again at its first tick from now.
    #[serde(default)]
    cron: Option<String>,
    /// A new time zone; the schedule starts again at its first tick from now.
    #[serde(default)]
    timezone: Option<String>,
    /// A new job template.
    #[serde(default)]
    job: Option<ScheduledJob>,
    /// `skip` or `once`.
    #[serde(default)]
    catch_up: Option<String>,
    /// `true` pauses; `false` resumes: at the next tick from now (`skip`),
    /// or with one job for the ticks missed while paused (`once`).
    #[serde(default)]
    paused: Option<bool>,
}

impl CreateSchedule {
    /// The schedule asked for, by `tenant` at `now`, checked.
    pub(super) fn checked(
        self,
        tenant: TenantId,
        now: Timestamp,
        checks: &Checks<'_>,
    ) -> Result<NewSchedule, ApiError> {
        Ok(NewSchedule {
            tenant_id: tenant,
            name: name(&self.name)?,
            rule: rule(&self.cron, self.timezone.as_deref().unwrap_or("UTC"))?,
            template: template(tenant, self.job, now, checks)?,
            catch_up: self
                .catch_up
                .as_deref()
                .map(catch_up)
                .transpose()?
                .unwrap_or_default(),
            paused: self.paused.unwrap_or(false),
        })
    }
}

/// A change checked as far as it can be alone: a new rule is read against
/// the schedule it changes, whose expression or zone it may keep.
#[derive(Debug)]
pub(super) struct CheckedChange {
    name: Option<ScheduleName>,
    cron: Option<String>,
    timezone: Option<String>,
    template: Option<JobTemplate>,
    catch_up: Option<CatchUp>,
    paused: Option<bool>,
}

impl ChangeSchedule {
    /// The change asked for, by `tenant` at `now`, checked.
    pub(super) fn checked(
        self,
        tenant: TenantId,
        now: Timestamp,
        checks: &Checks<'_>,
    ) -> Result<CheckedChange, ApiError> {
        Ok(CheckedChange {
            name: self.name.as_deref().map(name).transpose()?,
            cron: self.cron,
            timezone: self.timezone,
            template: self
                .job
                .map(|j| template(tenant, j, now, checks))
                .transpose()?,
            catch_up: self.catch_up.as_deref().map(catch_up).transpose()?,
            paused: self.paused,
        })
    }
}

impl CheckedChange {
    /// The change of `current`: a new expression or zone with the other kept.
    pub(super) fn of(&self, current: &Schedule) -> Result<ScheduleChange, ApiError> {
        let rule = match (&self.cron, &self.timezone) {
            (None, None) => None,
            (cron, zone) => Some(rule(
                cron.as_deref().unwrap_or(current.rule.expression()),
                zone.as_deref().unwrap_or(current.rule.zone()),
            )?),
        };
        Ok(ScheduleChange {
            name: self.name.clone(),
            rule,
            template: self.template.clone(),
            catch_up: self.catch_up,
            paused: self.paused,
        })
    }
}

fn name(text: &str) -> Result<ScheduleName, ApiError> {
    ScheduleName::parse(text)
        .map_err(|e| ApiError::invalid_field(ErrorCode::InvalidField, "name", e))
}

fn rule(cron: &str, zone: &str) -> Result<Recurrence, ApiError> {
    Recurrence::parse(cron, zone).map_err(rule_error)
}

/// A refused rule, naming `cron` or `timezone`.
pub(super) fn rule_error(err: RecurrenceError) -> ApiError {
    match err {
        RecurrenceError::Cron(why) => {
            let message = format!("not a cron expression that fires: {why}");
            ApiError::invalid_field(ErrorCode::InvalidCron, "cron", message)
        }
        zone @ RecurrenceError::Zone(_) => {
            ApiError::invalid_field(ErrorCode::UnknownTimezone, "timezone", zone.to_string())
        }
    }
}

fn catch_up(text: &str) -> Result<CatchUp, ApiError> {
    CatchUp::parse(text).ok_or_else(|| {
        ApiError::invalid_field(ErrorCode::InvalidField, "catch_up", "must be skip or once")
    })
}

/// The template of `job`, checked by the very function that checks a
/// submitted job; its errors name fields under `job`.
fn template(
    tenant: TenantId,
    job: ScheduledJob,
    now: Timestamp,
    checks: &Checks<'_>,
) -> Result<JobTemplate, ApiError> {
    let body = CreateJob {
        kind: job.kind,
        payload: job.payload,
        priority: job.priority,
        run_at: None,
        max_attempts: job.max_attempts,
        callback_url: job.callback_url,
        // Each tick's job is keyed by its schedule and tick.
        idempotency_key: None,
    };
    match submission(tenant, None, body, now, checks, Origin::Schedule) {
        Ok(Submission::Job(new)) => Ok(JobTemplate::from(new)),
        Ok(Submission::Activity(..)) => Err(not_schedulable(JobKind::Fanout).within("job")),
        Err(err) => Err(err.within("job")),
    }
}
