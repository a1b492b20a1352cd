//! Job rows: accepting, reading, listing, cancelling and retrying; the
//! attempts' transitions are in `attempts`, recovery in `recovery`.
//!
//! Each transition is one conditional `UPDATE`: the `WHERE` clause names the
//! state (and, for a running job, the attempt) it expects, so a stale worker,
//! a duplicate delivery or a racing API replica changes nothing.

mod attempts;
mod family;
mod outbox;
mod recovery;

use std::{
    collections::{HashMap, HashSet},
    sync::LazyLock,
};

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

pub(in crate::db) use self::family::{
    AGAIN, AWAITED, Retried, record_start, retry_in, select_children,
};
pub use self::{
    attempts::{Claim, ClaimedJob, Finish, RecordedEnds},
    outbox::{Redelivery, due_callbacks_sql},
    recovery::RunningJob,
};
use super::{
    Conn, StoreError,
    rows::{JOB_COLUMNS, job_from_row, parse_id, parse_kind, parse_priority},
};
use crate::{
    ids::{JobId, TenantId},
    model::{Job, JobFilter, JobState, NewJob},
    queue::QueueEntry,
    schedules::Tick,
    time::Timestamp,
    workflow::Weight,
};

/// The answer to accepting a job.
#[derive(Debug, Clone)]
pub struct Inserted {
    /// The job, as stored.
    pub job: Job,
    /// False when an earlier request with the same idempotency key made it.
    pub created: bool,
}

/// The answer to a cancel request; the entries are parents it woke, to push.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// It was queued and will never run.
    Cancelled(Job, Vec<QueueEntry>),
    /// It is running (or waiting for children) and will stop at its next checkpoint.
    Requested(Job, Vec<QueueEntry>),
    /// It had already ended.
    AlreadyFinal(Job),
    /// No such job for this tenant.
    NotFound,
}

/// The answer to a retry request.
#[derive(Debug, Clone)]
pub enum RetryOutcome {
    /// It runs again (or waits for its children again); push these entries.
    Requeued(Job, Vec<QueueEntry>),
    /// It is not failed or cancelled.
    NotRetryable(Job),
    /// No such job for this tenant.
    NotFound,
}

/// The jobs table.
#[derive(Debug, Clone)]
pub struct JobRepo {
    db: Conn,
}

/// `$start, $start+1, …` for `count` binds.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a new job stands among its relatives.
#[derive(Debug, Clone, Copy)]
pub(in crate::db) enum Place {
    /// On its own: queued (its `parent_id`, if any, only names who made it).
    Alone,
    /// A workflow's parent: waiting from the start for the children it
    /// plans, which weigh this much in all.
    Parent(Weight),
    /// A child its parent waits for, with its share of the parent's work.
    Child(JobId, Weight),
    /// On its own, made by a schedule for one tick: a second job for the
    /// same tick is refused by the key (schedule_id, schedule_tick).
    Scheduled(Tick),
}

/// Rows a statement inserts at most: 19 binds a row stays under SQLite's
/// 32,766 and Postgres's 65,535 binds a statement.
const ROWS_PER_INSERT: usize = 1000;

/// Records `new` at `now` through `executor` (the pool, or a transaction
/// that records more with it); `None` when its idempotency key was used
/// before.
pub(in crate::db) async fn insert_job_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    new: &NewJob,
    place: Place,
    now: Timestamp,
) -> Result<Option<Job>, StoreError> {
    let mut rows = insert_job_rows(executor, &[(new, place)], now).await?;
    Ok(rows.pop().flatten())
}

/// The columns an insert binds, in order; `max_attempts` also fills
/// `attempt_budget`, which is therefore not bound on its own.
const INSERT_COLUMNS: &str = "id, tenant_id, kind, queue, state, payload, priority, max_attempts, \
     attempt_budget, run_at, created_at, updated_at, parent_id, callback_url, idempotency_key, \
     child_weight, planned_weight, schedule_id, schedule_tick, request_digest";
/// Binds a row of [`INSERT_COLUMNS`].
const BINDS_PER_ROW: usize = 19;

/// `INSERT … VALUES (…), … RETURNING id` of `rows` rows: a prefix of one
/// text made once for [`ROWS_PER_INSERT`] rows. Built per insert, a
/// placeholder at a time, it was a tenth of the API's instructions per job.
fn insert_sql(rows: usize) -> String {
    use std::fmt::Write as _;
    // The text of every row, and where each row's text ends.
    static ALL_ROWS: LazyLock<(String, Vec<usize>)> = LazyLock::new(|| {
        let mut text = format!("INSERT INTO jobs ({INSERT_COLUMNS}) VALUES ");
        let mut ends = Vec::with_capacity(ROWS_PER_INSERT);
        for row in 0..ROWS_PER_INSERT {
            let first = row * BINDS_PER_ROW + 1;
            text.push_str(if row == 0 { "(" } else { ", (" });
            // `max_attempts` ($first+7) is bound once and fills `attempt_budget` too.
            let binds = (first..first + 8)
                .chain(std::iter::once(first + 7))
                .chain(first + 8..first + BINDS_PER_ROW);
            for (i, bind) in binds.enumerate() {
                let comma = if i > 0 { ", " } else { "" };
                write!(text, "{comma}${bind}").expect("writing to a String");
            }
            text.push(')');
            ends.push(text.len());
        }
        (text, ends)
    });
    const RETURNING: &str = " ON CONFLICT DO NOTHING RETURNING id";
    let (text, ends) = &*ALL_ROWS;
    let end = ends[rows - 1];
    let mut sql = String::with_capacity(end + RETURNING.len());
    sql.push_str(&text[..end]);
    sql.push_str(RETURNING);
    sql
}

/// The job `new` becomes once recorded as `id` at `now` in `place`: what
/// its row holds, so that an insert needs to read back only which rows it
/// made.
fn recorded_job(new: &NewJob, place: Place, id: JobId, now: Timestamp) -> Job {
    let (state, parent_id) = match place {
        Place::Alone | Place::Scheduled(_) => (JobState::Queued, new.parent_id),
        Place::Parent(_) => (JobState::Waiting, new.parent_id),
        Place::Child(parent, _) => (JobState::Queued, Some(parent)),
    };
    Job {
        id,
        tenant_id: new.tenant_id,
        kind: new.payload.kind(),
        payload: new.payload.to_json(),
        state,
        priority: new.priority,
        attempts: 0,
        max_attempts: new.max_attempts.get(),
        progress: 0.0,
        run_at: new.run_at.unwrap_or(now).max(now),
        created_at: now,
        started_at: None,
        finished_at: None,
        result: None,
        error: None,
        parent_id,
        callback_url: new.callback_url.clone(),
        callback_job_id: None,
        cancel_requested: false,
        schedule: match place {
            Place::Scheduled(tick) => Some(tick),
            _ => None,
        },
    }
}

/// Records up to [`ROWS_PER_INSERT`] jobs at `now` in one statement through
/// `executor`; answers each in the order given, `None` where its
/// idempotency key was used before.
pub(in crate::db) async fn insert_job_rows<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    news: &[(&NewJob, Place)],
    now: Timestamp,
) -> Result<Vec<Option<Job>>, StoreError> {
    assert!(
        news.len() <= ROWS_PER_INSERT,
        "callers cut inserts to ROWS_PER_INSERT rows"
    );
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let jobs: Vec<Job> = news
        .iter()
        .map(|&(new, place)| recorded_job(new, place, JobId::new(), now))
        .collect();
    let mut query = sqlx::query(AssertSqlSafe(insert_sql(news.len())));
    for (&(new, place), job) in news.iter().zip(&jobs) {
        let (child_weight, planned) = match place {
            Place::Parent(planned) => (None, planned.get()),
            Place::Child(_, weight) => (Some(weight.get()), 0.0),
            Place::Alone | Place::Scheduled(_) => (None, 0.0),
        };
        query = query
            .bind(job.id.to_string())
            .bind(job.tenant_id.to_string())
            .bind(job.kind.as_str())
            .bind(job.kind.queue())
            .bind(job.state.as_str())
            .bind(job.payload.to_string())
            .bind(job.priority.get())
            .bind(job.max_attempts as i32)
            .bind(job.run_at.millis())
            .bind(job.created_at.millis())
            .bind(job.created_at.millis())
            .bind(job.parent_id.map(|id| id.to_string()))
            .bind(job.callback_url.clone())
            .bind(new.idempotency_key.clone())
            .bind(child_weight)
            .bind(planned)
            .bind(job.schedule.map(|t| t.schedule_id.to_string()))
            .bind(job.schedule.map(|t| t.at.millis()))
            .bind(new.request_digest.as_ref().map(|d| d.as_str().to_owned()));
    }
    let made: HashSet<JobId> = query
        .fetch_all(executor)
        .await?
        .iter()
        .map(|row| parse_id(row, "id", JobId::parse))
        .collect::<Result<_, _>>()?;
    Ok(jobs
        .into_iter()
        .map(|job| made.contains(&job.id).then_some(job))
        .collect())
}

/// Records `news` at `now` on `conn`, a statement per [`ROWS_PER_INSERT`],
/// and answers each in the order given: the job recorded, the one made
/// earlier under its key, or [`StoreError::KeyReused`] (with its index)
/// when that earlier job was made by a different request.
async fn insert_answering_each(
    conn: &mut sqlx::AnyConnection,
    news: &[NewJob],
    now: Timestamp,
) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
    let mut answers = Vec::with_capacity(news.len());
    for chunk in news.chunks(ROWS_PER_INSERT) {
        let rows: Vec<(&NewJob, Place)> = chunk.iter().map(|n| (n, Place::Alone)).collect();
        let recorded = insert_job_rows(&mut *conn, &rows, now).await?;
        let earlier = earlier_of(conn, chunk, &recorded).await?;
        for (new, job) in chunk.iter().zip(recorded) {
            let index = answers.len();
            answers.push(match job {
                Some(job) => Ok(Inserted { job, created: true }),
                None => {
                    // Looked up, not taken: two jobs of one chunk may share
                    // a key, and the second then answers the first.
                    let key = (new.tenant_id, new.idempotency_key.clone());
                    let (job, digest) = earlier
                        .get(&key)
                        .ok_or_else(|| StoreError::Corrupt("insert conflicted on no key".into()))?;
                    if same_request(new, digest.as_deref()) {
                        Ok(Inserted {
                            job: job.clone(),
                            created: false,
                        })
                    } else {
                        Err(StoreError::KeyReused { index })
                    }
                }
            });
        }
    }
    Ok(answers)
}

/// The jobs made earlier under the keys of the jobs of `news` that were
/// not `recorded`, with the digests of the requests that made them, by
/// tenant and key: one read per tenant.
async fn earlier_of(
    conn: &mut sqlx::AnyConnection,
    news: &[NewJob],
    recorded: &[Option<Job>],
) -> Result<HashMap<(TenantId, Option<String>), (Job, Option<String>)>, StoreError> {
    let mut keys: HashMap<TenantId, Vec<String>> = HashMap::new();
    for (new, job) in news.iter().zip(recorded) {
        if let (None, Some(key)) = (job, &new.idempotency_key) {
            keys.entry(new.tenant_id).or_default().push(key.clone());
        }
    }
    let mut earlier = HashMap::new();
    for (tenant, keys) in keys {
        let sql = format!(
            "SELECT {JOB_COLUMNS}, idempotency_key, request_digest FROM jobs \
             WHERE tenant_id = $1 AND idempotency_key IN ({})",
            placeholders(2, keys.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(tenant.to_string());
        for key in keys {
            query = query.bind(key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let key: String = row.try_get("idempotency_key")?;
            let digest: Option<String> = row.try_get("request_digest")?;
            earlier.insert((tenant, Some(key)), (job_from_row(&row)?, digest));
        }
    }
    Ok(earlier)
}

/// The digest of the request that recorded the tenant's job under `key`.
pub(in crate::db) async fn key_digest<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant: TenantId,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let sql = "SELECT request_digest FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2";
    let row = sqlx::query(sql)
        .bind(tenant.to_string())
        .bind(key.to_owned())
        .fetch_optional(executor)
        .await?;
    Ok(row
        .map(|r| r.try_get("request_digest"))
        .transpose()?
        .flatten())
}

/// Whether `new` asks for what the request recorded under its key with
/// `earlier` (its digest) asked for. A key without a digest on either side
/// (the fleet's own keys, rows older than digests) answers the first job.
pub(in crate::db) fn same_request(new: &NewJob, earlier: Option<&str>) -> bool {
    match (&new.request_digest, earlier) {
        (Some(digest), Some(earlier)) => digest.as_str() == earlier,
        _ => true,
    }
}

/// The tenant's job `id` through `executor`.
pub(in crate::db) async fn select_job<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant: TenantId,
    id: JobId,
) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

impl JobRepo {
    pub(in crate::db) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Records a new queued job, or returns the one made earlier with the same
    /// idempotency key by the same tenant.
    pub async fn insert(&self, new: &NewJob) -> Result<Inserted, StoreError> {
        let mut inserted = self.insert_many(std::slice::from_ref(new)).await?;
        Ok(inserted.pop().expect("one answer per job"))
    }

    /// Records new queued jobs, a statement per [`ROWS_PER_INSERT`], in one
    /// transaction, and answers each in the order given: the job recorded,
    /// or the one made earlier with the same idempotency key by the same
    /// tenant. A key that names an earlier, different request refuses them
    /// all ([`StoreError::KeyReused`]), and none is recorded.
    pub async fn insert_many(&self, news: &[NewJob]) -> Result<Vec<Inserted>, StoreError> {
        let answers = self.record(news, true).await?;
        answers.into_iter().collect()
    }

    /// Records new queued jobs of unrelated requests together, in one
    /// transaction, and answers each on its own: a key that names an
    /// earlier, different request refuses that job alone
    /// ([`StoreError::KeyReused`] with its index), and the others are
    /// recorded all the same.
    pub async fn insert_each(
        &self,
        news: &[NewJob],
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        self.record(news, false).await
    }

    /// Records `news` in one transaction and answers each; when
    /// `all_or_nothing`, a refused job leaves every job unrecorded.
    async fn record(
        &self,
        news: &[NewJob],
        all_or_nothing: bool,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        let now = self.db.clock.now();
        // Without keys nothing conflicts, nothing is refused, and one
        // statement is the whole write: it is its own transaction, and BEGIN
        // and COMMIT would only add two round trips to it.
        if news.len() <= ROWS_PER_INSERT && news.iter().all(|n| n.idempotency_key.is_none()) {
            let mut conn = self.db.pool.acquire().await?;
            return insert_answering_each(&mut conn, news, now).await;
        }
        let mut tx = self.db.begin().await?;
        let answers = insert_answering_each(&mut tx, news, now).await?;
        if !(all_or_nothing && answers.iter().any(Result::is_err)) {
            tx.commit().await?;
        }
        Ok(answers)
    }

    /// The tenant's job `id`; `None` when it does not exist or is another tenant's.
    pub async fn get(&self, tenant: TenantId, id: JobId) -> Result<Option<Job>, StoreError> {
        select_job(&self.db.pool, tenant, id).await
    }

    async fn fetch(&self, sql: String, binds: &[String]) -> Result<Option<Job>, StoreError> {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = query.bind(b.clone());
        }
        let row = query.fetch_optional(&self.db.pool).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The tenant's jobs, newest first, filtered and paged by `filter`; a
    /// parent waiting for its children counts as running.
    pub async fn list(&self, tenant: TenantId, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        // Added only when asked for rather than `$6 IS NULL OR …`, so that a
        // plan made once for every value still reads a schedule's jobs by its
        // index.
        let of_schedule = match filter.schedule {
            Some(_) => "AND schedule_id = $6",
            None => "",
        };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR state = $2 \
                  OR (CAST($2 AS TEXT) = 'running' AND state = 'waiting')) \
             AND (CAST($3 AS TEXT) IS NULL OR kind = $3) \
             AND (CAST($4 AS TEXT) IS NULL OR id < $4) {of_schedule} \
             ORDER BY id DESC LIMIT $5"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.kind.map(|k| k.as_str()))
            .bind(filter.before.map(|id| id.to_string()))
            .bind(i64::from(filter.limit));
        if let Some(schedule) = filter.schedule {
            query = query.bind(schedule.to_string());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Cancels a queued job at once, or asks a running one to stop at its
    /// next checkpoint. A parent is asked, whatever its state, since it
    /// must still run to store its workflow's end; a waiting one with all
    /// its children (`family`).
    pub async fn cancel(&self, tenant: TenantId, id: JobId) -> Result<CancelOutcome, StoreError> {
        let now = self.db.clock.now().millis();
        let binds = [id.to_string(), tenant.to_string()];
        let sql = format!(
            "UPDATE jobs SET state = 'cancelled', finished_at = {now}, updated_at = {now} \
             WHERE id = $1 AND tenant_id = $2 AND state = 'queued' AND NOT EXISTS \
             (SELECT 1 FROM jobs c WHERE c.parent_id = jobs.id AND c.child_weight IS NOT NULL) \
             RETURNING {JOB_COLUMNS}"
        );
        if let Some(job) = self.fetch(sql, &binds).await? {
            let wake = self
                .settle(&job.parent_id.into_iter().collect::<Vec<_>>())
                .await?;
            return Ok(CancelOutcome::Cancelled(job, wake));
        }
        let sql = format!(
            "UPDATE jobs SET cancel_requested = 1, updated_at = {now} \
             WHERE id = $1 AND tenant_id = $2 AND state IN ('queued', 'running', 'waiting') \
             RETURNING {JOB_COLUMNS}"
        );
        if let Some(job) = self.fetch(sql, &binds).await? {
            let mut wake = Vec::new();
            if job.state == JobState::Waiting {
                self.cancel_family(job.id).await?;
                wake = self.settle(&[job.id]).await?;
            }
            return Ok(CancelOutcome::Requested(job, wake));
        }
        Ok(match self.get(tenant, id).await? {
            Some(job) => CancelOutcome::AlreadyFinal(job),
            None => CancelOutcome::NotFound,
        })
    }
}

/// The queue entry of a row that selected `id, tenant_id, priority, run_at, kind`.
pub(in crate::db) fn entry_from_row(row: &AnyRow) -> Result<QueueEntry, StoreError> {
    Ok(QueueEntry {
        id: parse_id(row, "id", JobId::parse)?,
        tenant: parse_id(row, "tenant_id", TenantId::parse)?,
        queue: parse_kind(row.try_get("kind")?)?.queue().to_owned(),
        priority: parse_priority(row)?,
        run_at: Timestamp::from_millis(row.try_get("run_at")?),
    })
}
