//! The social graph's rows: follows, blocks and mutes per tenant.

use sqlx::{AnyConnection, AssertSqlSafe, Connection, postgres::PgConnection};
use tokio::io::AsyncBufRead;

use super::{Conn, Engine, StoreError, rows::parse_user};
use crate::{
    ids::TenantId,
    social::{EdgeChanges, EdgeLines, ReadError, Relation, UserId},
    time::Timestamp,
};

/// Edges written or deleted per statement: two binds each, well under
/// both engines' limits on binds.
const BATCH: usize = 1000;

/// The table of a relation, the column of who holds it and the column of
/// whom it is held toward.
pub(in crate::db) fn columns(relation: Relation) -> (&'static str, &'static str, &'static str) {
    match relation {
        Relation::Follow => ("follows", "follower_id", "followee_id"),
        Relation::Block => ("blocks", "blocker_id", "blocked_id"),
        Relation::Mute => ("mutes", "muter_id", "muted_id"),
    }
}

/// Which side of a relation a list is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Who follows the user.
    Followers,
    /// Whom the user follows.
    Following,
}

/// Follows, blocks and mutes.
#[derive(Debug, Clone)]
pub struct GraphRepo {
    db: Conn,
}

impl GraphRepo {
    pub(in crate::db) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Applies `changes` as if in order (per pair the last one wins), all
    /// or nothing, in one transaction; returns how many changes there were.
    pub async fn apply(&self, tenant: TenantId, changes: &EdgeChanges) -> Result<u64, StoreError> {
        let now = self.db.clock.now();
        let net = changes.net();
        let mut tx = self.db.begin().await?;
        for relation in Relation::ALL {
            for (edges, set) in [(&net.set, Some(now)), (&net.removed, None)] {
                let pairs: Vec<(&UserId, &UserId)> = edges
                    .iter()
                    .filter(|e| e.0 == relation)
                    .map(|e| (e.1, e.2))
                    .collect();
                for batch in pairs.chunks(BATCH) {
                    write_edges(&mut tx, tenant, relation, batch, set).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(changes.len() as u64)
    }

    /// One page of a user's followers or followings, in id order, after
    /// `after` (a keyset cursor).
    pub async fn page(
        &self,
        tenant: TenantId,
        user: &UserId,
        side: Side,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        let (known, listed) = match side {
            Side::Followers => ("followee_id", "follower_id"),
            Side::Following => ("follower_id", "followee_id"),
        };
        let after_clause = if after.is_some() {
            format!("AND {listed} > $4")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {listed} AS id FROM follows WHERE tenant_id = $1 AND {known} = $2 \
             {after_clause} ORDER BY {listed} LIMIT $3"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(user.as_str().to_owned())
            .bind(i64::from(limit));
        if let Some(after) = after {
            query = query.bind(after.as_str().to_owned());
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(|row| parse_user(row, "id")).collect()
    }
}

/// Records `(from, to)` edges of `relation` (when `set` gives the time)
/// or deletes them, in one statement; recording an existing edge or deleting a missing one
/// changes nothing.
async fn write_edges(
    tx: &mut AnyConnection,
    tenant: TenantId,
    relation: Relation,
    pairs: &[(&UserId, &UserId)],
    set: Option<Timestamp>,
) -> Result<(), StoreError> {
    let (table, holder, target) = columns(relation);
    // `$1` is the tenant and, when recording, `$2` the time (in every row);
    // the pairs follow.
    let (first, lead) = if set.is_some() {
        (3, "$1, $2, ")
    } else {
        (2, "")
    };
    let values: Vec<String> = (0..pairs.len())
        .map(|i| format!("({lead}${}, ${})", first + 2 * i, first + 1 + 2 * i))
        .collect();
    let values = values.join(", ");
    let mut query = match set {
        Some(now) => sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (tenant_id, created_at, {holder}, {target}) VALUES {values} \
             ON CONFLICT DO NOTHING"
        )))
        .bind(tenant.to_string())
        .bind(now.millis()),
        None => sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND ({holder}, {target}) IN (VALUES {values})"
        )))
        .bind(tenant.to_string()),
    };
    for (from, to) in pairs {
        query = query
            .bind(from.as_str().to_owned())
            .bind(to.as_str().to_owned());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line of the file is bad: nothing was imported.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The database failed: nothing was imported.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

/// Bytes of COPY data sent at once.
const COPY_BUFFER: usize = 1 << 20;

impl GraphRepo {
    /// Loads every edge change of `lines` as `apply` would, all or nothing.
    /// On Postgres the lines stream through `COPY` into a temporary table
    /// and are applied from there in one statement per relation, so a graph
    /// of tens of millions of edges never sits in memory, and the graph's
    /// tables are vacuumed and analysed after; on SQLite the lines are read
    /// first, then applied.
    pub async fn import<R: AsyncBufRead + Unpin>(
        &self,
        tenant: TenantId,
        mut lines: EdgeLines<R>,
    ) -> Result<u64, ImportError> {
        if self.db.engine == Engine::Sqlite {
            let mut changes = EdgeChanges::default();
            while let Some(change) = lines.next().await? {
                changes.push(change);
            }
            return Ok(self.apply(tenant, &changes).await?);
        }
        let mut conn = PgConnection::connect(self.db.url.expose()).await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "CREATE TEMP TABLE graph_import (line BIGINT, relation SMALLINT, set_on BOOLEAN, \
             from_id TEXT, to_id TEXT) ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        let mut copy = tx.copy_in_raw("COPY graph_import FROM STDIN").await?;
        let mut buffer = Vec::with_capacity(COPY_BUFFER + 1024);
        let mut count = 0u64;
        loop {
            let change = match lines.next().await {
                Ok(Some(change)) => change,
                Ok(None) => break,
                Err(err) => {
                    copy.abort("the file has a bad line").await.ok();
                    return Err(err.into());
                }
            };
            count += 1;
            let relation = Relation::ALL.iter().position(|r| *r == change.relation);
            let on = if change.on { 't' } else { 'f' };
            // User ids hold no tab, newline or backslash: they go in as they are.
            let row = format!(
                "{count}\t{}\t{on}\t{}\t{}\n",
                relation.unwrap_or_default(),
                change.from,
                change.to
            );
            buffer.extend_from_slice(row.as_bytes());
            if buffer.len() >= COPY_BUFFER {
                copy.send(std::mem::take(&mut buffer)).await?;
            }
        }
        if !buffer.is_empty() {
            copy.send(buffer).await?;
        }
        copy.finish().await?;
        let now = self.db.clock.now().millis();
        for (index, relation) in Relation::ALL.into_iter().enumerate() {
            let (table, holder, target) = columns(relation);
            let last = format!(
                "(SELECT DISTINCT ON (from_id, to_id) from_id, to_id, set_on FROM graph_import \
                 WHERE relation = {index} ORDER BY from_id, to_id, line DESC) last"
            );
            let insert = format!(
                "INSERT INTO {table} (tenant_id, created_at, {holder}, {target}) \
                 SELECT $1, {now}, from_id, to_id FROM {last} WHERE set_on ON CONFLICT DO NOTHING"
            );
            let delete = format!(
                "DELETE FROM {table} t USING {last} WHERE NOT last.set_on AND t.tenant_id = $1 \
                 AND t.{holder} = last.from_id AND t.{target} = last.to_id"
            );
            for sql in [insert, delete] {
                sqlx::query(AssertSqlSafe(sql))
                    .bind(tenant.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        // A bulk load leaves the planner without statistics and the
        // visibility map unset, so the fan-out's keyset scans of followers
        // would read the table besides the index until autovacuum came by.
        sqlx::query("VACUUM (ANALYZE) follows, blocks, mutes")
            .execute(&mut conn)
            .await?;
        conn.close().await.ok();
        Ok(count)
    }
}
