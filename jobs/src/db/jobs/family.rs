//! Parents and children: how the database keeps a workflow's jobs.
//!
//! A child is a row with a `parent_id` and a `child_weight`; a parent waits
//! in state `waiting` until none of its children is left to end. Waking is
//! done by whoever ends the last child, after that end is committed, so the
//! last one always sees the others' ends; a crash in between is healed by
//! the reconciler's [`JobRepo::wake_stalled`]. A parent's progress is its
//! children's, weighted, over the weight its workflow planned.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{
    JobRepo, Place, ROWS_PER_INSERT, entry_from_row, insert_job_row, insert_job_rows, placeholders,
    select_job,
};
use crate::{
    db::{
        StoreError,
        rows::{JOB_COLUMNS, job_from_row, parse_id, parse_kind},
    },
    ids::{JobId, TenantId},
    kind::JobKind,
    model::{Job, JobState, NewJob, Priority},
    queue::QueueEntry,
    time::Timestamp,
    workflow::{Child, Start},
};

/// A child of the parent the outer query names, that its parent waits for.
pub(in crate::db) const AWAITED: &str = "c.parent_id = jobs.id AND c.child_weight IS NOT NULL";

/// The states a job has ended in.
const ENDED: &str = "('succeeded', 'failed', 'cancelled')";

/// The job a child step of `parent` becomes: the parent's tenant and
/// priority, its kind's attempts, and a key that no client can send (it has
/// a space), so recording the step again keeps the first.
fn child_job(parent: JobId, tenant: TenantId, priority: Priority, child: &Child) -> NewJob {
    NewJob {
        priority,
        idempotency_key: Some(format!("workflow {parent} {}", child.step)),
        ..NewJob::with_defaults(tenant, child.payload.clone())
    }
}

/// The children `parent` waits for through `executor`, in the order they
/// were recorded.
pub(in crate::db) async fn select_children<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    parent: JobId,
) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE parent_id = $1 AND child_weight IS NOT NULL \
         ORDER BY id"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(parent.to_string())
        .fetch_all(executor)
        .await?;
    rows.iter().map(job_from_row).collect()
}

/// Records a workflow: its parent, waiting, and its first children, in
/// `tx`. Returns the parent and the children to push.
pub(in crate::db) async fn record_start(
    tx: &mut AnyConnection,
    start: &Start,
    now: Timestamp,
) -> Result<(Job, Vec<Job>), StoreError> {
    let parent = insert_job_row(&mut *tx, &start.parent, Place::Parent(start.planned), now)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a workflow's job conflicted".into()))?;
    let children = record_children(tx, &parent, &start.children, now).await?;
    Ok((parent, children))
}

async fn record_children(
    tx: &mut AnyConnection,
    parent: &Job,
    children: &[Child],
    now: Timestamp,
) -> Result<Vec<Job>, StoreError> {
    let news: Vec<(NewJob, Place)> = children
        .iter()
        .map(|child| {
            let new = child_job(parent.id, parent.tenant_id, parent.priority, child);
            (new, Place::Child(parent.id, child.weight))
        })
        .collect();
    let mut recorded = Vec::with_capacity(children.len());
    for chunk in news.chunks(ROWS_PER_INSERT) {
        let rows: Vec<(&NewJob, Place)> = chunk.iter().map(|(n, p)| (n, *p)).collect();
        let inserted = insert_job_rows(&mut *tx, &rows, now).await?;
        recorded.extend(inserted.into_iter().flatten());
    }
    Ok(recorded)
}

/// Ends a running attempt of `parent` by recording `children` and making
/// it wait for them, in `tx`; answers the parent as it now is and the
/// children recorded, `None` when the attempt is stale.
pub(in crate::db) async fn await_children(
    tx: &mut AnyConnection,
    parent: JobId,
    attempt: u32,
    children: &[Child],
    now: Timestamp,
) -> Result<Option<(Job, Vec<Job>)>, StoreError> {
    let sql = format!(
        "UPDATE jobs SET state = 'waiting', worker_id = NULL, updated_at = $1 \
         WHERE id = $2 AND attempts = $3 AND state = 'running' RETURNING {JOB_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(now.millis())
        .bind(parent.to_string())
        .bind(i64::from(attempt))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(parent) = row.as_ref().map(job_from_row).transpose()? else {
        return Ok(None);
    };
    let children = record_children(tx, &parent, children, now).await?;
    Ok(Some((parent, children)))
}

impl JobRepo {
    /// The children `parent` waits for, in the order they were recorded.
    pub async fn children(&self, parent: JobId) -> Result<Vec<Job>, StoreError> {
        select_children(&self.db.pool, parent).await
    }

    /// Refreshes the progress of the waiting `parents` from their children's,
    /// and wakes those with no child left to end: they are queued to run
    /// again with a fresh budget of attempts. Returns the entries to push.
    pub async fn settle(&self, parents: &[JobId]) -> Result<Vec<QueueEntry>, StoreError> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        self.refresh_progress(parents).await?;
        self.wake(Among::Ids(parents)).await
    }

    /// Sets the progress of the waiting `parents` to their children's,
    /// weighted, over the weight their workflows planned: a child that
    /// succeeded counts whole, any other what it had done.
    pub(super) async fn refresh_progress(&self, parents: &[JobId]) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE jobs SET progress = COALESCE((SELECT \
             SUM(c.child_weight * (CASE WHEN c.state = 'succeeded' THEN 1.0 ELSE c.progress END)) \
             / (CASE WHEN SUM(c.child_weight) > jobs.planned_weight \
                THEN SUM(c.child_weight) ELSE jobs.planned_weight END) \
             FROM jobs c WHERE {AWAITED}), 0) \
             WHERE state = 'waiting' AND id IN ({})",
            placeholders(1, parents.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in parents {
            query = query.bind(id.to_string());
        }
        query.execute(&self.db.pool).await?;
        Ok(())
    }

    /// Wakes up to `limit` waiting parents with no child left to end: the
    /// reconciler's net for a wake lost to a crash. Returns the entries to push.
    pub async fn wake_stalled(&self, limit: u32) -> Result<Vec<QueueEntry>, StoreError> {
        self.wake(Among::Oldest(limit)).await
    }

    /// Queues the waiting parents `among` whose children have all ended.
    async fn wake(&self, among: Among<'_>) -> Result<Vec<QueueEntry>, StoreError> {
        let (scope, ids) = match among {
            Among::Ids(ids) => (format!("id IN ({})", placeholders(2, ids.len())), ids),
            // The limit counts stalled parents only: parents still at work,
            // however many and old, must not hide one.
            Among::Oldest(limit) => (
                format!(
                    "id IN (SELECT p.id FROM jobs p WHERE p.state = 'waiting' AND NOT EXISTS \
                     (SELECT 1 FROM jobs c WHERE c.parent_id = p.id \
                      AND c.child_weight IS NOT NULL AND c.state NOT IN {ENDED}) \
                     ORDER BY p.updated_at LIMIT {limit})"
                ),
                &[][..],
            ),
        };
        let sql = format!(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, \
             max_attempts = attempts + attempt_budget \
             WHERE state = 'waiting' AND {scope} AND NOT EXISTS \
             (SELECT 1 FROM jobs c WHERE {AWAITED} AND c.state NOT IN {ENDED}) \
             RETURNING id, tenant_id, priority, run_at, kind"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(self.db.clock.now().millis());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Asks a waiting parent, and every child of it not yet ended, to stop:
    /// queued children are cancelled at once, running ones asked at their
    /// next checkpoint, waiting ones (parents themselves) the same way down.
    /// The parent wakes, and ends cancelled, once its children have ended.
    pub(super) async fn cancel_family(&self, parent: JobId) -> Result<(), StoreError> {
        let now = self.db.clock.now().millis();
        let mut level = vec![parent.to_string()];
        while !level.is_empty() {
            let set = placeholders(2, level.len());
            let over_level = |sql: String| {
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
                for id in &level {
                    query = query.bind(id.clone());
                }
                query
            };
            over_level(format!(
                "UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id IN ({set})"
            ))
            .execute(&self.db.pool)
            .await?;
            over_level(format!(
                "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1 \
                 WHERE state = 'queued' AND child_weight IS NOT NULL AND parent_id IN ({set})"
            ))
            .execute(&self.db.pool)
            .await?;
            // Bound like the others, this one leaves its $1 unused.
            let below = over_level(format!(
                "SELECT id FROM jobs WHERE state IN ('running', 'waiting') \
                 AND child_weight IS NOT NULL AND parent_id IN ({set})"
            ))
            .fetch_all(&self.db.pool)
            .await?;
            level = below
                .iter()
                .map(|row| row.try_get::<String, _>("id"))
                .collect::<Result<_, _>>()?;
        }
        Ok(())
    }
}

/// Which waiting parents a wake looks at.
enum Among<'a> {
    /// These.
    Ids(&'a [JobId]),
    /// The longest-waiting of those with no child left to end, at most
    /// this many.
    Oldest(u32),
}

/// What a retry sent back to the queue.
pub(in crate::db) struct Retried {
    /// The retried job, as it is now.
    pub job: Job,
    /// The entries to push.
    pub entries: Vec<QueueEntry>,
    /// The workflow jobs at work again (the retried job first, when it is
    /// one), whose client-visible state goes back to "at work".
    pub reopened: Vec<(JobId, JobKind)>,
}

/// Retries the failed or cancelled job `id` of `tenant` in `tx`: a parent
/// whose children failed gets those children queued again and waits for
/// them; any other job is queued again itself. Either way, every ancestor
/// that had ended is reopened: it waits again. `None` when the job is not
/// failed or cancelled.
pub(in crate::db) async fn retry_in(
    tx: &mut AnyConnection,
    tenant: TenantId,
    id: JobId,
    now: Timestamp,
) -> Result<Option<Retried>, StoreError> {
    let Some(job) = select_job(&mut *tx, tenant, id).await? else {
        return Ok(None);
    };
    if !matches!(job.state, JobState::Failed | JobState::Cancelled) {
        return Ok(None);
    }
    let failed = sqlx::query(
        "SELECT id FROM jobs WHERE parent_id = $1 AND child_weight IS NOT NULL \
         AND state IN ('failed', 'cancelled')",
    )
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut entries = Vec::new();
    if failed.is_empty() {
        entries.extend(reset(tx, &job.id.to_string(), Again::Run, now).await?);
    } else {
        for row in &failed {
            let child: String = row.try_get("id")?;
            entries.extend(reset(tx, &child, Again::Run, now).await?);
        }
        reset(tx, &job.id.to_string(), Again::Wait, now).await?;
    }
    let mut reopened = vec![(job.id, job.kind)];
    reopened.extend(reopen_ancestors(tx, job.parent_id, now).await?);
    let job = select_job(&mut *tx, tenant, id).await?;
    let job = job.ok_or_else(|| StoreError::Corrupt("a retried job vanished".into()))?;
    Ok(Some(Retried {
        job,
        entries,
        reopened,
    }))
}

/// The assignments that put an ended job back to work (see [`reset`]):
/// state `$1` and time `$2`.
pub(in crate::db) const AGAIN: &str = "state = $1, run_at = $2, updated_at = $2, \
     max_attempts = attempts + attempt_budget, \
     finished_at = NULL, error_code = NULL, error_message = NULL, result = NULL, \
     cancel_requested = 0, callback_job_id = NULL, \
     progress = CASE WHEN $1 = 'queued' THEN 0 ELSE progress END";

/// How an ended job goes back to work.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Again {
    /// Queued, to run.
    Run,
    /// Waiting for its children.
    Wait,
}

/// Puts the ended job `id` back to work with a fresh budget of attempts
/// and its end forgotten. Attempts keep counting up, so a late report of an
/// old attempt never matches the new one. Returns the entry to push when it
/// is queued.
async fn reset(
    tx: &mut AnyConnection,
    id: &str,
    again: Again,
    now: Timestamp,
) -> Result<Option<QueueEntry>, StoreError> {
    let state = match again {
        Again::Run => JobState::Queued,
        Again::Wait => JobState::Waiting,
    };
    let sql = format!(
        "UPDATE jobs SET {AGAIN} WHERE id = $3 AND state IN {ENDED} \
         RETURNING id, tenant_id, priority, run_at, kind"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(state.as_str())
        .bind(now.millis())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some(row) if again == Again::Run => Ok(Some(entry_from_row(&row)?)),
        _ => Ok(None),
    }
}

/// Reopens every ancestor from `parent` up that had ended: a retried child
/// means its parent is at work again. Returns those reopened.
async fn reopen_ancestors(
    tx: &mut AnyConnection,
    mut parent: Option<JobId>,
    now: Timestamp,
) -> Result<Vec<(JobId, JobKind)>, StoreError> {
    let mut reopened = Vec::new();
    while let Some(id) = parent {
        let row =
            sqlx::query("SELECT kind, parent_id, state, child_weight FROM jobs WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { break };
        let state: String = row.try_get("state")?;
        if !JobState::parse(&state).is_some_and(JobState::is_final) {
            break;
        }
        reset(tx, &id.to_string(), Again::Wait, now).await?;
        reopened.push((id, parse_kind(row.try_get("kind")?)?));
        let is_child = row.try_get::<Option<f64>, _>("child_weight")?.is_some();
        parent = match row.try_get::<Option<String>, _>("parent_id")? {
            Some(_) if is_child => Some(parse_id(&row, "parent_id", JobId::parse)?),
            _ => None,
        };
    }
    Ok(reopened)
}
