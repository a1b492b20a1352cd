//! The schedules API: a job template made into a job at each tick of a cron
//! rule read in a time zone (the rules are `mixdown_jobs::schedules`; the
//! workers' scheduler passes fire the ticks).

use mixdown_jobs::{
    codes::ErrorCode,
    ids::{ScheduleId, TenantId},
    kind::JobKind,
    schedules::{
        CatchUp, JobTemplate, NewSchedule, Recurrence, RecurrenceError, Schedule, ScheduleChange,
        ScheduleName,
    },
    time::Timestamp,
};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::Tenant,
    error::ApiError,
    jobs::{CreateJob, Origin, Submission, not_schedulable, submission},
    paging,
    payload::StrictJson,
    state::AppState,
};

/// Times a change is tried again on a schedule that a pass moved on
/// between its read and its write.
const MAX_REVISIONS: usize = 5;

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

/// The job a schedule makes, as stored.
#[derive(Debug, Object)]
pub struct ScheduledJobView {
    /// The job kind.
    kind: String,
    /// Its input, as each job stores it.
    payload: Value,
    /// Scheduling priority.
    priority: i32,
    /// Attempts allowed.
    max_attempts: u32,
    /// Where each job's end is reported.
    callback_url: Option<String>,
}

/// A schedule as clients read it.
#[derive(Debug, Object)]
pub struct ScheduleView {
    /// The schedule's id.
    schedule_id: String,
    /// What the tenant calls it.
    name: String,
    /// Its cron expression.
    cron: String,
    /// The IANA time zone it is read in.
    timezone: String,
    /// The job each tick makes.
    job: ScheduledJobView,
    /// `skip` or `once`.
    catch_up: String,
    /// Whether it is paused.
    paused: bool,
    /// Its next tick; null while paused.
    next_run_at: Option<String>,
    /// The tick of the last job it made.
    last_tick: Option<String>,
    /// When it was created.
    created_at: String,
    /// When it was last changed.
    updated_at: String,
}

impl From<Schedule> for ScheduleView {
    fn from(s: Schedule) -> Self {
        let template = s.template;
        Self {
            schedule_id: s.id.to_string(),
            name: s.name.to_string(),
            cron: s.rule.expression().to_owned(),
            timezone: s.rule.zone().to_owned(),
            job: ScheduledJobView {
                kind: template.payload.kind().as_str().to_owned(),
                payload: template.payload.to_json(),
                priority: template.priority.get(),
                max_attempts: template.max_attempts.get(),
                callback_url: template.callback_url,
            },
            catch_up: s.catch_up.as_str().to_owned(),
            paused: s.paused,
            next_run_at: (!s.paused).then(|| s.next_run_at.to_rfc3339()),
            last_tick: s.last_tick.map(Timestamp::to_rfc3339),
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// A page of schedules.
#[derive(Debug, Object)]
pub struct SchedulePage {
    /// Newest first.
    schedules: Vec<ScheduleView>,
    /// Pass as `cursor` for the next page; null on the last one.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    /// The schedule, with its first tick.
    #[oai(status = 201)]
    Created(Json<ScheduleView>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The schedule is gone; the jobs it made stay.
    #[oai(status = 204)]
    Deleted,
}

/// The schedules endpoints.
pub struct SchedulesApi;

#[OpenApi(prefix_path = "/v1")]
impl SchedulesApi {
    /// Creates a schedule: its job is made at each tick of its cron rule.
    #[oai(path = "/schedules", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        body: StrictJson<CreateSchedule>,
    ) -> poem::Result<Created> {
        let now = state.stores.clock().now();
        let new = new_schedule(tenant.0, body.0, now)?;
        let schedule = Schedule::new(new, now).map_err(rule_error)?;
        let inserted = state.stores.db.schedules.insert(&schedule).await;
        inserted.map_err(ApiError::unavailable)?;
        Ok(Created::Created(Json(schedule.into())))
    }

    /// Lists schedules, newest first.
    #[oai(path = "/schedules", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Page size, 1 to 500; default 50.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<SchedulePage>> {
        let limit = paging::limit(limit.0, 50)?;
        let before = cursor
            .0
            .map(|c| paging::place(&c, ScheduleId::parse))
            .transpose()?;
        let listed = state.stores.db.schedules.list(tenant.0, before, limit).await;
        let schedules = listed.map_err(ApiError::unavailable)?;
        let next_cursor = (schedules.len() == limit as usize)
            .then(|| schedules.last().map(|s| paging::cursor(&s.id.to_string())))
            .flatten();
        let schedules = schedules.into_iter().map(ScheduleView::from).collect();
        Ok(Json(SchedulePage {
            schedules,
            next_cursor,
        }))
    }

    /// Reads a schedule.
    #[oai(path = "/schedules/:schedule_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        schedule_id: Path<String>,
    ) -> poem::Result<Json<ScheduleView>> {
        let schedule = read(&state, tenant.0, &schedule_id).await?;
        Ok(Json(schedule.into()))
    }

    /// Changes a schedule: its name, rule, zone, job or catch-up; pauses or
    /// resumes it.
    #[oai(path = "/schedules/:schedule_id", method = "patch")]
    async fn change(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        schedule_id: Path<String>,
        body: StrictJson<ChangeSchedule>,
    ) -> poem::Result<Json<ScheduleView>> {
        let now = state.stores.clock().now();
        let body = body.0;
        let name = body.name.as_deref().map(name).transpose()?;
        let template = body.job.map(|j| template(tenant.0, j, now)).transpose()?;
        let catch_up = body.catch_up.as_deref().map(catch_up).transpose()?;
        for _ in 0..MAX_REVISIONS {
            let current = read(&state, tenant.0, &schedule_id).await?;
            let rule = match (&body.cron, &body.timezone) {
                (None, None) => None,
                (cron, zone) => Some(rule(
                    cron.as_deref().unwrap_or(current.rule.expression()),
                    zone.as_deref().unwrap_or(current.rule.zone()),
                )?),
            };
            let change = ScheduleChange {
                name: name.clone(),
                rule,
                template: template.clone(),
                catch_up,
                paused: body.paused,
            };
            let revised = current.revised(change, now).map_err(rule_error)?;
            let replaced = state.stores.db.schedules.replace(&current, &revised).await;
            if replaced.map_err(ApiError::unavailable)? {
                return Ok(Json(revised.into()));
            }
        }
        Err(ApiError::unavailable("the schedule kept moving on under the change").into())
    }

    /// Deletes a schedule; the jobs it made stay.
    #[oai(path = "/schedules/:schedule_id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        schedule_id: Path<String>,
    ) -> poem::Result<Deleted> {
        let id = parse_id(&schedule_id)?;
        let deleted = state.stores.db.schedules.delete(tenant.0, id).await;
        match deleted.map_err(ApiError::unavailable)? {
            true => Ok(Deleted::Deleted),
            false => Err(ApiError::not_found("schedule").into()),
        }
    }
}

/// The tenant's schedule named by the path, or 404.
async fn read(state: &AppState, tenant: TenantId, id: &str) -> Result<Schedule, ApiError> {
    let id = parse_id(id)?;
    let schedule = state.stores.db.schedules.get(tenant, id).await;
    schedule
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("schedule"))
}

/// Ids that do not parse cannot exist: the same 404 as any unknown schedule.
fn parse_id(text: &str) -> Result<ScheduleId, ApiError> {
    ScheduleId::parse(text).ok_or_else(|| ApiError::not_found("schedule"))
}

fn new_schedule(
    tenant: TenantId,
    body: CreateSchedule,
    now: Timestamp,
) -> Result<NewSchedule, ApiError> {
    Ok(NewSchedule {
        tenant_id: tenant,
        name: name(&body.name)?,
        rule: rule(&body.cron, body.timezone.as_deref().unwrap_or("UTC"))?,
        template: template(tenant, body.job, now)?,
        catch_up: body.catch_up.as_deref().map(catch_up).transpose()?.unwrap_or_default(),
        paused: body.paused.unwrap_or(false),
    })
}

fn name(text: &str) -> Result<ScheduleName, ApiError> {
    ScheduleName::parse(text).map_err(|e| ApiError::invalid_field(ErrorCode::InvalidField, "name", e))
}

fn rule(cron: &str, zone: &str) -> Result<Recurrence, ApiError> {
    Recurrence::parse(cron, zone).map_err(rule_error)
}

fn rule_error(err: RecurrenceError) -> ApiError {
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
fn template(tenant: TenantId, job: ScheduledJob, now: Timestamp) -> Result<JobTemplate, ApiError> {
    let body = CreateJob {
        kind: job.kind,
        payload: job.payload,
        priority: job.priority,
        run_at: None,
        max_attempts: job.max_attempts,
        callback_url: job.callback_url,
    };
    match submission(Tenant(tenant), None, body, now, Origin::Schedule) {
        Ok(Submission::Job(new)) => Ok(JobTemplate::from(new)),
        Ok(Submission::Activity(..)) => Err(not_schedulable(JobKind::Fanout).within("job")),
        Err(err) => Err(err.within("job")),
    }
}
