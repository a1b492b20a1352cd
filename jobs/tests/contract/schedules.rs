//! The schedules repository contract, on Postgres and on SQLite: a tenant
//! sees only its own schedules; passes racing for a due tick, from two
//! handles with connections of their own, record one job; a write from an
//! older read writes nothing; a tick moved back still makes no second job.

use std::time::Duration;

use futures::future::join_all;
use mixdown_jobs::{
    clock::ManualClock,
    db::Database,
    ids::TenantId,
    model::{JobFilter, MaxAttempts, Priority},
    noop::NoopPayload,
    payload::JobPayload,
    schedules::{
        CatchUp, JobTemplate, NewSchedule, Recurrence, Schedule, ScheduleChange, ScheduleName,
    },
    time::Timestamp,
};

use crate::tenant;

contract!(
    a_schedule_is_recorded_read_listed_and_deleted_by_its_tenant_only,
    passes_racing_for_a_due_tick_record_one_job,
    a_change_from_an_older_read_writes_nothing,
    a_tick_already_fired_makes_no_second_job,
    paused_schedules_are_not_due,
);

/// Every ten seconds.
const EVERY: Duration = Duration::from_secs(10);
/// A generous grace: these cases are about who takes a tick, not lateness.
const GRACE: Duration = Duration::from_secs(60);

fn schedule(tenant: TenantId, clock: &ManualClock) -> Schedule {
    let new = NewSchedule {
        tenant_id: tenant,
        name: ScheduleName::parse("contract").unwrap(),
        rule: Recurrence::parse("*/10 * * * * *", "UTC").unwrap(),
        template: JobTemplate {
            payload: JobPayload::Noop(NoopPayload::default()),
            priority: Priority::new(5).unwrap(),
            max_attempts: MaxAttempts::new(2).unwrap(),
            callback_url: None,
        },
        catch_up: CatchUp::Skip,
        paused: false,
    };
    Schedule::new(new, clock.now()).unwrap()
}

async fn recorded(db: &Database, clock: &ManualClock) -> Schedule {
    let s = schedule(tenant(db).await, clock);
    db.schedules.insert(&s).await.unwrap();
    s
}

fn advance_to(clock: &ManualClock, t: Timestamp) {
    clock.advance(t.since(clock.now()));
}

/// The ticks of the jobs `s` made, oldest first.
async fn ticks(db: &Database, s: &Schedule) -> Vec<Timestamp> {
    let filter = JobFilter {
        schedule: Some(s.id),
        limit: 500,
        ..JobFilter::default()
    };
    let jobs = db.jobs.list(s.tenant_id, &filter).await.unwrap();
    let mut ticks: Vec<Timestamp> = jobs
        .iter()
        .map(|j| {
            let tick = j.schedule.unwrap();
            assert_eq!(tick.schedule_id, s.id);
            tick.at
        })
        .collect();
    ticks.reverse();
    ticks
}

async fn a_schedule_is_recorded_read_listed_and_deleted_by_its_tenant_only(
    db: &Database,
    clock: &ManualClock,
) {
    let first = recorded(db, clock).await;
    let t = first.tenant_id;
    assert_eq!(
        db.schedules.get(t, first.id).await.unwrap(),
        Some(first.clone())
    );
    let mut second = schedule(t, clock);
    second.rule = Recurrence::parse("30 2 * * *", "Europe/Berlin").unwrap();
    second.catch_up = CatchUp::Once;
    db.schedules.insert(&second).await.unwrap();
    let listed = db.schedules.list(t, None, 10).await.unwrap();
    assert_eq!(listed, [second.clone(), first.clone()]);
    let older = db.schedules.list(t, Some(second.id), 10).await.unwrap();
    assert_eq!(older, std::slice::from_ref(&first));
    let other = tenant(db).await;
    assert_eq!(db.schedules.get(other, first.id).await.unwrap(), None);
    assert!(db.schedules.list(other, None, 10).await.unwrap().is_empty());
    assert!(!db.schedules.delete(other, first.id).await.unwrap());
    assert!(db.schedules.delete(t, first.id).await.unwrap());
    assert_eq!(db.schedules.get(t, first.id).await.unwrap(), None);
    assert!(!db.schedules.delete(t, first.id).await.unwrap());
}

async fn passes_racing_for_a_due_tick_record_one_job(db: &Database, clock: &ManualClock) {
    let s = recorded(db, clock).await;
    let other = db.reopen_alone().await.unwrap();
    let mut expected = Vec::new();
    for round in 0..5 {
        let tick = s.next_run_at.plus(EVERY * round);
        advance_to(clock, tick);
        let passes = (0..8).map(|i| {
            let handle = if i % 2 == 0 { db } else { &other };
            handle.schedules.fire_due(GRACE, 100)
        });
        let made: usize = join_all(passes)
            .await
            .into_iter()
            .map(|r| r.unwrap().len())
            .sum();
        assert_eq!(made, 1, "round {round}: one job for the tick");
        expected.push(tick);
    }
    assert_eq!(ticks(db, &s).await, expected);
    let now = db.schedules.get(s.tenant_id, s.id).await.unwrap().unwrap();
    assert_eq!(now.next_run_at, expected[4].plus(EVERY));
    assert_eq!(now.last_tick, Some(expected[4]));
    other.close().await;
}

async fn a_change_from_an_older_read_writes_nothing(db: &Database, clock: &ManualClock) {
    let s = recorded(db, clock).await;
    let pause = ScheduleChange {
        paused: Some(true),
        ..ScheduleChange::default()
    };
    let paused = s.revised(pause, clock.now()).unwrap();
    let rename = ScheduleChange {
        name: Some(ScheduleName::parse("renamed").unwrap()),
        ..ScheduleChange::default()
    };
    let renamed = s.revised(rename, clock.now()).unwrap();
    assert!(db.schedules.replace(&s, &paused).await.unwrap());
    assert!(
        !db.schedules.replace(&s, &renamed).await.unwrap(),
        "read before the pause"
    );
    assert_eq!(
        db.schedules.get(s.tenant_id, s.id).await.unwrap(),
        Some(paused)
    );

    // A pass that moved the schedule on wins over a change read before it.
    let s = recorded(db, clock).await;
    advance_to(clock, s.next_run_at);
    assert_eq!(db.schedules.fire_due(GRACE, 100).await.unwrap().len(), 1);
    let renamed = s.revised(ScheduleChange::default(), clock.now()).unwrap();
    assert!(!db.schedules.replace(&s, &renamed).await.unwrap());
}

async fn a_tick_already_fired_makes_no_second_job(db: &Database, clock: &ManualClock) {
    let s = recorded(db, clock).await;
    let tick = s.next_run_at;
    advance_to(clock, tick);
    assert_eq!(db.schedules.fire_due(GRACE, 100).await.unwrap().len(), 1);
    // Moved back onto the tick it fired (as no change of the API does).
    let current = db.schedules.get(s.tenant_id, s.id).await.unwrap().unwrap();
    let back = Schedule {
        next_run_at: tick,
        version: current.version + 1,
        ..current.clone()
    };
    assert!(db.schedules.replace(&current, &back).await.unwrap());
    assert!(db.schedules.fire_due(GRACE, 100).await.unwrap().is_empty());
    assert_eq!(ticks(db, &s).await, [tick]);
    let moved_on = db.schedules.get(s.tenant_id, s.id).await.unwrap().unwrap();
    assert_eq!(moved_on.next_run_at, tick.plus(EVERY));
}

async fn paused_schedules_are_not_due(db: &Database, clock: &ManualClock) {
    let mut s = schedule(tenant(db).await, clock);
    s.paused = true;
    db.schedules.insert(&s).await.unwrap();
    advance_to(clock, s.next_run_at.plus(EVERY));
    assert!(db.schedules.fire_due(GRACE, 100).await.unwrap().is_empty());
    assert_eq!(ticks(db, &s).await, []);
}
