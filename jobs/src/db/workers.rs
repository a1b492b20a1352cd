//! Worker processes: heartbeats and the live list. Taking back the jobs of
//! workers that stopped beating is the jobs' business (`jobs::recovery`).

use std::time::Duration;

use sqlx::{Row, any::AnyRow};

use super::{Conn, StoreError, rows::non_negative};
use crate::{ids::WorkerId, time::Timestamp};

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

/// The workers table.
#[derive(Debug, Clone)]
pub struct WorkerRepo {
    db: Conn,
}

impl WorkerRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

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
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Workers whose last heartbeat is newer than `max_age`.
    pub async fn live(&self, max_age: Duration) -> Result<Vec<WorkerRecord>, StoreError> {
        let since = self.db.clock.now().minus(max_age).millis();
        let rows = sqlx::query(
            "SELECT id, queues, concurrency, hostname, pid, started_at, last_seen FROM workers \
             WHERE last_seen >= $1 ORDER BY started_at",
        )
        .bind(since)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(worker_from_row).collect()
    }

    /// Forgets a worker (after its jobs were recovered, or on clean exit).
    pub async fn remove(&self, worker: &WorkerId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker.as_str().to_owned())
            .execute(&self.db.pool)
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
