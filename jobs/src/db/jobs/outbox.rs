//! The callback outbox: recording the `callback` jobs that report ended jobs.

use sqlx::{AssertSqlSafe, Row};

use super::{JobRepo, Place, insert_job_row};
use crate::db::{
    StoreError,
    rows::{JOB_COLUMNS, job_from_row},
};
use crate::{
    callbacks::CallbackPayload,
    ids::{JobId, TenantId},
    model::{Job, NewJob},
    payload::JobPayload,
    queue::QueueEntry,
};

impl JobRepo {
    /// Records a `callback` job for each of up to `limit` ended jobs whose end has a
    /// callback URL and no report yet, and returns them to push. A job and its report
    /// are marked together, and the report's idempotency key names the end it reports,
    /// so a repeated or concurrent pass records nothing twice.
    pub async fn record_due_callbacks(&self, limit: u32) -> Result<Vec<QueueEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(due_callbacks_sql(limit)))
            .fetch_all(&self.db.pool)
            .await?;
        let mut recorded = Vec::new();
        for ended in rows.iter().map(job_from_row) {
            if let Some(report) = self.record_callback(&ended?).await? {
                recorded.push(QueueEntry::for_job(&report));
            }
        }
        Ok(recorded)
    }

    /// Records the report of `ended`'s end; `None` when it was recorded already.
    async fn record_callback(&self, ended: &Job) -> Result<Option<Job>, StoreError> {
        let end = ended.finished_at.map_or(0, |t| t.millis());
        // An end is its attempt and its time: a retried job that ends again
        // within the same millisecond still gets its own report.
        let key = format!("callback:{}:{}:{end}", ended.id, ended.attempts);
        self.record_report(ended, Some(key), Report::First).await
    }

    /// Records a new report of the end of the tenant's job `id`, whatever
    /// the earlier ones did: a new `callback` job, so a new delivery id.
    pub async fn redeliver(&self, tenant: TenantId, id: JobId) -> Result<Redelivery, StoreError> {
        let Some(ended) = self.get(tenant, id).await? else {
            return Ok(Redelivery::NotFound);
        };
        if !ended.state.is_final() || ended.callback_url.is_none() {
            return Ok(Redelivery::NotReportable(ended));
        }
        let report = self.record_report(&ended, None, Report::Again).await?;
        let report =
            report.ok_or_else(|| StoreError::Corrupt("a report without key conflicted".into()))?;
        Ok(Redelivery::Recorded(report))
    }

    /// Records a `callback` job reporting `ended` under `key` and marks
    /// `ended` with it, both or neither; a first report gives way to one
    /// recorded meanwhile (`None`).
    async fn record_report(
        &self,
        ended: &Job,
        key: Option<String>,
        report: Report,
    ) -> Result<Option<Job>, StoreError> {
        let new = NewJob {
            parent_id: Some(ended.id),
            idempotency_key: key,
            ..NewJob::with_defaults(
                ended.tenant_id,
                JobPayload::Callback(CallbackPayload { job_id: ended.id }),
            )
        };
        let mut tx = self.db.begin().await?;
        let inserted = insert_job_row(&mut *tx, &new, Place::Alone, self.db.clock.now()).await?;
        let report_id = match &inserted {
            Some(job) => job.id.to_string(),
            None => {
                let row = sqlx::query(
                    "SELECT id FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2",
                )
                .bind(ended.tenant_id.to_string())
                .bind(new.idempotency_key.clone())
                .fetch_one(&mut *tx)
                .await?;
                row.try_get("id")?
            }
        };
        let unmarked = match report {
            Report::First => " AND callback_job_id IS NULL",
            Report::Again => "",
        };
        let sql = format!("UPDATE jobs SET callback_job_id = $1 WHERE id = $2{unmarked}");
        let marked = sqlx::query(AssertSqlSafe(sql))
            .bind(&report_id)
            .bind(ended.id.to_string())
            .execute(&mut *tx)
            .await?;
        if marked.rows_affected() == 0 {
            // Marked by another pass meanwhile.
            return Ok(None);
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

/// The outbox's scan: the oldest `limit` ended jobs whose end is still to be
/// reported. Its filter is the predicate of the index `jobs_callback_unreported`.
pub fn due_callbacks_sql(limit: u32) -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE callback_url IS NOT NULL AND callback_job_id IS NULL \
         AND state IN ('succeeded', 'failed', 'cancelled') \
         ORDER BY finished_at LIMIT {limit}"
    )
}

/// Whether a report is an end's first or one asked for again.
#[derive(Debug, Clone, Copy)]
enum Report {
    /// The reconciler's, once per end.
    First,
    /// A client's, as often as asked.
    Again,
}

/// The answer to a request to report a job's end again.
#[derive(Debug, Clone)]
pub enum Redelivery {
    /// The new `callback` job, to push.
    Recorded(Job),
    /// The job has not ended, or has no callback URL.
    NotReportable(Job),
    /// No such job for this tenant.
    NotFound,
}
