//! Attempts: claiming queued jobs, recording how attempts ended (in
//! batches), progress, and the cancellation requests a worker picks up.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{JobRepo, family, placeholders};
use crate::{
    codes::ErrorCode,
    db::{
        StoreError,
        jobs::entry_from_row,
        rows::{non_negative, parse_id, parse_json, parse_kind, parse_opt_id, parse_priority},
    },
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    model::{JobError, JobState, Outcome, Priority},
    payload::JobPayload,
    queue::QueueEntry,
    time::Timestamp,
    workflow::Child,
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
    /// Whether someone asked it to stop before it was claimed (a parent
    /// woken after its children were cancelled).
    pub cancel_requested: bool,
    /// The job that made it.
    pub parent_id: Option<JobId>,
}

impl ClaimedJob {
    /// The kind of the job.
    pub fn kind(&self) -> JobKind {
        self.payload.kind()
    }
}

/// What a claim did.
#[derive(Debug, Default)]
pub struct Claim {
    /// The attempts to run.
    pub jobs: Vec<ClaimedJob>,
    /// Claimed jobs whose rows could not be read: ended `failed` at once.
    pub failed: Vec<JobId>,
    /// What those ends leave to push (a parent whose last child it was).
    pub push: Vec<QueueEntry>,
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
    /// are skipped: that is what makes duplicate deliveries harmless. An
    /// attempt starts at no progress, except a parent's: its progress is its
    /// children's, and must not drop while it decides what follows them.
    pub async fn claim(
        &self,
        ids: &[JobId],
        worker: &WorkerId,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        Ok(self.claim_batch(ids, worker).await?.jobs)
    }

    /// [`claim`](Self::claim), also telling what else the claim did: a
    /// claimed row whose payload does not parse ends that job `failed`
    /// (`invalid_payload`) at once, and never the batch it came in, which
    /// would be left `running` under a live worker that never runs it.
    pub async fn claim_batch(&self, ids: &[JobId], worker: &WorkerId) -> Result<Claim, StoreError> {
        if ids.is_empty() {
            return Ok(Claim::default());
        }
        let now = self.db.clock.now().millis();
        // The state is tested inside a CASE, where no index can serve it, so
        // the rows are found by their ids alone. A plain `state = 'queued'`
        // lets the planner, misled by statistics older than a burst of
        // enqueues, intersect the ids with every queued job's entry of the
        // (state, updated_at) index: 10 ms a claim at 150,000 queued jobs.
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $1, \
             updated_at = $1, worker_id = $2, \
             progress = CASE WHEN EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = jobs.id \
                AND c.child_weight IS NOT NULL) THEN progress ELSE 0 END \
             WHERE id IN ({}) AND CASE WHEN state = 'queued' THEN run_at <= $1 END \
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts, priority, run_at, \
             cancel_requested, parent_id",
            placeholders(3, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(worker.as_str().to_owned());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let mut claim = Claim::default();
        let mut unreadable = Vec::new();
        for row in &rows {
            match claimed_from_row(row) {
                Ok(job) => claim.jobs.push(job),
                Err(err) => unreadable.push(unreadable_end(row, &err)?),
            }
        }
        if !unreadable.is_empty() {
            let ended = self.record_ends(&unreadable).await?;
            claim.failed = ended.recorded;
            claim.push = ended.push;
        }
        Ok(claim)
    }

    /// Records the end of many attempts, the successes in one statement;
    /// returns what to push: jobs back for another attempt, children a
    /// parent now waits for, and parents whose last child just ended.
    pub async fn finish(&self, batch: &[Finish]) -> Result<Vec<QueueEntry>, StoreError> {
        Ok(self.record_ends(batch).await?.push)
    }

    /// [`finish`](Self::finish), also telling which ends were recorded:
    /// not those of attempts the store no longer counts as running (taken
    /// back from a worker thought dead).
    pub async fn record_ends(&self, batch: &[Finish]) -> Result<RecordedEnds, StoreError> {
        let (succeeded, others): (Vec<&Finish>, Vec<&Finish>) = batch
            .iter()
            .partition(|f| matches!(f.outcome, Outcome::Succeeded(_)));
        let (mut parents, mut recorded) = self.record_successes(&succeeded).await?;
        let mut push = Vec::new();
        for finish in others {
            let ended = self.record_other(finish).await?;
            push.extend(ended.push);
            parents.extend(ended.parent);
            recorded.extend(ended.recorded.then_some(finish.id));
        }
        parents.sort();
        parents.dedup();
        push.extend(self.settle(&parents).await?);
        Ok(RecordedEnds { push, recorded })
    }

    /// Returns the parents of the children that succeeded, and the jobs
    /// whose success was recorded.
    async fn record_successes(
        &self,
        batch: &[&Finish],
    ) -> Result<(Vec<JobId>, Vec<JobId>), StoreError> {
        let (mut parents, mut recorded) = (Vec::new(), Vec::new());
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
                 AND jobs.state = 'running' RETURNING jobs.id, jobs.parent_id, jobs.child_weight"
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
            for row in query.fetch_all(&self.db.pool).await? {
                parents.extend(awaiting_parent(&row)?);
                recorded.push(parse_id(&row, "id", JobId::parse)?);
            }
        }
        Ok((parents, recorded))
    }

    async fn record_other(&self, f: &Finish) -> Result<Ended, StoreError> {
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
            Outcome::Awaiting(children) => return self.record_awaiting(f, children).await,
            Outcome::Deferred(until) => return self.record_deferred(f, *until).await,
            Outcome::Succeeded(_) => return Ok(Ended::default()),
        };
        let finished_at = state.is_final().then_some(now.millis());
        let run_at = f.retry_at.unwrap_or(now);
        let sql = "UPDATE jobs SET state = $1, error_code = $2, error_message = $3, \
             finished_at = $4, run_at = $5, updated_at = $6, worker_id = NULL \
             WHERE id = $7 AND attempts = $8 AND state = 'running' \
             RETURNING id, tenant_id, priority, run_at, kind, parent_id, child_weight";
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
        let Some(row) = row else {
            return Ok(Ended::default());
        };
        if state == JobState::Queued {
            return Ok(Ended {
                push: vec![entry_from_row(&row)?],
                parent: None,
                recorded: true,
            });
        }
        Ok(Ended {
            push: Vec::new(),
            parent: awaiting_parent(&row)?,
            recorded: true,
        })
    }

    /// A parent's step ended by recording children: they and the parent's
    /// wait are written together; the parent itself is settled after, in
    /// case every child had already ended. A parent asked to stop meanwhile
    /// stops its new children at once.
    async fn record_awaiting(&self, f: &Finish, children: &[Child]) -> Result<Ended, StoreError> {
        let mut tx = self.db.begin().await?;
        let now = self.db.clock.now();
        let recorded = family::await_children(&mut tx, f.id, f.attempt, children, now).await?;
        tx.commit().await?;
        let Some((parent, jobs)) = recorded else {
            return Ok(Ended::default());
        };
        if parent.cancel_requested {
            self.cancel_family(parent.id).await?;
        }
        Ok(Ended {
            push: jobs.iter().map(QueueEntry::for_job).collect(),
            parent: Some(parent.id),
            recorded: true,
        })
    }

    /// An attempt that put its work off (what it needs was busy): the job
    /// waits in the queue until `until`, its attempt not counted. As with a
    /// drained worker's hand-back, the attempt number stays (it fences late
    /// reports) and the budget grows by one instead.
    async fn record_deferred(&self, f: &Finish, until: Timestamp) -> Result<Ended, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $2, worker_id = NULL, \
             max_attempts = max_attempts + 1 \
             WHERE id = $3 AND attempts = $4 AND state = 'running' \
             RETURNING id, tenant_id, priority, run_at, kind",
        )
        .bind(until.millis())
        .bind(self.db.clock.now().millis())
        .bind(f.id.to_string())
        .bind(i64::from(f.attempt))
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(Ended {
            recorded: row.is_some(),
            push: row
                .as_ref()
                .map(entry_from_row)
                .transpose()?
                .into_iter()
                .collect(),
            parent: None,
        })
    }

    /// Stores the progress of a running attempt (0 to 1), and so its
    /// parent's, when a parent waits for it.
    pub async fn set_progress(
        &self,
        id: JobId,
        attempt: u32,
        progress: f64,
    ) -> Result<(), StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET progress = $1 WHERE id = $2 AND attempts = $3 AND state = 'running' \
             RETURNING parent_id, child_weight",
        )
        .bind(progress.clamp(0.0, 1.0))
        .bind(id.to_string())
        .bind(i64::from(attempt))
        .fetch_optional(&self.db.pool)
        .await?;
        if let Some(parent) = row.as_ref().map(awaiting_parent).transpose()?.flatten() {
            // No wake: a parent wakes when its last child ends, and this one runs.
            self.refresh_progress(&[parent]).await?;
        }
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

/// What recording one end leaves to do.
#[derive(Default)]
struct Ended {
    /// Entries to push.
    push: Vec<QueueEntry>,
    /// A parent to settle.
    parent: Option<JobId>,
    /// Whether the end was recorded.
    recorded: bool,
}

/// What recording a batch of attempt ends did.
#[derive(Debug, Clone, Default)]
pub struct RecordedEnds {
    /// Entries to push: jobs back for another attempt, children a parent
    /// now waits for, parents whose last child just ended.
    pub push: Vec<QueueEntry>,
    /// The jobs whose end was recorded.
    pub recorded: Vec<JobId>,
}

/// The parent waiting for the job a row (`parent_id, child_weight`) names.
fn awaiting_parent(row: &AnyRow) -> Result<Option<JobId>, StoreError> {
    if row.try_get::<Option<f64>, _>("child_weight")?.is_none() {
        return Ok(None);
    }
    parse_opt_id(row, "parent_id")
}

/// The end of a claimed attempt whose row could not be read into a job.
fn unreadable_end(row: &AnyRow, err: &StoreError) -> Result<Finish, StoreError> {
    let message = format!("the job as stored cannot be run: {err}");
    Ok(Finish {
        id: parse_id(row, "id", JobId::parse)?,
        attempt: non_negative(row.try_get("attempts")?),
        outcome: Outcome::Failed {
            error: JobError::new(ErrorCode::InvalidPayload, message),
            retryable: false,
        },
        retry_at: None,
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
        priority: parse_priority(row)?,
        run_at: Timestamp::from_millis(row.try_get("run_at")?),
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        parent_id: parse_opt_id(row, "parent_id")?,
    })
}
