//! Schedules: recording, reading, changing and deleting them, and firing
//! their due ticks.
//!
//! Whoever moves a schedule on — a scheduler pass taking a tick, its tenant
//! changing it — writes only if `next_run_at` and `version` are still what
//! it read, and a pass records the tick's job in the same transaction. Of
//! any number of passes racing for a tick, in however many processes, one
//! takes it and the others change nothing; the unique key on a job's
//! (schedule_id, schedule_tick) holds even against a schedule moved back.

use std::time::Duration;

use rand::seq::SliceRandom;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row, any::AnyRow};
use tracing::{info, warn};

use super::{
    Conn, StoreError,
    jobs::{Place, insert_job_row},
    rows::{non_negative, parse_id, parse_json, parse_kind, parse_priority},
};
use crate::{
    ids::{ScheduleId, TenantId},
    model::{Job, MaxAttempts},
    payload::JobPayload,
    schedules::{
        CatchUp, JobTemplate, Recurrence, Schedule, ScheduleName, Step, Tick, step as next_step,
    },
    time::Timestamp,
};

/// The columns every schedule query selects, in the order `schedule_from_row` reads.
const SCHEDULE_COLUMNS: &str = "id, tenant_id, name, cron, timezone, kind, payload, priority, \
     max_attempts, callback_url, catch_up, paused, next_run_at, last_tick, version, created_at, \
     updated_at";

/// The schedules table.
#[derive(Debug, Clone)]
pub struct ScheduleRepo {
    db: Conn,
}

impl ScheduleRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Records a new schedule.
    pub async fn insert(&self, s: &Schedule) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO schedules ({SCHEDULE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(s.id.to_string())
            .bind(s.tenant_id.to_string())
            .bind(s.name.as_str().to_owned())
            .bind(s.rule.expression().to_owned())
            .bind(s.rule.zone().to_owned())
            .bind(s.template.payload.kind().as_str())
            .bind(s.template.payload.to_json().to_string())
            .bind(s.template.priority.get())
            .bind(s.template.max_attempts.get() as i32)
            .bind(s.template.callback_url.clone())
            .bind(s.catch_up.as_str())
            .bind(i32::from(s.paused))
            .bind(s.next_run_at.millis())
            .bind(s.last_tick.map(|t| t.millis()))
            .bind(s.version)
            .bind(s.created_at.millis())
            .bind(s.updated_at.millis());
        query.execute(&self.db.pool).await?;
        Ok(())
    }

    /// The tenant's schedule `id`; `None` when it does not exist or is another tenant's.
    pub async fn get(
        &self,
        tenant: TenantId,
        id: ScheduleId,
    ) -> Result<Option<Schedule>, StoreError> {
        let sql =
            format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1 AND tenant_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(schedule_from_row).transpose()
    }

    /// The tenant's schedules, newest first: at most `limit` of those older
    /// than `before`, if given.
    pub async fn list(
        &self,
        tenant: TenantId,
        before: Option<ScheduleId>,
        limit: u32,
    ) -> Result<Vec<Schedule>, StoreError> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE tenant_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(before.map(|id| id.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// Up to `limit` schedules of every tenant, the next to tick first.
    pub async fn soonest(&self, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        let sql =
            format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY next_run_at, id LIMIT $1");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// Stores `revised` in place of `current`, as read before: false, and
    /// nothing written, when a pass or another change moved it on since.
    pub async fn replace(
        &self,
        current: &Schedule,
        revised: &Schedule,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE schedules SET name = $1, cron = $2, timezone = $3, kind = $4, payload = $5, \
             priority = $6, max_attempts = $7, callback_url = $8, catch_up = $9, paused = $10, \
             next_run_at = $11, version = $12, updated_at = $13 \
             WHERE id = $14 AND tenant_id = $15 AND version = $16 AND next_run_at = $17",
        )
        .bind(revised.name.as_str().to_owned())
        .bind(revised.rule.expression().to_owned())
        .bind(revised.rule.zone().to_owned())
        .bind(revised.template.payload.kind().as_str())
        .bind(revised.template.payload.to_json().to_string())
        .bind(revised.template.priority.get())
        .bind(revised.template.max_attempts.get() as i32)
        .bind(revised.template.callback_url.clone())
        .bind(revised.catch_up.as_str())
        .bind(i32::from(revised.paused))
        .bind(revised.next_run_at.millis())
        .bind(revised.version)
        .bind(revised.updated_at.millis())
        .bind(current.id.to_string())
        .bind(current.tenant_id.to_string())
        .bind(current.version)
        .bind(current.next_run_at.millis());
        Ok(query.execute(&self.db.pool).await?.rows_affected() == 1)
    }

    /// Deletes the tenant's schedule `id`; false when it had none. The jobs
    /// it made stay, and still name it.
    pub async fn delete(&self, tenant: TenantId, id: ScheduleId) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM schedules WHERE id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string());
        Ok(query.execute(&self.db.pool).await?.rows_affected() == 1)
    }

    /// One scheduler pass over at most `limit` schedules due now: each fires
    /// its due ticks as `schedules::step` says (a tick later than `grace` is
    /// missed). Returns the jobs it made, to push.
    pub async fn fire_due(&self, grace: Duration, limit: u32) -> Result<Vec<Job>, StoreError> {
        let now = self.db.clock.now();
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE paused = 0 AND next_run_at <= $1 \
             ORDER BY next_run_at LIMIT {limit}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now.millis())
            .fetch_all(&self.db.pool)
            .await?;
        let mut due: Vec<Schedule> = rows.iter().filter_map(readable).collect();
        // Every process reads the same page: starting at different places,
        // they mostly take different schedules instead of queueing on one.
        due.shuffle(&mut rand::rng());
        let mut made = Vec::new();
        for schedule in due {
            made.extend(self.fire(schedule, now, grace).await?);
        }
        Ok(made)
    }

    /// Fires `schedule`'s ticks due at `now`, one step at a time, until its
    /// next tick is ahead or another writer has moved it on.
    async fn fire(
        &self,
        mut schedule: Schedule,
        now: Timestamp,
        grace: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let mut made = Vec::new();
        while schedule.next_run_at <= now {
            let tick = schedule.next_run_at;
            let Some(step) = next_step(&schedule.rule, schedule.catch_up, tick, now, grace) else {
                warn!(schedule_id = %schedule.id, "schedule has no tick left");
                break;
            };
            if step.fire != Some(tick) {
                let fired = step.fire.map(Timestamp::to_rfc3339);
                let next = step.next.to_rfc3339();
                let (schedule_id, from) = (schedule.id, tick.to_rfc3339());
                info!(%schedule_id, from, next, ?fired, "schedule missed ticks");
            }
            if !self.take(&schedule, step, now, &mut made).await? {
                break;
            }
            schedule.next_run_at = step.next;
        }
        Ok(made)
    }

    /// Takes `step` of `schedule` (its tick `next_run_at`) in one
    /// transaction: moves the schedule on, if nobody did since it was read,
    /// then records the step's job into `made` (none for skipped ticks, or
    /// when the tick's job exists already). False, and nothing written, when
    /// another writer moved it on first. The write comes first, so that on
    /// SQLite the transaction holds the write lock from its start.
    async fn take(
        &self,
        s: &Schedule,
        step: Step,
        now: Timestamp,
        made: &mut Vec<Job>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE schedules SET next_run_at = $1, last_tick = COALESCE(CAST($2 AS BIGINT), \
             last_tick) WHERE id = $3 AND version = $4 AND next_run_at = $5 AND paused = 0",
        )
        .bind(step.next.millis())
        .bind(step.fire.map(|t| t.millis()))
        .bind(s.id.to_string())
        .bind(s.version)
        .bind(s.next_run_at.millis())
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut job = None;
        if let Some(at) = step.fire {
            let tick = Tick {
                schedule_id: s.id,
                at,
            };
            let new = s.template.job(s.tenant_id);
            job = insert_job_row(&mut *tx, &new, Place::Scheduled(tick), now).await?;
        }
        tx.commit().await?;
        made.extend(job);
        Ok(true)
    }
}

/// The schedule of `row`, or `None` with a warning: one unreadable row must
/// not stop the pass for every other schedule.
fn readable(row: &AnyRow) -> Option<Schedule> {
    schedule_from_row(row)
        .inspect_err(|err| warn!(error = %err, "a due schedule is unreadable; left as it is"))
        .ok()
}

fn schedule_from_row(row: &AnyRow) -> Result<Schedule, StoreError> {
    let corrupt = |what: &str, why: String| StoreError::Corrupt(format!("schedule {what}: {why}"));
    let cron: String = row.try_get("cron")?;
    let zone: String = row.try_get("timezone")?;
    let rule = Recurrence::parse(&cron, &zone).map_err(|e| corrupt("rule", e.to_string()))?;
    let name: String = row.try_get("name")?;
    let catch_up: String = row.try_get("catch_up")?;
    Ok(Schedule {
        id: parse_id(row, "id", ScheduleId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        name: ScheduleName::parse(&name).map_err(|e| corrupt("name", e))?,
        rule,
        template: template_from_row(row)?,
        catch_up: CatchUp::parse(&catch_up).ok_or_else(|| corrupt("catch_up", catch_up))?,
        paused: row.try_get::<i64, _>("paused")? != 0,
        next_run_at: Timestamp::from_millis(row.try_get("next_run_at")?),
        last_tick: row
            .try_get::<Option<i64>, _>("last_tick")?
            .map(Timestamp::from_millis),
        version: row.try_get("version")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

fn template_from_row(row: &AnyRow) -> Result<JobTemplate, StoreError> {
    let kind = parse_kind(row.try_get("kind")?)?;
    let payload: Value = parse_json(row.try_get("payload")?)?;
    let payload = JobPayload::parse(kind, Some(&payload))
        .map_err(|e| StoreError::Corrupt(format!("schedule payload: {e}")))?;
    let max_attempts = i64::from(non_negative(row.try_get("max_attempts")?));
    Ok(JobTemplate {
        payload,
        priority: parse_priority(row)?,
        max_attempts: MaxAttempts::new(max_attempts)
            .ok_or_else(|| StoreError::Corrupt("schedule max_attempts out of range".into()))?,
        callback_url: row.try_get("callback_url")?,
    })
}
