//! The schedules API: a job template made into a job at each tick of a cron
//! rule read in a time zone (the rules are `mixdown_jobs::schedules`; the
//! workers' scheduler passes fire the ticks).

mod request;
mod view;

use mixdown_jobs::{
    ids::{ScheduleId, TenantId},
    schedules::Schedule,
};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use self::{
    request::{ChangeSchedule, CreateSchedule, rule_error},
    view::{SchedulePage, ScheduleView},
};
use crate::{
    auth::Tenant, error::ApiError, jobs::Checks, paging, payload::StrictJson, state::AppState,
};

/// Times a change is tried again on a schedule that a pass moved on
/// between its read and its write.
const MAX_REVISIONS: usize = 5;

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
        let secrets = state.fleet.secrets_keys();
        let checks = Checks {
            catalog: state.presets(),
            secrets: secrets.as_ref(),
        };
        let new = body.0.checked(tenant.0, now, &checks)?;
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
        let listed = state
            .stores
            .db
            .schedules
            .list(tenant.0, before, limit)
            .await;
        let schedules = listed.map_err(ApiError::unavailable)?;
        let next_cursor = (schedules.len() == limit as usize)
            .then(|| schedules.last().map(|s| s.id.to_string()))
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
        let secrets = state.fleet.secrets_keys();
        let checks = Checks {
            catalog: state.presets(),
            secrets: secrets.as_ref(),
        };
        let change = body.0.checked(tenant.0, now, &checks)?;
        for _ in 0..MAX_REVISIONS {
            let current = read(&state, tenant.0, &schedule_id).await?;
            let revised = current.revised(change.of(&current)?, now);
            let revised = revised.map_err(rule_error)?;
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
