//! Schedules: a job template made into a job at each tick of a cron rule
//! read in a time zone. The rule is `recurrence`, what a due tick does is
//! `firing`; the database keeps schedules (`db::schedules`), and workers'
//! scheduler passes fire them.

mod firing;
mod recurrence;

use std::fmt;

pub use self::{
    firing::{CatchUp, Step, resumed, step},
    recurrence::{Recurrence, RecurrenceError},
};
use crate::{
    ids::{ScheduleId, TenantId},
    model::{MaxAttempts, NewJob, Priority},
    payload::JobPayload,
    time::Timestamp,
};

/// A schedule's name, as its tenant calls it: 1 to 200 characters, none
/// of them a control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleName(String);

impl ScheduleName {
    /// Most characters in a name.
    pub const MAX_CHARS: usize = 200;

    /// The name if `text` is one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            Err(format!("must be 1 to {} characters", Self::MAX_CHARS))
        } else if text.chars().any(char::is_control) {
            Err("may hold no control characters".into())
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScheduleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The job a schedule makes at each tick, checked as `POST /v1/jobs` checks
/// a job and kept as a job row keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTemplate {
    /// Its typed input, which fixes its kind.
    pub payload: JobPayload,
    /// Scheduling priority.
    pub priority: Priority,
    /// Attempts allowed.
    pub max_attempts: MaxAttempts,
    /// Where to report each job's end.
    pub callback_url: Option<String>,
}

impl JobTemplate {
    /// The job of this template for `tenant`, due at once.
    pub fn job(&self, tenant: TenantId) -> NewJob {
        NewJob {
            priority: self.priority,
            max_attempts: self.max_attempts,
            callback_url: self.callback_url.clone(),
            ..NewJob::with_defaults(tenant, self.payload.clone())
        }
    }
}

impl From<NewJob> for JobTemplate {
    /// What of a checked job a schedule repeats: not its time, key or parent.
    fn from(job: NewJob) -> Self {
        Self {
            payload: job.payload,
            priority: job.priority,
            max_attempts: job.max_attempts,
            callback_url: job.callback_url,
        }
    }
}

/// The tick of a schedule that a job was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// The tick's instant.
    pub at: Timestamp,
}

/// A schedule as the database records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Its id.
    pub id: ScheduleId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// What its tenant calls it.
    pub name: ScheduleName,
    /// When it ticks.
    pub rule: Recurrence,
    /// What each tick makes.
    pub template: JobTemplate,
    /// What it does about missed ticks.
    pub catch_up: CatchUp,
    /// Whether it is paused: a paused schedule makes nothing.
    pub paused: bool,
    /// Its first tick not yet fired.
    pub next_run_at: Timestamp,
    /// The tick of the last job it made.
    pub last_tick: Option<Timestamp>,
    /// Counts the changes made to it by its tenant, so that a change and a
    /// firing made from an older read change nothing.
    pub version: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its tenant last changed it.
    pub updated_at: Timestamp,
}

/// A schedule to create.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// Its owner.
    pub tenant_id: TenantId,
    /// What its tenant calls it.
    pub name: ScheduleName,
    /// When it ticks.
    pub rule: Recurrence,
    /// What each tick makes.
    pub template: JobTemplate,
    /// What it does about missed ticks.
    pub catch_up: CatchUp,
    /// Whether it starts paused.
    pub paused: bool,
}

/// A tenant's change to a schedule; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChange {
    /// A new name.
    pub name: Option<ScheduleName>,
    /// A new rule (a new expression, zone, or both).
    pub rule: Option<Recurrence>,
    /// A new job template.
    pub template: Option<JobTemplate>,
    /// A new catch-up rule.
    pub catch_up: Option<CatchUp>,
    /// Pause (`true`) or resume (`false`).
    pub paused: Option<bool>,
}

impl Schedule {
    /// The schedule `new` created at `now`: its first tick is the first
    /// after `now`.
    pub fn new(new: NewSchedule, now: Timestamp) -> Result<Self, RecurrenceError> {
        Ok(Self {
            id: ScheduleId::new(),
            tenant_id: new.tenant_id,
            next_run_at: new.rule.upcoming(now)?,
            name: new.name,
            rule: new.rule,
            template: new.template,
            catch_up: new.catch_up,
            paused: new.paused,
            last_tick: None,
            version: 0,
            created_at: now,
            updated_at: now,
        })
    }

    /// This schedule after `change` at `now`. A new rule starts at its first
    /// tick after `now`; resuming goes on as [`resumed`] says.
    pub fn revised(&self, change: ScheduleChange, now: Timestamp) -> Result<Self, RecurrenceError> {
        let resuming = self.paused && change.paused == Some(false);
        let mut revised = Self {
            name: change.name.unwrap_or_else(|| self.name.clone()),
            template: change.template.unwrap_or_else(|| self.template.clone()),
            catch_up: change.catch_up.unwrap_or(self.catch_up),
            paused: change.paused.unwrap_or(self.paused),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        };
        match change.rule {
            Some(rule) if rule != self.rule => {
                revised.next_run_at = rule.upcoming(now)?;
                revised.rule = rule;
            }
            _ if resuming => {
                revised.next_run_at =
                    match resumed(&self.rule, revised.catch_up, self.next_run_at, now) {
                        Some(next) => next,
                        // No tick after now either: said as a new rule says it.
                        None => self.rule.upcoming(now)?,
                    };
            }
            _ => {}
        }
        Ok(revised)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::noop::NoopPayload;

    fn schedule(now: Timestamp) -> Schedule {
        let new = NewSchedule {
            tenant_id: TenantId::new(),
            name: ScheduleName::parse("nightly").unwrap(),
            rule: Recurrence::parse("0 */10 * * * *", "Europe/Berlin").unwrap(),
            template: JobTemplate {
                payload: JobPayload::Noop(NoopPayload::default()),
                priority: Priority::default(),
                max_attempts: MaxAttempts::new(3).unwrap(),
                callback_url: None,
            },
            catch_up: CatchUp::Skip,
            paused: false,
        };
        Schedule::new(new, now).unwrap()
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000 + minutes * 60_000)
    }

    #[test]
    fn a_new_schedule_starts_at_its_first_tick_after_now() {
        let s = schedule(at(3));
        assert_eq!((s.next_run_at, s.version, s.paused), (at(10), 0, false));
    }

    #[test]
    fn a_new_rule_starts_from_now_and_every_change_counts() {
        let s = schedule(at(3));
        let rule = Recurrence::parse("0 */15 * * * *", "UTC").unwrap();
        let change = ScheduleChange {
            rule: Some(rule.clone()),
            ..ScheduleChange::default()
        };
        let revised = s.revised(change, at(31)).unwrap();
        assert_eq!((&revised.rule, revised.next_run_at), (&rule, at(45)));
        assert_eq!((revised.version, revised.updated_at), (1, at(31)));
        let renamed = ScheduleChange {
            name: Some(ScheduleName::parse("hourly").unwrap()),
            ..ScheduleChange::default()
        };
        let revised = revised.revised(renamed, at(32)).unwrap();
        assert_eq!((revised.next_run_at, revised.version), (at(45), 2));
    }

    #[test]
    fn resuming_skips_the_ticks_missed_while_paused_unless_catching_up_once() {
        let s = schedule(at(3));
        let pause = ScheduleChange {
            paused: Some(true),
            ..ScheduleChange::default()
        };
        let paused = s.revised(pause, at(4)).unwrap();
        assert_eq!((paused.paused, paused.next_run_at), (true, at(10)));
        let resume = |catch_up| ScheduleChange {
            paused: Some(false),
            catch_up: Some(catch_up),
            ..ScheduleChange::default()
        };
        let later = at(35).plus(Duration::from_secs(1));
        let skip = paused.revised(resume(CatchUp::Skip), later).unwrap();
        assert_eq!((skip.paused, skip.next_run_at), (false, at(40)));
        let once = paused.revised(resume(CatchUp::Once), later).unwrap();
        assert_eq!(once.next_run_at, at(30));
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(ScheduleName::parse("Nightly report ☾").is_ok());
        for bad in ["", "a\nb", &"x".repeat(201)] {
            assert!(ScheduleName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
