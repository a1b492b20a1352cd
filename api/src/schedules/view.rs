//! How clients read schedules.

use mixdown_jobs::{schedules::Schedule, time::Timestamp};
use poem_openapi::Object;
use serde_json::Value;

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
    pub schedules: Vec<ScheduleView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}
