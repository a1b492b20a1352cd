//! Worker processes: heartbeats, the live list, and recovery of the jobs of
//! workers that stopped beating.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{
    JobStore, StoreError,
    rows::{non_negative, parse_id, parse_kind},
};
use crate::{
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    queue::QueueEntry,
    time::Timestamp,
};

/// A worker process as it reports itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRecord {
    /// Unique per process start.
    pub id: WorkerId,
    /// Queues it takes work from.
    pub queues: Vec<String>,
    /// Jobs it runs at once.
    pub concurrency: u32,
    /// Host it runs on.
    pub hostname: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub last_seen: Timestamp,
}

/// A running attempt and the worker running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningJob {
    /// The job.
    pub id: JobId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Its kind.
    pub kind: JobKind,
    /// The worker running it.
    pub worker_id: WorkerId,
    /// When the attempt started.
    pub started_at: Timestamp,
}

impl JobStore {
    /// Records a heartbeat of `worker` now.
    pub async fn heartbeat(&self, worker: &WorkerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (id, queues, concurrency, hostname, pid, started_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(worker.id.as_str().to_owned())
        .bind(worker.queues.join(","))
        .bind(worker.concurrency as i32)
        .bind(worker.hostname.clone())
        .bind(i64::from(worker.pid))
        .bind(worker.started_at.millis())
        .bind(Timestamp::now().millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Workers whose last heartbeat is newer than `max_age`.
    pub async fn live_workers(&self, max_age: Duration) -> Result<Vec<WorkerRecord>, StoreError> {
        let since = Timestamp::now().minus(max_age).millis();
        let rows = sqlx::query(
            "SELECT id, queues, concurrency, hostname, pid, started_at, last_seen FROM workers \
             WHERE last_seen >= $1 ORDER BY started_at",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(worker_from_row).collect()
    }

    /// Takes back running jobs whose worker stopped beating for longer than
    /// `max_age` (or is unknown): a job with attempts left is queued again, the
    /// lost run counted as an attempt; one without ends `failed` with
    /// `worker_lost`. Forgets those workers. Returns the entries to push.
    pub async fn recover_orphans(&self, max_age: Duration) -> Result<Vec<QueueEntry>, StoreError> {
        let now = Timestamp::now().millis();
        let cutoff = Timestamp::now().minus(max_age).millis();
        let orphaned = "state = 'running' AND (worker_id IS NULL OR worker_id NOT IN \
             (SELECT id FROM workers WHERE last_seen >= $2))";
        let message = "the worker running this job stopped";
        let fail = format!(
            "UPDATE jobs SET state = 'failed', finished_at = $1, updated_at = $1, \
             worker_id = NULL, error_code = 'worker_lost', error_message = $3 \
             WHERE {orphaned} AND attempts >= max_attempts"
        );
        sqlx::query(AssertSqlSafe(fail))
            .bind(now)
            .bind(cutoff)
            .bind(message)
            .execute(&self.pool)
            .await?;
        let requeue = format!(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, worker_id = NULL, \
             error_code = 'worker_lost', error_message = $3 \
             WHERE {orphaned} RETURNING id, priority, run_at, kind"
        );
        let rows = sqlx::query(AssertSqlSafe(requeue))
            .bind(now)
            .bind(cutoff)
            .bind(message)
            .fetch_all(&self.pool)
            .await?;
        sqlx::query("DELETE FROM workers WHERE last_seen < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        rows.iter().map(super::jobs::entry_from_row).collect()
    }

    /// Hands the attempts `worker` still runs back to the queue without
    /// counting them: a draining worker gives up what it could not finish.
    /// The attempt number stays (it fences late reports); the budget grows by
    /// one instead. Returns the entries to push.
    pub async fn release_attempts(&self, worker: &WorkerId) -> Result<Vec<QueueEntry>, StoreError> {
        let now = Timestamp::now().millis();
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, worker_id = NULL, \
             max_attempts = max_attempts + 1, cancel_requested = 0 \
             WHERE worker_id = $2 AND state = 'running' RETURNING id, priority, run_at, kind",
        )
        .bind(now)
        .bind(worker.as_str().to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::jobs::entry_from_row).collect()
    }

    /// Every attempt running in the fleet now.
    pub async fn running_jobs(&self) -> Result<Vec<RunningJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, kind, worker_id, started_at FROM jobs \
             WHERE state = 'running' AND worker_id IS NOT NULL ORDER BY started_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RunningJob {
                    id: parse_id(row, "id", JobId::parse)?,
                    tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
                    kind: parse_kind(row.try_get("kind")?)?,
                    worker_id: WorkerId::from_stored(row.try_get("worker_id")?),
                    started_at: Timestamp::from_millis(
                        row.try_get::<Option<i64>, _>("started_at")?.unwrap_or(0),
                    ),
                })
            })
            .collect()
    }

    /// When the longest-waiting due job of `queue` became due, if any waits.
    pub async fn oldest_due(&self, queue: &str) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(run_at) AS oldest FROM jobs \
             WHERE state = 'queued' AND queue = $1 AND run_at <= $2",
        )
        .bind(queue.to_owned())
        .bind(Timestamp::now().millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(row
            .try_get::<Option<i64>, _>("oldest")?
            .map(Timestamp::from_millis))
    }

    /// Forgets a worker (after its jobs were recovered, or on clean exit).
    pub async fn remove_worker(&self, worker: &WorkerId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker.as_str().to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn worker_from_row(row: &AnyRow) -> Result<WorkerRecord, StoreError> {
    let queues: String = row.try_get("queues")?;
    Ok(WorkerRecord {
        id: WorkerId::from_stored(row.try_get("id")?),
        queues: queues.split(',').map(str::to_owned).collect(),
        concurrency: non_negative(row.try_get("concurrency")?),
        hostname: row.try_get("hostname")?,
        pid: non_negative(row.try_get("pid")?),
        started_at: Timestamp::from_millis(row.try_get("started_at")?),
        last_seen: Timestamp::from_millis(row.try_get("last_seen")?),
    })
}
