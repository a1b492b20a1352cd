//! Activities and feeds: an activity recorded once with its fan-out job,
//! the chunk writes that put it into (or take it out of) followers' feeds,
//! and the feed reads.

use std::hash::{DefaultHasher, Hash, Hasher};

use sqlx::{
    AnyConnection, AssertSqlSafe, Row,
    any::AnyRow,
    postgres::{PgPool, PgPoolOptions},
};

use super::{
    Conn, Engine, StoreError,
    jobs::{Place, insert_job_row, key_digest, same_request, select_job},
    rows::{parse_id, parse_json, parse_opt_id, parse_user},
};
use crate::{
    ids::{ActivityId, JobId, TenantId},
    model::{Job, NewJob},
    payload::JobPayload,
    social::{
        Activity, FanoutPayload, FanoutResult, FeedItem, FeedRules, NewActivity, Spread, UserId,
    },
    time::Timestamp,
};

const ACTIVITY_COLUMNS: &str = "id, tenant_id, actor_id, verb, object_type, object_id, \
     occurred_at, data, job_id, created_at, deleted_at, retract_job_id";

/// A follower (of `f`, the follows row of the actor `$2` in tenant `$1`) who
/// blocks the actor, whom the actor blocks, or who mutes the actor. The
/// subquery does not depend on the row, so both engines read the actor's
/// exclusions once per statement into a hash and probe it per follower,
/// instead of three index probes per follower.
const EXCLUDED: &str = "(f.follower_id IN (\
     SELECT blocker_id FROM blocks WHERE tenant_id = $1 AND blocked_id = $2 \
     UNION ALL SELECT blocked_id FROM blocks WHERE tenant_id = $1 AND blocker_id = $2 \
     UNION ALL SELECT muter_id FROM mutes WHERE tenant_id = $1 AND muted_id = $2))";

/// An activity and its fan-out job as recorded, and whether this request
/// recorded them.
#[derive(Debug, Clone)]
pub struct Published {
    /// The activity.
    pub activity: Activity,
    /// The fan-out job that spreads it (or, after a deletion, takes it out).
    pub job: Job,
    /// Whether this request recorded them (else they were there before).
    pub created: bool,
}

/// A range of an actor's followers, `(after, upto]`, for one chunk job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerRange {
    /// Followers after this id (`None`: from the first).
    pub after: Option<UserId>,
    /// Followers up to and including this id (`None`: to the last).
    pub upto: Option<UserId>,
    /// Followers in the range when it was planned.
    pub count: u64,
}

/// A place in a feed: items before it are older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor {
    /// The last item's `occurred_at`.
    pub occurred_at: Timestamp,
    /// The last item's activity.
    pub activity_id: ActivityId,
}

/// One page of a feed, newest first.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// The items.
    pub items: Vec<FeedItem>,
    /// Where the next page starts, if there may be one.
    pub next: Option<FeedCursor>,
}

/// What one chunk did, and who got a row from it (for live events).
#[derive(Debug, Clone)]
pub struct ChunkWritten {
    /// The chunk's counts.
    pub result: FanoutResult,
    /// Followers whose row this run inserted.
    pub inserted: Vec<String>,
}

/// Activities and feed rows.
#[derive(Debug, Clone)]
pub struct FeedRepo {
    db: Conn,
    /// On Postgres, connections of its own for `COPY`, which the `Any`
    /// driver does not speak; opened on first use.
    copy: Option<PgPool>,
}

fn activity_from_row(row: &AnyRow) -> Result<Activity, StoreError> {
    let occurred_at = Timestamp::from_millis(row.try_get("occurred_at")?);
    let id = parse_id(row, "id", ActivityId::parse)?;
    Ok(Activity {
        id,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        occurred_at,
        item: item_from_row(row, id, occurred_at)?,
        job_id: parse_id(row, "job_id", JobId::parse)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        deleted_at: row
            .try_get::<Option<i64>, _>("deleted_at")?
            .map(Timestamp::from_millis),
        retract_job_id: parse_opt_id(row, "retract_job_id")?,
    })
}

/// The feed item of activity `id` from the activity columns of `row`
/// (`actor_id`, `verb`, `object_type`, `object_id`, `data`).
fn item_from_row(
    row: &AnyRow,
    id: ActivityId,
    occurred_at: Timestamp,
) -> Result<FeedItem, StoreError> {
    Ok(FeedItem {
        activity_id: id,
        actor_id: parse_user(row, "actor_id")?,
        verb: row.try_get("verb")?,
        object_type: row.try_get("object_type")?,
        object_id: row.try_get("object_id")?,
        occurred_at: occurred_at.to_rfc3339(),
        data: parse_json(row.try_get("data")?)?,
    })
}

async fn select_activity(
    conn: &mut AnyConnection,
    tenant: TenantId,
    clause: &str,
    binds: &[String],
) -> Result<Option<Activity>, StoreError> {
    let sql =
        format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE tenant_id = $1 AND {clause}");
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(tenant.to_string());
    for b in binds {
        query = query.bind(b.clone());
    }
    let row = query.fetch_optional(&mut *conn).await?;
    row.as_ref().map(activity_from_row).transpose()
}

/// `AND` clauses keeping a follower id (of `f`) in `(after, upto]`, with
/// their binds numbered from `first`.
fn range_clause(
    after: Option<&UserId>,
    upto: Option<&UserId>,
    first: usize,
) -> (String, Vec<String>) {
    let mut clause = String::new();
    let mut binds = Vec::new();
    if let Some(after) = after {
        clause.push_str(&format!(" AND f.follower_id > ${}", first + binds.len()));
        binds.push(after.as_str().to_owned());
    }
    if let Some(upto) = upto {
        clause.push_str(&format!(" AND f.follower_id <= ${}", first + binds.len()));
        binds.push(upto.as_str().to_owned());
    }
    (clause, binds)
}

/// The recipients of `activity` among its actor's followers in `(after,
/// upto]` — every one but the excluded, none once the activity is deleted —
/// as a `FROM … WHERE` over the follows row `f`: `$1` is the tenant, `$2`
/// the actor, `$3` the activity, then the binds returned.
fn recipients(after: Option<&UserId>, upto: Option<&UserId>) -> (String, Vec<String>) {
    let (clause, binds) = range_clause(after, upto, 4);
    let sql = format!(
        "FROM follows f WHERE f.tenant_id = $1 AND f.followee_id = $2 {clause} \
         AND NOT {EXCLUDED} \
         AND EXISTS (SELECT 1 FROM activities a WHERE a.id = $3 AND a.deleted_at IS NULL)"
    );
    (sql, binds)
}

/// The feed rows of `activity` for its [`recipients`] in `(after, upto]`,
/// written by one `INSERT … SELECT` that skips (unless `first`) the rows
/// already there; answers whom it wrote to.
async fn insert_rows(
    pool: &sqlx::AnyPool,
    activity: &Activity,
    after: Option<&UserId>,
    upto: Option<&UserId>,
    first: bool,
) -> Result<Vec<String>, StoreError> {
    let (from, binds) = recipients(after, upto);
    let occurred = 4 + binds.len();
    let sql = format!(
        "INSERT INTO feed_items (tenant_id, user_id, occurred_at, activity_id) \
         SELECT f.tenant_id, f.follower_id, ${occurred}, $3 {from} {} RETURNING user_id",
        if first { "" } else { "ON CONFLICT DO NOTHING" }
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(activity.tenant_id.to_string())
        .bind(activity.item.actor_id.as_str().to_owned())
        .bind(activity.id.to_string());
    for b in binds {
        query = query.bind(b);
    }
    let rows = query
        .bind(activity.occurred_at.millis())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("user_id")?))
        .collect()
}

/// The same rows as [`insert_rows`] on a first run, on Postgres, through
/// `COPY`: its batched inserts write each row for about a third of what an
/// `INSERT` costs. The recipients are read, then copied in, in one
/// transaction; a row already there fails the copy whole, and the next
/// attempt inserts what is missing.
async fn copy_rows(
    pool: &PgPool,
    activity: &Activity,
    after: Option<&UserId>,
    upto: Option<&UserId>,
) -> Result<Vec<String>, StoreError> {
    let (from, binds) = recipients(after, upto);
    let sql = format!("SELECT f.follower_id {from}");
    let mut tx = pool.begin().await?;
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(activity.tenant_id.to_string())
        .bind(activity.item.actor_id.as_str().to_owned())
        .bind(activity.id.to_string());
    for b in binds {
        query = query.bind(b);
    }
    let users: Vec<String> = query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if users.is_empty() {
        return Ok(users);
    }
    // User ids hold no tab, newline or backslash: they go in as they are.
    let tail = format!("\t{}\t{}\n", activity.occurred_at.millis(), activity.id);
    let tenant = activity.tenant_id.to_string();
    let mut data = String::with_capacity(users.len() * (tenant.len() + tail.len() + 16));
    for user in &users {
        data.push_str(&tenant);
        data.push('\t');
        data.push_str(user);
        data.push_str(&tail);
    }
    let mut copy = tx
        .copy_in_raw("COPY feed_items (tenant_id, user_id, occurred_at, activity_id) FROM STDIN")
        .await?;
    copy.send(data.as_bytes()).await?;
    copy.finish().await?;
    tx.commit().await?;
    Ok(users)
}

/// How many of `actor`'s followers are in `(after, upto]`, and how many
/// of those a fan-out leaves out.
async fn count_range<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant: TenantId,
    actor: &UserId,
    after: Option<&UserId>,
    upto: Option<&UserId>,
) -> Result<(u64, u64), StoreError> {
    let (clause, binds) = range_clause(after, upto, 3);
    let sql = format!(
        "SELECT COUNT(*) AS recipients, \
         COALESCE(SUM(CASE WHEN {EXCLUDED} THEN 1 ELSE 0 END), 0) AS skipped \
         FROM follows f WHERE f.tenant_id = $1 AND f.followee_id = $2 {clause}"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(actor.as_str().to_owned());
    for b in binds {
        query = query.bind(b);
    }
    let row = query.fetch_one(executor).await?;
    let count = |column: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    Ok((count("recipients")?, count("skipped")?))
}

/// Whether a chunk that gave `user` a row of `activity` trims their feed:
/// one recipient in `every`, spread evenly over users and activities.
fn trims(user: &str, activity: ActivityId, every: u32) -> bool {
    let mut hasher = DefaultHasher::new();
    (user, activity).hash(&mut hasher);
    hasher.finish().is_multiple_of(u64::from(every.max(1)))
}

impl FeedRepo {
    pub(in crate::db) fn new(db: Conn) -> Result<Self, StoreError> {
        let copy = match db.engine {
            Engine::Postgres => Some(
                PgPoolOptions::new()
                    .max_connections(4)
                    .connect_lazy(db.url.expose())?,
            ),
            Engine::Sqlite => None,
        };
        Ok(Self { db, copy })
    }

    /// Closes the connections of its own.
    pub(in crate::db) async fn close(&self) {
        if let Some(pg) = &self.copy {
            pg.close().await;
        }
    }

    /// Records `new` with its fan-out job (made by `job` from its payload)
    /// in one transaction. The same actor, verb and object while the first
    /// stands, or the job's idempotency key again, return the first.
    pub async fn publish(
        &self,
        new: &NewActivity,
        job: impl Fn(JobPayload) -> NewJob,
    ) -> Result<Published, StoreError> {
        let now = self.db.clock.now();
        let tenant = new.tenant_id;
        // Writes come first in each transaction, so that on SQLite it holds
        // the write lock from its start instead of failing to upgrade a read.
        let mut tx = self.db.begin().await?;
        let id = ActivityId::new();
        let payload = JobPayload::Fanout(FanoutPayload {
            activity_id: id,
            spread: Spread::Publish,
        });
        let new_job = job(payload);
        let Some(fanout) = insert_job_row(&mut *tx, &new_job, Place::Alone, now).await? else {
            let key = new_job.idempotency_key.clone().unwrap_or_default();
            let digest = key_digest(&mut *tx, tenant, &key).await?;
            if !same_request(&new_job, digest.as_deref()) {
                return Err(StoreError::KeyReused { index: 0 });
            }
            let clause = "job_id = (SELECT id FROM jobs WHERE tenant_id = $1 \
                 AND idempotency_key = $2)";
            let activity = select_activity(&mut tx, tenant, clause, &[key]).await?;
            let activity = activity.ok_or(StoreError::KeyReused { index: 0 })?;
            return self.existing(&mut tx, activity).await;
        };
        let sql = format!(
            "INSERT INTO activities (id, tenant_id, actor_id, verb, object_type, object_id, \
             occurred_at, data, job_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT DO NOTHING RETURNING {ACTIVITY_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(new.actor_id.as_str().to_owned())
            .bind(new.verb.clone())
            .bind(new.object_type.clone())
            .bind(new.object_id.clone())
            .bind(new.occurred_at.millis())
            .bind(new.data.to_string())
            .bind(fanout.id.to_string())
            .bind(now.millis())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            // Recorded before: the fan-out job goes with this transaction.
            tx.rollback().await?;
            let natural = "actor_id = $2 AND verb = $3 AND object_type = $4 AND object_id = $5 \
                 AND deleted_at IS NULL";
            let key = [
                new.actor_id.as_str().to_owned(),
                new.verb.clone(),
                new.object_type.clone(),
                new.object_id.clone(),
            ];
            let mut conn = self.db.pool.acquire().await?;
            let activity = select_activity(&mut conn, tenant, natural, &key).await?;
            let activity = activity.ok_or_else(|| {
                StoreError::Corrupt("an activity conflicted but is not there".into())
            })?;
            return self.existing(&mut conn, activity).await;
        };
        let activity = activity_from_row(&row)?;
        tx.commit().await?;
        Ok(Published {
            activity,
            job: fanout,
            created: true,
        })
    }

    async fn existing(
        &self,
        conn: &mut AnyConnection,
        activity: Activity,
    ) -> Result<Published, StoreError> {
        let job_id = activity.retract_job_id.unwrap_or(activity.job_id);
        let job = select_job(&mut *conn, activity.tenant_id, job_id).await?;
        let job =
            job.ok_or_else(|| StoreError::Corrupt(format!("activity {} has no job", activity.id)))?;
        Ok(Published {
            activity,
            job,
            created: false,
        })
    }

    /// The activity `id` of `tenant`, deleted or not.
    pub async fn activity(
        &self,
        tenant: TenantId,
        id: ActivityId,
    ) -> Result<Option<Activity>, StoreError> {
        let mut conn = self.db.pool.acquire().await?;
        select_activity(&mut conn, tenant, "id = $2", &[id.to_string()]).await
    }

    /// Deletes the activity `id` and records the fan-out (made by `job`)
    /// that takes it out of feeds, in one transaction; deleting it again
    /// returns the first deletion. `None` if the tenant has no such activity.
    pub async fn retract(
        &self,
        tenant: TenantId,
        id: ActivityId,
        job: impl Fn(JobPayload) -> NewJob,
    ) -> Result<Option<Published>, StoreError> {
        let now = self.db.clock.now();
        let mut tx = self.db.begin().await?;
        let payload = JobPayload::Fanout(FanoutPayload {
            activity_id: id,
            spread: Spread::Retract,
        });
        let new_job = NewJob {
            idempotency_key: None,
            ..job(payload)
        };
        let retraction = insert_job_row(&mut *tx, &new_job, Place::Alone, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a retraction's job conflicted".into()))?;
        let sql = format!(
            "UPDATE activities SET deleted_at = $3, retract_job_id = $4 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {ACTIVITY_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(now.millis())
            .bind(retraction.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            // No such activity, or deleted before: the job goes with this transaction.
            tx.rollback().await?;
            let mut conn = self.db.pool.acquire().await?;
            let activity = select_activity(&mut conn, tenant, "id = $2", &[id.to_string()]).await?;
            return match activity {
                Some(activity) => self.existing(&mut conn, activity).await.map(Some),
                None => Ok(None),
            };
        };
        let activity = activity_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(Published {
            activity,
            job: retraction,
            created: true,
        }))
    }

    /// `actor`'s followers cut into ranges of `chunk_size` by keyset, in
    /// id order; the last range is open so that it takes whoever follows
    /// after the plan with a later id.
    pub async fn follower_ranges(
        &self,
        tenant: TenantId,
        actor: &UserId,
        chunk_size: u32,
    ) -> Result<Vec<FollowerRange>, StoreError> {
        let mut ranges = Vec::new();
        let mut after: Option<UserId> = None;
        loop {
            let (clause, binds) = range_clause(after.as_ref(), None, 4);
            let sql = format!(
                "SELECT f.follower_id AS id FROM follows f WHERE f.tenant_id = $1 \
                 AND f.followee_id = $2 {clause} ORDER BY f.follower_id LIMIT 1 OFFSET $3"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql))
                .bind(tenant.to_string())
                .bind(actor.as_str().to_owned())
                .bind(i64::from(chunk_size) - 1);
            for b in binds {
                query = query.bind(b);
            }
            let row = query.fetch_optional(&self.db.pool).await?;
            let Some(row) = row else { break };
            let upto = parse_user(&row, "id")?;
            ranges.push(FollowerRange {
                after: after.take(),
                upto: Some(upto.clone()),
                count: u64::from(chunk_size),
            });
            after = Some(upto);
        }
        let (rest, _) = count_range(&self.db.pool, tenant, actor, after.as_ref(), None).await?;
        if rest > 0 || ranges.is_empty() {
            ranges.push(FollowerRange {
                after,
                upto: None,
                count: rest,
            });
        } else if let Some(last) = ranges.last_mut() {
            last.upto = None;
        }
        Ok(ranges)
    }

    /// Writes `activity`'s feed rows for its actor's followers in `(after,
    /// upto]`, skipping the excluded and the rows already there, in one
    /// statement; then trims some recipients' feeds as `rules` say. A
    /// `first` run (no earlier attempt of this range can have written) skips
    /// the check for existing rows, which costs about a fifth of the
    /// statement; should a row exist all the same, the key refuses it, the
    /// statement fails whole, and the next attempt checks.
    pub async fn write_chunk(
        &self,
        activity: &Activity,
        after: Option<&UserId>,
        upto: Option<&UserId>,
        rules: FeedRules,
        first: bool,
    ) -> Result<ChunkWritten, StoreError> {
        let tenant = activity.tenant_id;
        if activity.deleted_at.is_some() {
            return Ok(ChunkWritten {
                result: FanoutResult::default(),
                inserted: Vec::new(),
            });
        }
        let inserted = match (&self.copy, first) {
            (Some(pg), true) => copy_rows(pg, activity, after, upto).await?,
            _ => insert_rows(&self.db.pool, activity, after, upto, first).await?,
        };
        // Trims write, so they come first: on SQLite the transaction then
        // holds the write lock from its start.
        let mut tx = self.db.begin().await?;
        let trimmed: Vec<&String> = inserted
            .iter()
            .filter(|u| trims(u, activity.id, rules.trim_every))
            .collect();
        trim(&mut tx, tenant, &trimmed, rules.max_items).await?;
        let actor = &activity.item.actor_id;
        let (recipients, skipped) = count_range(&mut *tx, tenant, actor, after, upto).await?;
        tx.commit().await?;
        Ok(ChunkWritten {
            result: FanoutResult {
                recipients,
                written: recipients - skipped,
                skipped,
                removed: 0,
            },
            inserted,
        })
    }

    /// Deletes `activity`'s feed rows of its actor's followers in `(after,
    /// upto]`, in one statement.
    pub async fn retract_chunk(
        &self,
        activity: &Activity,
        after: Option<&UserId>,
        upto: Option<&UserId>,
    ) -> Result<FanoutResult, StoreError> {
        let (clause, binds) = range_clause(after, upto, 5);
        let sql = format!(
            "DELETE FROM feed_items WHERE tenant_id = $1 AND occurred_at = $3 AND activity_id = $4 \
             AND user_id IN (SELECT f.follower_id FROM follows f \
             WHERE f.tenant_id = $1 AND f.followee_id = $2 {clause})"
        );
        let mut tx = self.db.begin().await?;
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(activity.tenant_id.to_string())
            .bind(activity.item.actor_id.as_str().to_owned())
            .bind(activity.occurred_at.millis())
            .bind(activity.id.to_string());
        for b in binds {
            query = query.bind(b);
        }
        let removed = query.execute(&mut *tx).await?.rows_affected();
        let actor = &activity.item.actor_id;
        let (recipients, _) = count_range(&mut *tx, activity.tenant_id, actor, after, upto).await?;
        tx.commit().await?;
        Ok(FanoutResult {
            recipients,
            removed,
            ..FanoutResult::default()
        })
    }

    /// A page of `user`'s feed, newest first, before `cursor`. Items of
    /// deleted activities are left out even before their rows are gone.
    pub async fn feed(
        &self,
        tenant: TenantId,
        user: &UserId,
        cursor: Option<FeedCursor>,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        let before = if cursor.is_some() {
            "AND (f.occurred_at, f.activity_id) < ($4, $5)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT f.occurred_at AS at, f.activity_id AS aid, a.actor_id, a.verb, a.object_type, \
             a.object_id, a.data, a.deleted_at FROM feed_items f \
             LEFT JOIN activities a ON a.id = f.activity_id \
             WHERE f.tenant_id = $1 AND f.user_id = $2 {before} \
             ORDER BY f.occurred_at DESC, f.activity_id DESC LIMIT $3"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(user.as_str().to_owned())
            .bind(i64::from(limit) + 1);
        if let Some(c) = cursor {
            query = query
                .bind(c.occurred_at.millis())
                .bind(c.activity_id.to_string());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            let at = Timestamp::from_millis(row.try_get("at")?);
            let id = parse_id(row, "aid", ActivityId::parse)?;
            last = Some(FeedCursor {
                occurred_at: at,
                activity_id: id,
            });
            // An activity deleted (or, by a race, gone) is left out at once.
            let actor: Option<String> = row.try_get("actor_id")?;
            let deleted: Option<i64> = row.try_get("deleted_at")?;
            if actor.is_some() && deleted.is_none() {
                items.push(item_from_row(row, id, at)?);
            }
        }
        Ok(FeedPage {
            items,
            next: if more { last } else { None },
        })
    }
}

/// Deletes all but the newest `max_items` of each of `users`' feeds, one
/// statement a user: each binds tenant and user, so it is one index range
/// scan in one partition under a plan prepared once, whatever the
/// statistics (a statement over many users at once was planned per call,
/// or scanned the tenant's whole feed when statistics were missing).
async fn trim(
    tx: &mut AnyConnection,
    tenant: TenantId,
    users: &[&String],
    max_items: u32,
) -> Result<(), StoreError> {
    for user in users {
        sqlx::query(
            "DELETE FROM feed_items WHERE tenant_id = $1 AND user_id = $2 \
             AND (occurred_at, activity_id) <= (SELECT occurred_at, activity_id FROM feed_items \
             WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY occurred_at DESC, activity_id DESC LIMIT 1 OFFSET $3)",
        )
        .bind(tenant.to_string())
        .bind((*user).clone())
        .bind(i64::from(max_items))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
