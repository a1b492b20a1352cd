//! Dead-letter replay: retrying or cancelling every job of a tenant that a
//! filter matches, a page at a time, so no statement holds more than a page
//! of rows however many match.

use sqlx::{AssertSqlSafe, Row};

use super::{
    Database, StoreError,
    jobs::{AGAIN, AWAITED, entry_from_row},
    rows::{JOB_COLUMNS, job_from_row, parse_id},
};
use crate::{
    ids::{JobId, TenantId},
    model::{BulkFilter, Job, JobState},
    queue::QueueEntry,
};

/// The jobs of one page of a bulk action: where the next page starts, and
/// which jobs are plain (on their own) or members of a workflow (a parent,
/// or a child its parent waits for), which go one by one.
#[derive(Debug, Clone, Default)]
pub struct BulkPage {
    /// Matching jobs that stand alone.
    pub plain: Vec<JobId>,
    /// Matching jobs of a workflow.
    pub family: Vec<JobId>,
    /// The last id read; `None` when nothing matched any more.
    pub last: Option<JobId>,
}

/// Jobs retried together, and the entries to push.
#[derive(Debug, Clone, Default)]
pub struct Requeued {
    /// The jobs as they are now.
    pub jobs: Vec<Job>,
    /// Their queue entries.
    pub entries: Vec<QueueEntry>,
}

impl Database {
    /// Up to `page` jobs of `tenant` matching `filter` after `after`, in id
    /// order.
    pub async fn bulk_page(
        &self,
        tenant: TenantId,
        filter: &BulkFilter,
        after: Option<JobId>,
        page: u32,
    ) -> Result<BulkPage, StoreError> {
        let states: Vec<String> = (0..filter.states.len())
            .map(|i| format!("${}", i + 8))
            .collect();
        let sql = format!(
            "SELECT id, CAST(CASE WHEN child_weight IS NOT NULL OR EXISTS \
             (SELECT 1 FROM jobs c WHERE {AWAITED}) THEN 1 ELSE 0 END AS BIGINT) AS family \
             FROM jobs WHERE tenant_id = $1 AND state IN ({}) \
             AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR created_at < $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR created_at > $4) \
             AND (CAST($5 AS TEXT) IS NULL OR id > $5) \
             AND (CAST($7 AS TEXT) IS NULL OR error_code = $7) \
             ORDER BY id LIMIT $6",
            states.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(filter.kind.map(|k| k.as_str()))
            .bind(filter.created_before.map(|t| t.millis()))
            .bind(filter.created_after.map(|t| t.millis()))
            .bind(after.map(|id| id.to_string()))
            .bind(i64::from(page))
            .bind(filter.error_code.map(|c| c.as_str()));
        for state in &filter.states {
            query = query.bind(state.as_str());
        }
        let mut found = BulkPage::default();
        for row in query.fetch_all(&self.conn.pool).await? {
            let id = parse_id(&row, "id", JobId::parse)?;
            if row.try_get::<i64, _>("family")? == 1 {
                found.family.push(id);
            } else {
                found.plain.push(id);
            }
            found.last = Some(id);
        }
        Ok(found)
    }

    /// Queues the failed or cancelled plain jobs `ids` of `tenant` again in
    /// one statement, each with a fresh budget of attempts (what
    /// [`Database::retry`] does to a job of no workflow).
    pub async fn retry_plain(
        &self,
        tenant: TenantId,
        ids: &[JobId],
    ) -> Result<Requeued, StoreError> {
        if ids.is_empty() {
            return Ok(Requeued::default());
        }
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "UPDATE jobs SET {AGAIN} WHERE tenant_id = $3 AND id IN ({}) \
             AND state IN ('failed', 'cancelled') \
             RETURNING {JOB_COLUMNS}",
            list.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(JobState::Queued.as_str())
            .bind(self.conn.clock.now().millis())
            .bind(tenant.to_string());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.conn.pool).await?;
        let mut requeued = Requeued::default();
        for row in &rows {
            let job = job_from_row(row)?;
            requeued.entries.push(entry_from_row(row)?);
            requeued.jobs.push(job);
        }
        Ok(requeued)
    }
}
