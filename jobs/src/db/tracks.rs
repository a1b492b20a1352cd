//! Track rows: recorded with their workflow's first jobs in one
//! transaction, described once ingest has passed, and ended by one write
//! (`workflow::track` says when).

mod fingerprints;
mod outputs;

use serde::{Serialize, de::DeserializeOwned};
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{
    Conn, StoreError,
    jobs::{record_start, select_children},
    rows::{parse_error, parse_id, parse_opt_id},
};
use crate::{
    ids::{JobId, TenantId, TrackId},
    kind::JobKind,
    model::{Job, JobError},
    objects::ObjectKey,
    time::Timestamp,
    tracks::{
        AnalysisRecord, NewTrack, TrackMetadata, TrackOutcome, TrackRecord, TrackResult,
        TrackState, original_key,
    },
    workflow::Start,
};

pub use self::outputs::AddedOutputs;

/// A track whose processing started: it, its workflow's `track` job, and
/// the jobs that run first (to push).
#[derive(Debug, Clone)]
pub struct Started {
    /// The track.
    pub track: TrackRecord,
    /// Its workflow's job, waiting for its children.
    pub workflow: Job,
    /// The children that run first (ingest).
    pub children: Vec<Job>,
}

/// The answer to completing a presigned upload.
#[derive(Debug, Clone)]
pub enum CompleteOutcome {
    /// Processing starts; push the children.
    Started(Started),
    /// It was completed before: the same track and its ingest job, nothing to push.
    AlreadyStarted(TrackRecord, Job),
    /// Its time ran out.
    Expired,
    /// No such upload for this tenant.
    NotFound,
}

/// The columns every track query selects.
const TRACK_COLUMNS: &str = "id, tenant_id, state, error_code, error_message, title, owner_id, \
     callback_url, presets, original_key, original_size, upload_expires_at, job_id, metadata, \
     cover_key, loudness, outputs, waveform, analysis, duplicate_of, created_at, updated_at";

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("track values serialize")
}

fn parse_json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("tracks.{column}: {e}")))
    })
    .transpose()
}

fn parse_key(row: &AnyRow, column: &str) -> Result<Option<ObjectKey>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        ObjectKey::new(t).ok_or_else(|| StoreError::Corrupt(format!("tracks.{column}: bad key")))
    })
    .transpose()
}

fn parse_opt_track(row: &AnyRow, column: &str) -> Result<Option<TrackId>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        TrackId::parse(&t).ok_or_else(|| StoreError::Corrupt(format!("tracks.{column}: {t:?}")))
    })
    .transpose()
}

fn track_from_row(row: &AnyRow) -> Result<TrackRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let loudness = parse_json(row, "loudness")?;
    let outputs = parse_json(row, "outputs")?;
    let waveform = parse_json(row, "waveform")?;
    let analysis = parse_json(row, "analysis")?;
    Ok(TrackRecord {
        id: parse_id(row, "id", TrackId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        state: TrackState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown track state {state:?}")))?,
        error: parse_error(row)?,
        title: row.try_get("title")?,
        owner_id: row.try_get("owner_id")?,
        callback_url: row.try_get("callback_url")?,
        presets: parse_json(row, "presets")?
            .ok_or_else(|| StoreError::Corrupt("tracks.presets is null".into()))?,
        original_key: parse_key(row, "original_key")?
            .ok_or_else(|| StoreError::Corrupt("tracks.original_key is null".into()))?,
        original_size: row
            .try_get::<Option<i64>, _>("original_size")?
            .map(|n| n.max(0) as u64),
        upload_expires_at: row
            .try_get::<Option<i64>, _>("upload_expires_at")?
            .map(Timestamp::from_millis),
        job_id: parse_opt_id(row, "job_id")?,
        metadata: parse_json(row, "metadata")?,
        cover_key: parse_key(row, "cover_key")?,
        result: loudness
            .zip(outputs)
            .zip(waveform)
            .map(|((loudness, outputs), waveform)| TrackResult {
                loudness,
                outputs,
                waveform,
                analysis,
            }),
        duplicate_of: parse_opt_track(row, "duplicate_of")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

/// The tracks table.
#[derive(Debug, Clone)]
pub struct TrackRepo {
    db: Conn,
}

impl TrackRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    async fn insert_track(
        &self,
        new: &NewTrack,
        size: Option<u64>,
        state: TrackState,
        job: Option<&Job>,
        expires: Option<Timestamp>,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<TrackRecord, StoreError> {
        let now = self.db.clock.now().millis();
        let sql = format!(
            "INSERT INTO tracks (id, tenant_id, state, title, owner_id, callback_url, presets, \
             original_key, original_size, upload_expires_at, job_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             RETURNING {TRACK_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(new.id.to_string())
            .bind(new.tenant_id.to_string())
            .bind(state.as_str())
            .bind(new.title.clone())
            .bind(new.owner_id.clone())
            .bind(new.callback_url.clone())
            .bind(json(&new.presets))
            .bind(original_key(new.tenant_id, new.id).to_string())
            .bind(size.map(|n| n as i64))
            .bind(expires.map(Timestamp::millis))
            .bind(job.map(|j| j.id.to_string()))
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
        track_from_row(&row)
    }

    /// Records a track whose original is stored (`size` bytes), `processing`,
    /// together with its workflow's first jobs (`start`): all or nothing.
    pub async fn create(
        &self,
        new: &NewTrack,
        size: u64,
        start: &Start,
    ) -> Result<Started, StoreError> {
        let mut tx = self.db.begin().await?;
        let (workflow, children) = record_start(&mut tx, start, self.db.clock.now()).await?;
        let track = self
            .insert_track(
                new,
                Some(size),
                TrackState::Processing,
                Some(&workflow),
                None,
                &mut tx,
            )
            .await?;
        tx.commit().await?;
        Ok(Started {
            track,
            workflow,
            children,
        })
    }

    /// Records a track whose original a presigned upload will bring before
    /// `expires`.
    pub async fn create_upload(
        &self,
        new: &NewTrack,
        expires: Timestamp,
    ) -> Result<TrackRecord, StoreError> {
        let mut conn = self.db.pool.acquire().await?;
        self.insert_track(
            new,
            None,
            TrackState::Uploaded,
            None,
            Some(expires),
            &mut conn,
        )
        .await
    }

    /// Starts processing a presigned upload whose original is stored (`size`
    /// bytes) with its workflow (`start`), once; completing it again answers
    /// the same track and ingest job.
    pub async fn complete_upload(
        &self,
        tenant: TenantId,
        id: TrackId,
        size: u64,
        start: &Start,
    ) -> Result<CompleteOutcome, StoreError> {
        let Some(track) = self.get(tenant, id).await? else {
            return Ok(CompleteOutcome::NotFound);
        };
        if track.state != TrackState::Uploaded {
            return self.already_started(track).await;
        }
        if track
            .upload_expires_at
            .is_some_and(|at| at < self.db.clock.now())
        {
            return Ok(CompleteOutcome::Expired);
        }
        let mut tx = self.db.begin().await?;
        let (workflow, children) = record_start(&mut tx, start, self.db.clock.now()).await?;
        let sql = format!(
            "UPDATE tracks SET state = 'processing', job_id = $1, upload_expires_at = NULL, \
             updated_at = $2, original_size = $5 WHERE id = $3 AND tenant_id = $4 \
             AND state = 'uploaded' RETURNING {TRACK_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(workflow.id.to_string())
            .bind(self.db.clock.now().millis())
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(size as i64)
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            Some(row) => {
                let track = track_from_row(&row)?;
                tx.commit().await?;
                Ok(CompleteOutcome::Started(Started {
                    track,
                    workflow,
                    children,
                }))
            }
            // Another request completed it first: keep its jobs, drop ours.
            None => {
                tx.rollback().await?;
                let track = self.get(tenant, id).await?;
                let track = track.ok_or_else(|| StoreError::Corrupt("track vanished".into()))?;
                self.already_started(track).await
            }
        }
    }

    async fn already_started(&self, track: TrackRecord) -> Result<CompleteOutcome, StoreError> {
        let jobs = self.jobs(&track).await?;
        let ingest = jobs.into_iter().find(|j| j.kind == JobKind::Ingest);
        let ingest =
            ingest.ok_or_else(|| StoreError::Corrupt("a started track has no ingest".into()))?;
        Ok(CompleteOutcome::AlreadyStarted(track, ingest))
    }

    /// The tenant's track `id`; `None` when it does not exist or is another
    /// tenant's.
    pub async fn get(
        &self,
        tenant: TenantId,
        id: TrackId,
    ) -> Result<Option<TrackRecord>, StoreError> {
        let sql = format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE id = $1 AND tenant_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(track_from_row).transpose()
    }

    /// The track's jobs so far (its workflow's children), ingest first.
    pub async fn jobs(&self, track: &TrackRecord) -> Result<Vec<Job>, StoreError> {
        match track.job_id {
            Some(workflow) => select_children(&self.db.pool, workflow).await,
            None => Ok(Vec::new()),
        }
    }

    /// Stores what ingest learned about the track's original.
    pub async fn describe(
        &self,
        tenant: TenantId,
        id: TrackId,
        metadata: &TrackMetadata,
        cover: Option<&ObjectKey>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tracks SET metadata = $1, cover_key = $2, updated_at = $3 \
             WHERE id = $4 AND tenant_id = $5",
        )
        .bind(json(metadata))
        .bind(cover.map(ToString::to_string))
        .bind(self.db.clock.now().millis())
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Stores how the track's processing ended, whole, in one statement:
    /// ready with its loudness, outputs, waveform and analysis, or failed with why.
    pub async fn finish(
        &self,
        tenant: TenantId,
        id: TrackId,
        outcome: &TrackOutcome,
    ) -> Result<(), StoreError> {
        let (result, error): (Option<&TrackResult>, Option<&JobError>) = match outcome {
            TrackOutcome::Ready(result) => (Some(result), None),
            TrackOutcome::Failed(error) => (None, Some(error)),
        };
        let analysis = result.and_then(|r| r.analysis.as_deref());
        sqlx::query(
            "UPDATE tracks SET state = $1, error_code = $2, error_message = $3, loudness = $4, \
             outputs = $5, waveform = $6, updated_at = $7, analysis = $10, duplicate_of = $11 \
             WHERE id = $8 AND tenant_id = $9",
        )
        .bind(outcome.state().as_str())
        .bind(error.map(|e| e.code.as_str()))
        .bind(error.map(|e| e.message.clone()))
        .bind(result.map(|r| json(&r.loudness)))
        .bind(result.map(|r| json(&r.outputs)))
        .bind(result.map(|r| json(&r.waveform)))
        .bind(self.db.clock.now().millis())
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(analysis.map(json))
        .bind(
            analysis
                .and_then(AnalysisRecord::duplicate_of)
                .map(|t| t.to_string()),
        )
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` presigned uploads whose time ran out before `before`
    /// without being completed.
    pub async fn expired_uploads(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<TrackRecord>, StoreError> {
        let sql = format!(
            "SELECT {TRACK_COLUMNS} FROM tracks WHERE state = 'uploaded' \
             AND upload_expires_at < $1 ORDER BY upload_expires_at LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(before.millis())
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(track_from_row).collect()
    }

    /// Forgets a presigned upload that expired uncompleted; false when it was
    /// completed after all (then it stays).
    pub async fn delete_expired_upload(&self, id: TrackId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM tracks WHERE id = $1 AND state = 'uploaded' AND upload_expires_at < $2",
        )
        .bind(id.to_string())
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Puts the track of workflow job `workflow` back to `processing`, its
/// earlier end forgotten: a retry reopened the workflow.
pub(in crate::db) async fn reopen(
    tx: &mut sqlx::AnyConnection,
    workflow: JobId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE tracks SET state = 'processing', error_code = NULL, error_message = NULL, \
         updated_at = $1 WHERE job_id = $2",
    )
    .bind(now.millis())
    .bind(workflow.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
