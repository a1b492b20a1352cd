//! What keeps jobs from getting stuck: attempts of workers that stopped
//! beating go back to the queue, a draining worker hands its attempts back,
//! queued jobs are found again for redrive; and what ops read about it.

use std::time::Duration;

use futures::{StreamExt, stream::BoxStream};
use sqlx::{AssertSqlSafe, Row};

use super::JobRepo;
use crate::{
    codes::ErrorCode,
    db::{
        StoreError,
        jobs::entry_from_row,
        rows::{parse_id, parse_kind},
    },
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    queue::QueueEntry,
    time::Timestamp,
};

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

impl JobRepo {
    /// Takes back running jobs whose worker stopped beating for longer than
    /// `max_age` (or is unknown): a job with attempts left is queued again, the
    /// lost run counted as an attempt; one without ends `failed` with
    /// `worker_lost`. Forgets those workers. Returns the entries to push.
    pub async fn recover_orphans(&self, max_age: Duration) -> Result<Vec<QueueEntry>, StoreError> {
        let now = self.db.clock.now();
        let cutoff = now.minus(max_age).millis();
        let orphaned = "state = 'running' AND (worker_id IS NULL OR worker_id NOT IN \
             (SELECT id FROM workers WHERE last_seen >= $2))";
        let code = ErrorCode::WorkerLost.as_str();
        let message = "the worker running this job stopped";
        let fail = format!(
            "UPDATE jobs SET state = 'failed', finished_at = $1, updated_at = $1, \
             worker_id = NULL, error_code = $3, error_message = $4 \
             WHERE {orphaned} AND attempts >= max_attempts"
        );
        sqlx::query(AssertSqlSafe(fail))
            .bind(now.millis())
            .bind(cutoff)
            .bind(code)
            .bind(message)
            .execute(&self.db.pool)
            .await?;
        let requeue = format!(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, worker_id = NULL, \
             error_code = $3, error_message = $4 \
             WHERE {orphaned} RETURNING id, tenant_id, priority, run_at, kind"
        );
        let rows = sqlx::query(AssertSqlSafe(requeue))
            .bind(now.millis())
            .bind(cutoff)
            .bind(code)
            .bind(message)
            .fetch_all(&self.db.pool)
            .await?;
        sqlx::query("DELETE FROM workers WHERE last_seen < $1")
            .bind(cutoff)
            .execute(&self.db.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Hands the attempts `worker` still runs back to the queue without
    /// counting them: a draining worker gives up what it could not finish.
    /// The attempt number stays (it fences late reports); the budget grows by
    /// one instead. Returns the entries to push.
    pub async fn release(&self, worker: &WorkerId) -> Result<Vec<QueueEntry>, StoreError> {
        let now = self.db.clock.now().millis();
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, worker_id = NULL, \
             max_attempts = max_attempts + 1, cancel_requested = 0 \
             WHERE worker_id = $2 AND state = 'running' RETURNING id, tenant_id, priority, run_at, kind",
        )
        .bind(now)
        .bind(worker.as_str().to_owned())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The jobs among `ids` that the store no longer counts as running on
    /// `worker`: taken back while it was silent (paused, stalled, cut off),
    /// ended, or handed to another worker. The worker stops those attempts;
    /// their reports would change nothing anyway.
    pub async fn lost_by(
        &self,
        worker: &WorkerId,
        ids: &[JobId],
    ) -> Result<Vec<JobId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id FROM jobs WHERE worker_id = $1 AND state = 'running' AND id IN ({})",
            super::placeholders(2, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(worker.as_str().to_owned());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let held: Vec<JobId> = query
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| parse_id(r, "id", JobId::parse))
            .collect::<Result<_, _>>()?;
        Ok(ids
            .iter()
            .filter(|id| !held.contains(id))
            .copied()
            .collect())
    }

    /// Queued jobs last changed in `(after, upto]`, in no order: what the
    /// reconciler pushes to the queue again in case the hand-over was lost.
    /// One read, streamed. Read in ordered pages, each page re-read and
    /// sorted every queued job after it whenever the planner's statistics
    /// predated a burst of enqueues: 264 pages of 38–130 ms each for 150,000
    /// queued jobs.
    pub fn queued_changed_between(
        &self,
        after: Timestamp,
        upto: Timestamp,
    ) -> BoxStream<'_, Result<QueueEntry, StoreError>> {
        sqlx::query(
            "SELECT id, tenant_id, priority, run_at, kind FROM jobs \
             WHERE state = 'queued' AND updated_at > $1 AND updated_at <= $2",
        )
        .bind(after.millis())
        .bind(upto.millis())
        .fetch(&self.db.pool)
        .map(|row| entry_from_row(&row?))
        .boxed()
    }

    /// Every attempt running in the fleet now.
    pub async fn running(&self) -> Result<Vec<RunningJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, kind, worker_id, started_at FROM jobs \
             WHERE state = 'running' AND worker_id IS NOT NULL ORDER BY started_at",
        )
        .fetch_all(&self.db.pool)
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
        .bind(self.db.clock.now().millis())
        .fetch_one(&self.db.pool)
        .await?;
        Ok(row
            .try_get::<Option<i64>, _>("oldest")?
            .map(Timestamp::from_millis))
    }
}
