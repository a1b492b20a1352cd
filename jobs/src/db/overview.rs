//! What the operators' dashboard reads across every tenant: each queue's
//! backlog, the last hour's outcomes, failures by error code, failed jobs,
//! one job, and the tenants a bulk action by error code reaches.

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{
    Database, StoreError,
    rows::{JOB_COLUMNS, job_from_row, parse_id},
};
use crate::{
    codes::ErrorCode,
    ids::{JobId, TenantId},
    model::{Job, JobState},
    time::Timestamp,
};

/// One queue's work at this moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Queued jobs that are due: the backlog.
    pub due: u64,
    /// Queued jobs waiting for their `run_at` (scheduled, or backing off).
    pub later: u64,
    /// Jobs running, or waiting for their children.
    pub running: u64,
    /// When the longest-waiting due job became due.
    pub oldest_due: Option<Timestamp>,
}

/// How many jobs of a queue ended in one minute, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteOutcomes {
    /// The queue.
    pub queue: String,
    /// The start of the minute.
    pub minute: Timestamp,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed for good.
    pub failed: u64,
}

/// The jobs whose last attempt failed with one error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroup {
    /// The code.
    pub code: ErrorCode,
    /// Jobs failed for good (dead letters), retryable by hand.
    pub failed: u64,
    /// Jobs queued for another attempt, cancellable.
    pub retrying: u64,
    /// When the latest of them changed.
    pub last_at: Timestamp,
}

/// A count column as a count.
fn count(row: &AnyRow, column: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

impl Database {
    /// Every queue with work queued or running, by name.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>, StoreError> {
        let rows = sqlx::query(
            "SELECT queue, \
             CAST(SUM(CASE WHEN state = 'queued' AND run_at <= $1 THEN 1 ELSE 0 END) AS BIGINT) AS due, \
             CAST(SUM(CASE WHEN state = 'queued' AND run_at > $1 THEN 1 ELSE 0 END) AS BIGINT) AS later, \
             CAST(SUM(CASE WHEN state = 'queued' THEN 0 ELSE 1 END) AS BIGINT) AS running, \
             MIN(CASE WHEN state = 'queued' AND run_at <= $1 THEN run_at END) AS oldest \
             FROM jobs WHERE state IN ('queued', 'running', 'waiting') \
             GROUP BY queue ORDER BY queue",
        )
        .bind(self.conn.clock.now().millis())
        .fetch_all(&self.conn.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(QueueStats {
                    queue: row.try_get("queue")?,
                    due: count(row, "due")?,
                    later: count(row, "later")?,
                    running: count(row, "running")?,
                    oldest_due: row
                        .try_get::<Option<i64>, _>("oldest")?
                        .map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    /// Jobs that succeeded or failed for good since `since`, per queue and
    /// minute, oldest minute first.
    pub async fn outcomes_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<MinuteOutcomes>, StoreError> {
        // An ended job's `updated_at` is at or after its `finished_at`, so
        // the bound on it lets the (state, updated_at) index find the rows.
        let rows = sqlx::query(
            "SELECT queue, finished_at / 60000 AS minute, \
             CAST(SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS BIGINT) AS succeeded, \
             CAST(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed \
             FROM jobs WHERE state IN ('succeeded', 'failed') \
             AND updated_at >= $1 AND finished_at >= $1 \
             GROUP BY queue, finished_at / 60000 ORDER BY minute, queue",
        )
        .bind(since.millis())
        .fetch_all(&self.conn.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MinuteOutcomes {
                    queue: row.try_get("queue")?,
                    minute: Timestamp::from_millis(row.try_get::<i64, _>("minute")? * 60_000),
                    succeeded: count(row, "succeeded")?,
                    failed: count(row, "failed")?,
                })
            })
            .collect()
    }

    /// Failed jobs and jobs queued again after a failed attempt, by the
    /// code of that failure, the most recent first.
    pub async fn error_groups(&self) -> Result<Vec<ErrorGroup>, StoreError> {
        let rows = sqlx::query(
            "SELECT error_code, \
             CAST(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
             CAST(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS BIGINT) AS retrying, \
             MAX(updated_at) AS last_at \
             FROM jobs WHERE state IN ('failed', 'queued') AND error_code IS NOT NULL \
             GROUP BY error_code ORDER BY last_at DESC",
        )
        .fetch_all(&self.conn.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let code: String = row.try_get("error_code")?;
                Ok(ErrorGroup {
                    code: ErrorCode::parse(&code).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown error code {code:?}"))
                    })?,
                    failed: count(row, "failed")?,
                    retrying: count(row, "retrying")?,
                    last_at: Timestamp::from_millis(row.try_get("last_at")?),
                })
            })
            .collect()
    }

    /// Up to `limit` jobs of every tenant in `state` (with the error `code`,
    /// if given), the most recently changed first.
    pub async fn jobs_in_state(
        &self,
        state: JobState,
        code: Option<ErrorCode>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR error_code = $2) \
             ORDER BY updated_at DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(code.map(ErrorCode::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.conn.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Job `id`, whichever tenant's it is.
    pub async fn any_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.conn.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The tenants owning a job in `state` whose last attempt failed with
    /// `code`: whom a bulk action on that code reaches.
    pub async fn tenants_with_error(
        &self,
        state: JobState,
        code: ErrorCode,
    ) -> Result<Vec<TenantId>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT tenant_id FROM jobs WHERE state = $1 AND error_code = $2 \
             ORDER BY tenant_id",
        )
        .bind(state.as_str())
        .bind(code.as_str())
        .fetch_all(&self.conn.pool)
        .await?;
        rows.iter()
            .map(|row| parse_id(row, "tenant_id", TenantId::parse))
            .collect()
    }
}
