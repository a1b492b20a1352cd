//! Attempts: claiming queued jobs, recording how attempts ended (in
//! batches), progress, and the cancellation requests a worker picks up.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{JobRepo, placeholders};
use crate::{
    db::{
        StoreError,
        jobs::entry_from_row,
        rows::{non_negative, parse_id, parse_json, parse_kind},
    },
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    model::{JobState, Outcome, Priority},
    payload::JobPayload,
    queue::QueueEntry,
    time::Timestamp,
};

/// A job a worker has claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Its id.
    pub id: JobId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Its typed input.
    pub payload: JobPayload,
    /// The attempt being run, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Scheduling priority, kept for requeueing.
    pub priority: Priority,
    /// When it became due: the start of its wait in the queue.
    pub run_at: Timestamp,
}

impl ClaimedJob {
    /// The kind of the job.
    pub fn kind(&self) -> JobKind {
        self.payload.kind()
    }
}

/// The end of one attempt, ready to be recorded.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The job.
    pub id: JobId,
    /// The attempt that ended.
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// When to run again if it failed and may retry.
    pub retry_at: Option<Timestamp>,
}

impl JobRepo {
    /// Claims the due, still-queued jobs among `ids` for one attempt each.
    /// Ids that are not claimable (already running, ended, cancelled, not due)
    /// are skipped: that is what makes duplicate deliveries harmless.
    pub async fn claim(
        &self,
        ids: &[JobId],
        worker: &WorkerId,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.db.clock.now().millis();
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $1, \
             updated_at = $1, worker_id = $2, progress = 0 \
             WHERE state = 'queued' AND run_at <= $1 AND id IN ({}) \
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts, priority, run_at",
            placeholders(3, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(worker.as_str().to_owned());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(claimed_from_row).collect()
    }

    /// Records the end of many attempts in one statement per outcome class;
    /// returns the jobs to push back to the queue for another attempt.
    pub async fn finish(&self, batch: &[Finish]) -> Result<Vec<QueueEntry>, StoreError> {
        let (succeeded, others): (Vec<&Finish>, Vec<&Finish>) = batch
            .iter()
            .partition(|f| matches!(f.outcome, Outcome::Succeeded(_)));
        self.record_successes(&succeeded).await?;
        let mut requeue = Vec::new();
        for finish in others {
            requeue.extend(self.record_other(finish).await?);
        }
        Ok(requeue)
    }

    async fn record_successes(&self, batch: &[&Finish]) -> Result<(), StoreError> {
        // SQLite allows 32,766 binds per statement; stay well below.
        for chunk in batch.chunks(1000) {
            if chunk.is_empty() {
                continue;
            }
            let values = (0..chunk.len())
                .map(|i| {
                    let b = 2 + i * 3;
                    format!("(${b}, CAST(${} AS BIGINT), ${})", b + 1, b + 2)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE jobs SET state = 'succeeded', result = v.column3, progress = 1, \
                 finished_at = $1, updated_at = $1, worker_id = NULL, error_code = NULL, \
                 error_message = NULL FROM (VALUES {values}) AS v \
                 WHERE jobs.id = v.column1 AND jobs.attempts = v.column2 \
                 AND jobs.state = 'running'"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(self.db.clock.now().millis());
            for f in chunk {
                let result = match &f.outcome {
                    Outcome::Succeeded(r) => r.to_json().to_string(),
                    _ => Value::Null.to_string(),
                };
                query = query
                    .bind(f.id.to_string())
                    .bind(i64::from(f.attempt))
                    .bind(result);
            }
            query.execute(&self.db.pool).await?;
        }
        Ok(())
    }

    async fn record_other(&self, f: &Finish) -> Result<Option<QueueEntry>, StoreError> {
        let now = self.db.clock.now();
        let (state, code, message) = match &f.outcome {
            Outcome::Cancelled => (JobState::Cancelled, None, None),
            Outcome::Failed { error, .. } if f.retry_at.is_some() => (
                JobState::Queued,
                Some(error.code.as_str()),
                Some(error.message.clone()),
            ),
            Outcome::Failed { error, .. } => (
                JobState::Failed,
                Some(error.code.as_str()),
                Some(error.message.clone()),
            ),
            Outcome::Succeeded(_) => return Ok(None),
        };
        let finished_at = state.is_final().then_some(now.millis());
        let run_at = f.retry_at.unwrap_or(now);
        let sql = "UPDATE jobs SET state = $1, error_code = $2, error_message = $3, \
             finished_at = $4, run_at = $5, updated_at = $6, worker_id = NULL \
             WHERE id = $7 AND attempts = $8 AND state = 'running' \
             RETURNING id, priority, run_at, kind";
        let row = sqlx::query(sql)
            .bind(state.as_str())
            .bind(code)
            .bind(message)
            .bind(finished_at)
            .bind(run_at.millis())
            .bind(now.millis())
            .bind(f.id.to_string())
            .bind(i64::from(f.attempt))
            .fetch_optional(&self.db.pool)
            .await?;
        match row {
            Some(row) if state == JobState::Queued => Ok(Some(entry_from_row(&row)?)),
            _ => Ok(None),
        }
    }

    /// Stores the progress of a running attempt (0 to 1).
    pub async fn set_progress(
        &self,
        id: JobId,
        attempt: u32,
        progress: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET progress = $1 WHERE id = $2 AND attempts = $3 AND state = 'running'",
        )
        .bind(progress.clamp(0.0, 1.0))
        .bind(id.to_string())
        .bind(i64::from(attempt))
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Running jobs of `worker` whose cancellation was requested.
    pub async fn cancel_requests(&self, worker: &WorkerId) -> Result<Vec<JobId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE worker_id = $1 AND state = 'running' \
             AND cancel_requested = 1",
        )
        .bind(worker.as_str().to_owned())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| parse_id(r, "id", JobId::parse))
            .collect()
    }
}

fn claimed_from_row(row: &AnyRow) -> Result<ClaimedJob, StoreError> {
    let kind = parse_kind(row.try_get("kind")?)?;
    let payload = parse_json(row.try_get("payload")?)?;
    let payload = JobPayload::parse(kind, Some(&payload))
        .map_err(|e| StoreError::Corrupt(format!("stored payload: {e}")))?;
    Ok(ClaimedJob {
        id: parse_id(row, "id", JobId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        payload,
        attempt: non_negative(row.try_get("attempts")?),
        max_attempts: non_negative(row.try_get("max_attempts")?),
        priority: Priority::new(row.try_get::<i64, _>("priority")?)
            .ok_or_else(|| StoreError::Corrupt("priority out of range".into()))?,
        run_at: Timestamp::from_millis(row.try_get("run_at")?),
    })
}
