//! Job rows: accepting, reading, listing, and every state transition.
//!
//! Each transition is one conditional `UPDATE`: the `WHERE` clause names the
//! state (and, for a running job, the attempt) it expects, so a stale worker,
//! a duplicate delivery or a racing API replica changes nothing.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{
    JobStore, StoreError,
    rows::{JOB_COLUMNS, job_from_row, non_negative, parse_id, parse_json, parse_kind},
};
use crate::{
    ids::{JobId, TenantId, WorkerId},
    kind::{JobKind, JobPayload},
    model::{Job, JobFilter, JobState, NewJob, Outcome, Priority},
    queue::QueueEntry,
    time::Timestamp,
};

/// The answer to accepting a job.
#[derive(Debug, Clone)]
pub struct Inserted {
    /// The job, as stored.
    pub job: Job,
    /// False when an earlier request with the same idempotency key made it.
    pub created: bool,
}

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

/// The answer to a cancel request.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// It was queued and will never run.
    Cancelled(Job),
    /// It is running and will stop at its next checkpoint.
    Requested(Job),
    /// It had already ended.
    AlreadyFinal(Job),
    /// No such job for this tenant.
    NotFound,
}

/// The answer to a retry request.
#[derive(Debug, Clone)]
pub enum RetryOutcome {
    /// It is queued again; push this entry to the queue.
    Requeued(Job, QueueEntry),
    /// It is not failed or cancelled.
    NotRetryable(Job),
    /// No such job for this tenant.
    NotFound,
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

/// `$start, $start+1, …` for `count` binds.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records `new` as a queued job through `executor` (the pool, or a
/// transaction that records more with it); `None` when its idempotency key
/// was used before.
pub(super) async fn insert_job_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    new: &NewJob,
) -> Result<Option<Job>, StoreError> {
    let now = Timestamp::now();
    let kind = new.payload.kind();
    let run_at = new.run_at.unwrap_or(now).max(now);
    let sql = format!(
        "INSERT INTO jobs (id, tenant_id, kind, queue, state, payload, priority, max_attempts, \
         attempt_budget, run_at, created_at, updated_at, parent_id, callback_url, \
         idempotency_key) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $7, $8, $9, $9, $10, $11, $12) \
         ON CONFLICT DO NOTHING RETURNING {JOB_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(JobId::new().to_string())
        .bind(new.tenant_id.to_string())
        .bind(kind.as_str())
        .bind(kind.queue())
        .bind(new.payload.to_json().to_string())
        .bind(new.priority.get())
        .bind(new.max_attempts.get() as i32)
        .bind(run_at.millis())
        .bind(now.millis())
        .bind(new.parent_id.map(|id| id.to_string()))
        .bind(new.callback_url.clone())
        .bind(new.idempotency_key.clone())
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

impl JobStore {
    /// Records a new queued job, or returns the one made earlier with the same
    /// idempotency key by the same tenant.
    pub async fn insert_job(&self, new: &NewJob) -> Result<Inserted, StoreError> {
        if let Some(job) = insert_job_row(&self.pool, new).await? {
            return Ok(Inserted { job, created: true });
        }
        let key = new.idempotency_key.as_deref().unwrap_or_default();
        let job = self.by_idempotency_key(new.tenant_id, key).await?;
        Ok(Inserted {
            job: job.ok_or_else(|| StoreError::Corrupt("insert conflicted on no key".into()))?,
            created: false,
        })
    }

    async fn by_idempotency_key(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<Job>, StoreError> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2");
        self.fetch_job(sql, &[tenant.to_string(), key.to_owned()])
            .await
    }

    /// The tenant's job `id`; `None` when it does not exist or is another tenant's.
    pub async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
        self.fetch_job(sql, &[id.to_string(), tenant.to_string()])
            .await
    }

    async fn fetch_job(&self, sql: String, binds: &[String]) -> Result<Option<Job>, StoreError> {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = query.bind(b.clone());
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The tenant's jobs, newest first, filtered and paged by `filter`.
    pub async fn list_jobs(
        &self,
        tenant: TenantId,
        filter: &JobFilter,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR state = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR kind = $3) \
             AND (CAST($4 AS TEXT) IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.kind.map(|k| k.as_str()))
            .bind(filter.before.map(|id| id.to_string()))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Cancels a queued job at once, or asks a running one to stop.
    pub async fn cancel_job(
        &self,
        tenant: TenantId,
        id: JobId,
    ) -> Result<CancelOutcome, StoreError> {
        let now = Timestamp::now().millis();
        let binds = [id.to_string(), tenant.to_string()];
        let sql = format!(
            "UPDATE jobs SET state = 'cancelled', finished_at = {now}, updated_at = {now} \
             WHERE id = $1 AND tenant_id = $2 AND state = 'queued' RETURNING {JOB_COLUMNS}"
        );
        if let Some(job) = self.fetch_job(sql, &binds).await? {
            return Ok(CancelOutcome::Cancelled(job));
        }
        let sql = format!(
            "UPDATE jobs SET cancel_requested = 1, updated_at = {now} \
             WHERE id = $1 AND tenant_id = $2 AND state = 'running' RETURNING {JOB_COLUMNS}"
        );
        if let Some(job) = self.fetch_job(sql, &binds).await? {
            return Ok(CancelOutcome::Requested(job));
        }
        Ok(match self.get_job(tenant, id).await? {
            Some(job) => CancelOutcome::AlreadyFinal(job),
            None => CancelOutcome::NotFound,
        })
    }

    /// Queues a failed or cancelled job again with a fresh budget of attempts.
    /// Attempts keep counting up, so a late report of an old attempt never
    /// matches the new one.
    pub async fn retry_job(&self, tenant: TenantId, id: JobId) -> Result<RetryOutcome, StoreError> {
        let now = Timestamp::now().millis();
        let sql = format!(
            "UPDATE jobs SET state = 'queued', run_at = {now}, updated_at = {now}, \
             max_attempts = attempts + attempt_budget, \
             finished_at = NULL, error_code = NULL, error_message = NULL, result = NULL, \
             progress = 0, cancel_requested = 0, callback_job_id = NULL \
             WHERE id = $1 AND tenant_id = $2 AND state IN ('failed', 'cancelled') \
             RETURNING {JOB_COLUMNS}"
        );
        let binds = [id.to_string(), tenant.to_string()];
        if let Some(job) = self.fetch_job(sql, &binds).await? {
            let entry = QueueEntry::for_job(&job);
            return Ok(RetryOutcome::Requeued(job, entry));
        }
        Ok(match self.get_job(tenant, id).await? {
            Some(job) => RetryOutcome::NotRetryable(job),
            None => RetryOutcome::NotFound,
        })
    }

    /// Claims the due, still-queued jobs among `ids` for one attempt each.
    /// Ids that are not claimable (already running, ended, cancelled, not due)
    /// are skipped: that is what makes duplicate deliveries harmless.
    pub async fn claim_jobs(
        &self,
        ids: &[JobId],
        worker: &WorkerId,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = Timestamp::now().millis();
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
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(claimed_from_row).collect()
    }

    /// Records the end of many attempts in one statement per outcome class;
    /// returns the jobs to push back to the queue for another attempt.
    pub async fn finish_attempts(&self, batch: &[Finish]) -> Result<Vec<QueueEntry>, StoreError> {
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
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(Timestamp::now().millis());
            for f in chunk {
                let result = match &f.outcome {
                    Outcome::Succeeded(v) => v.to_string(),
                    _ => Value::Null.to_string(),
                };
                query = query
                    .bind(f.id.to_string())
                    .bind(i64::from(f.attempt))
                    .bind(result);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn record_other(&self, f: &Finish) -> Result<Option<QueueEntry>, StoreError> {
        let now = Timestamp::now();
        let (state, code, message) = match &f.outcome {
            Outcome::Cancelled => (JobState::Cancelled, None, None),
            Outcome::Failed { error, .. } if f.retry_at.is_some() => (
                JobState::Queued,
                Some(error.code.clone()),
                Some(error.message.clone()),
            ),
            Outcome::Failed { error, .. } => (
                JobState::Failed,
                Some(error.code.clone()),
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
            .fetch_optional(&self.pool)
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
        .execute(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| parse_id(r, "id", JobId::parse))
            .collect()
    }

    /// Queued jobs last changed in `(after, upto]`, oldest change first, at most
    /// `limit`: what the reconciler pushes to the queue again in case the
    /// hand-over was lost. Pages continue from the last `(updated_at, id)`.
    pub async fn queued_changed_between(
        &self,
        after: (Timestamp, Option<JobId>),
        upto: Timestamp,
        limit: u32,
    ) -> Result<Vec<(Timestamp, QueueEntry)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, priority, run_at, kind, updated_at FROM jobs \
             WHERE state = 'queued' AND updated_at <= $3 \
             AND (updated_at > $1 OR (updated_at = $1 AND id > $2)) \
             ORDER BY updated_at, id LIMIT $4",
        )
        .bind(after.0.millis())
        .bind(after.1.map(|id| id.to_string()).unwrap_or_default())
        .bind(upto.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let updated = Timestamp::from_millis(row.try_get("updated_at")?);
                Ok((updated, entry_from_row(row)?))
            })
            .collect()
    }
}

pub(super) fn entry_from_row(row: &AnyRow) -> Result<QueueEntry, StoreError> {
    Ok(QueueEntry {
        id: parse_id(row, "id", JobId::parse)?,
        queue: parse_kind(row.try_get("kind")?)?.queue().to_owned(),
        priority: Priority::new(row.try_get::<i64, _>("priority")?)
            .ok_or_else(|| StoreError::Corrupt("priority out of range".into()))?,
        run_at: Timestamp::from_millis(row.try_get("run_at")?),
    })
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
