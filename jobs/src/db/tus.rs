//! Resumable upload rows: the upload, its lock, and the parts the object
//! store acknowledged, whose sizes (with the tail's) make its offset.

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{Conn, StoreError, rows::parse_id};
use crate::{
    ids::{TenantId, TrackId},
    objects::{MultipartId, ObjectKey, StoredPart},
    time::Timestamp,
    tus::{Tail, TusUpload, UploadKind, UploadState},
};

/// The columns every upload query selects; the offset is summed from the
/// recorded parts each time, never kept as a counter.
const UPLOAD_COLUMNS: &str = "u.id, u.tenant_id, u.kind, u.state, u.length, u.metadata, u.partials, \
     u.data_key, u.multipart_id, u.tail_key, u.tail_size, u.expires_at, u.created_at, \
     CAST(COALESCE((SELECT SUM(p.size) FROM resumable_parts p WHERE p.upload_id = u.id), 0) \
     AS BIGINT) AS stored, \
     (SELECT COUNT(*) FROM resumable_parts p WHERE p.upload_id = u.id) AS part_count";

/// Whether what a PATCH received was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It counts now.
    Stored,
    /// The lock was lost (it ran out and another request took it): nothing
    /// was recorded.
    LockLost,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("resumable upload {what} {value:?}"))
}

fn parse_key(text: String) -> Result<ObjectKey, StoreError> {
    ObjectKey::new(text.clone()).ok_or_else(|| corrupt("key", &text))
}

/// A final upload's partial ids as stored; `NULL` for the other uploads.
fn partials_column(partials: &[TrackId]) -> Option<String> {
    let ids: Vec<String> = partials.iter().map(TrackId::to_string).collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

fn upload_from_row(row: &AnyRow) -> Result<TusUpload, StoreError> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let tail = match row.try_get::<Option<String>, _>("tail_key")? {
        Some(key) => Some(Tail {
            key: parse_key(key)?,
            size: row.try_get::<i64, _>("tail_size")?.max(0) as u64,
        }),
        None => None,
    };
    Ok(TusUpload {
        id: parse_id(row, "id", TrackId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        kind: UploadKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        state: UploadState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        length: row
            .try_get::<Option<i64>, _>("length")?
            .map(|n| n.max(0) as u64),
        metadata: row.try_get("metadata")?,
        partials: row
            .try_get::<Option<String>, _>("partials")?
            .unwrap_or_default()
            .split_whitespace()
            .map(|id| {
                TrackId::parse(id)
                    .ok_or_else(|| StoreError::Corrupt(format!("partials {id:?} is not an id")))
            })
            .collect::<Result<_, _>>()?,
        data_key: parse_key(row.try_get("data_key")?)?,
        multipart: MultipartId(row.try_get("multipart_id")?),
        tail,
        stored: row.try_get::<i64, _>("stored")?.max(0) as u64,
        parts: u32::try_from(row.try_get::<i64, _>("part_count")?).unwrap_or(u32::MAX),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

/// Resumable uploads.
#[derive(Debug, Clone)]
pub struct TusRepo {
    db: Conn,
}

impl TusRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Records a new upload (no parts, no tail).
    pub async fn create(&self, upload: &TusUpload) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO resumable_uploads (id, tenant_id, kind, state, length, metadata, \
             partials, data_key, multipart_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(upload.id.to_string())
        .bind(upload.tenant_id.to_string())
        .bind(upload.kind.as_str())
        .bind(upload.state.as_str())
        .bind(upload.length.map(|n| n as i64))
        .bind(upload.metadata.clone())
        .bind(partials_column(&upload.partials))
        .bind(upload.data_key.to_string())
        .bind(upload.multipart.0.clone())
        .bind(upload.expires_at.millis())
        .bind(upload.created_at.millis())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The tenant's upload `id`; `None` when there is none or it is another
    /// tenant's.
    pub async fn get(
        &self,
        tenant: TenantId,
        id: TrackId,
    ) -> Result<Option<TusUpload>, StoreError> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM resumable_uploads u WHERE u.id = $1 AND u.tenant_id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    /// Takes the upload's lock for `token` until `until`, unless another
    /// holds it and its time has not run out.
    pub async fn lock(
        &self,
        id: TrackId,
        token: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE resumable_uploads SET lock_token = $1, locked_until = $2 WHERE id = $3 \
             AND (lock_token IS NULL OR lock_token = $1 OR locked_until < $4)",
        )
        .bind(token)
        .bind(until.millis())
        .bind(id.to_string())
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lock back, if `token` still holds it.
    pub async fn unlock(&self, id: TrackId, token: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE resumable_uploads SET lock_token = NULL, locked_until = NULL \
             WHERE id = $1 AND lock_token = $2",
        )
        .bind(id.to_string())
        .bind(token)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Records stored `parts`, the new `tail` and a length the client had
    /// deferred, in one transaction, if `token` still holds the lock.
    pub async fn record(
        &self,
        id: TrackId,
        token: &str,
        parts: &[StoredPart],
        tail: Option<&Tail>,
        length: Option<u64>,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.db.begin().await?;
        let updated = sqlx::query(
            "UPDATE resumable_uploads SET tail_key = $1, tail_size = $2, \
             length = COALESCE(length, $3) WHERE id = $4 AND lock_token = $5",
        )
        .bind(tail.map(|t| t.key.to_string()))
        .bind(tail.map_or(0, |t| t.size as i64))
        .bind(length.map(|n| n as i64))
        .bind(id.to_string())
        .bind(token)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Recorded::LockLost);
        }
        for part in parts {
            sqlx::query(
                "INSERT INTO resumable_parts (upload_id, number, size, etag) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id, number) \
                 DO UPDATE SET size = excluded.size, etag = excluded.etag",
            )
            .bind(id.to_string())
            .bind(i64::from(part.number))
            .bind(part.size as i64)
            .bind(part.etag.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Recorded::Stored)
    }

    /// The recorded parts, in order.
    pub async fn parts(&self, id: TrackId) -> Result<Vec<StoredPart>, StoreError> {
        let rows = sqlx::query(
            "SELECT number, size, etag FROM resumable_parts WHERE upload_id = $1 ORDER BY number",
        )
        .bind(id.to_string())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredPart {
                    number: u32::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0),
                    size: row.try_get::<i64, _>("size")?.max(0) as u64,
                    etag: row.try_get("etag")?,
                })
            })
            .collect()
    }

    /// Moves the upload on to `state`.
    pub async fn set_state(&self, id: TrackId, state: UploadState) -> Result<(), StoreError> {
        sqlx::query("UPDATE resumable_uploads SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// How many of the tenant's uploads are still taking bytes.
    pub async fn in_flight(&self, tenant: TenantId) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM resumable_uploads \
             WHERE tenant_id = $1 AND state = 'receiving' AND expires_at > $2",
        )
        .bind(tenant.to_string())
        .bind(self.db.clock.now().millis())
        .fetch_one(&self.db.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
    }

    /// Up to `limit` uploads whose time ran out before `before`, but none a
    /// request still holds: a body streaming past the deadline finishes first.
    pub async fn expired(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<TusUpload>, StoreError> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM resumable_uploads u WHERE u.expires_at < $1 \
             AND (u.locked_until IS NULL OR u.locked_until < $1) \
             ORDER BY u.expires_at LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(before.millis())
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(upload_from_row).collect()
    }

    /// Forgets the upload and its parts.
    pub async fn delete(&self, id: TrackId) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM resumable_parts WHERE upload_id = $1",
            "DELETE FROM resumable_uploads WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
