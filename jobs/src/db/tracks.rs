//! Track rows: created with their ingest job in one transaction, described
//! by ingest together with the transcode job it spawns, and finished whole
//! by one statement.

use serde::{Serialize, de::DeserializeOwned};
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{
    Conn, StoreError,
    jobs::{insert_job_row, select_job},
    rows::{JOB_COLUMNS, job_from_row, parse_id},
};
use crate::{
    ids::{JobId, TenantId, TrackId},
    model::{Job, NewJob},
    objects::ObjectKey,
    time::Timestamp,
    tracks::{RecordedState, TrackMetadata, TrackPresets, TrackResult, original_key},
};

/// A track to be recorded.
#[derive(Debug, Clone)]
pub struct NewTrack {
    /// Its id, made by the API before the original is stored under it.
    pub id: TrackId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Title given at upload.
    pub title: Option<String>,
    /// The tenant's user who owns it.
    pub owner_id: Option<String>,
    /// Where to report the end of its processing.
    pub callback_url: Option<String>,
    /// The outputs it asks for.
    pub presets: TrackPresets,
}

/// A track as stored.
#[derive(Debug, Clone)]
pub struct TrackRecord {
    /// Its id.
    pub id: TrackId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// What the pipeline recorded.
    pub state: RecordedState,
    /// Title given at upload.
    pub title: Option<String>,
    /// The tenant's user who owns it.
    pub owner_id: Option<String>,
    /// Where to report the end of its processing.
    pub callback_url: Option<String>,
    /// The outputs it asks for.
    pub presets: TrackPresets,
    /// Where the original is.
    pub original_key: ObjectKey,
    /// Until when a presigned upload may be completed.
    pub upload_expires_at: Option<Timestamp>,
    /// The ingest job, once the original is there.
    pub ingest_job_id: Option<JobId>,
    /// The transcode job, once ingest has passed.
    pub transcode_job_id: Option<JobId>,
    /// What ingest learned.
    pub metadata: Option<TrackMetadata>,
    /// The embedded cover art.
    pub cover_key: Option<ObjectKey>,
    /// Loudness and outputs, once ready.
    pub result: Option<TrackResult>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl TrackRecord {
    /// The ids of its jobs so far, ingest first.
    pub fn job_ids(&self) -> Vec<JobId> {
        [self.ingest_job_id, self.transcode_job_id]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The answer to completing a presigned upload.
#[derive(Debug, Clone)]
pub enum CompleteOutcome {
    /// Processing starts with this ingest job; push it.
    Started(TrackRecord, Job),
    /// It was completed before: the same track and job, nothing to push.
    AlreadyStarted(TrackRecord, Job),
    /// Its time ran out.
    Expired,
    /// No such upload for this tenant.
    NotFound,
}

/// The columns every track query selects.
const TRACK_COLUMNS: &str = "id, tenant_id, state, title, owner_id, callback_url, presets, \
     original_key, upload_expires_at, ingest_job_id, transcode_job_id, metadata, cover_key, \
     loudness, outputs, waveform, created_at, updated_at";

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

fn track_from_row(row: &AnyRow) -> Result<TrackRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let optional_id = |column: &str| -> Result<Option<JobId>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| {
            JobId::parse(&t).ok_or_else(|| StoreError::Corrupt(format!("tracks.{column}")))
        })
        .transpose()
    };
    let loudness = parse_json(row, "loudness")?;
    let outputs = parse_json(row, "outputs")?;
    let waveform = parse_json(row, "waveform")?;
    Ok(TrackRecord {
        id: parse_id(row, "id", TrackId::parse)?,
        tenant_id: parse_id(row, "tenant_id", TenantId::parse)?,
        state: RecordedState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown track state {state:?}")))?,
        title: row.try_get("title")?,
        owner_id: row.try_get("owner_id")?,
        callback_url: row.try_get("callback_url")?,
        presets: parse_json(row, "presets")?
            .ok_or_else(|| StoreError::Corrupt("tracks.presets is null".into()))?,
        original_key: parse_key(row, "original_key")?
            .ok_or_else(|| StoreError::Corrupt("tracks.original_key is null".into()))?,
        upload_expires_at: row
            .try_get::<Option<i64>, _>("upload_expires_at")?
            .map(Timestamp::from_millis),
        ingest_job_id: optional_id("ingest_job_id")?,
        transcode_job_id: optional_id("transcode_job_id")?,
        metadata: parse_json(row, "metadata")?,
        cover_key: parse_key(row, "cover_key")?,
        result: loudness
            .zip(outputs)
            .zip(waveform)
            .map(|((loudness, outputs), waveform)| TrackResult {
                loudness,
                outputs,
                waveform,
            }),
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
        state: RecordedState,
        ingest: Option<&Job>,
        expires: Option<Timestamp>,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<TrackRecord, StoreError> {
        let now = self.db.clock.now().millis();
        let sql = format!(
            "INSERT INTO tracks (id, tenant_id, state, title, owner_id, callback_url, presets, \
             original_key, upload_expires_at, ingest_job_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {TRACK_COLUMNS}"
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
            .bind(expires.map(Timestamp::millis))
            .bind(ingest.map(|j| j.id.to_string()))
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
        track_from_row(&row)
    }

    /// Records a track whose original is stored, together with its ingest
    /// job: both or neither.
    pub async fn create(
        &self,
        new: &NewTrack,
        ingest: &NewJob,
    ) -> Result<(TrackRecord, Job), StoreError> {
        let mut tx = self.db.pool.begin().await?;
        let job = insert_job_row(&mut *tx, ingest, self.db.clock.now())
            .await?
            .ok_or_else(|| StoreError::Corrupt("an ingest job conflicted".into()))?;
        let track = self
            .insert_track(new, RecordedState::Processing, Some(&job), None, &mut tx)
            .await?;
        tx.commit().await?;
        Ok((track, job))
    }

    /// Records a track whose original a presigned upload will bring before
    /// `expires`.
    pub async fn create_upload(
        &self,
        new: &NewTrack,
        expires: Timestamp,
    ) -> Result<TrackRecord, StoreError> {
        let mut conn = self.db.pool.acquire().await?;
        self.insert_track(new, RecordedState::Uploaded, None, Some(expires), &mut conn)
            .await
    }

    /// Starts processing a presigned upload with `ingest`, once; completing
    /// it again answers the same track and job.
    pub async fn complete_upload(
        &self,
        tenant: TenantId,
        id: TrackId,
        ingest: &NewJob,
    ) -> Result<CompleteOutcome, StoreError> {
        let Some(track) = self.get(tenant, id).await? else {
            return Ok(CompleteOutcome::NotFound);
        };
        if track.state != RecordedState::Uploaded {
            return self.already_started(track).await;
        }
        if track
            .upload_expires_at
            .is_some_and(|at| at < self.db.clock.now())
        {
            return Ok(CompleteOutcome::Expired);
        }
        let mut tx = self.db.pool.begin().await?;
        let job = insert_job_row(&mut *tx, ingest, self.db.clock.now())
            .await?
            .ok_or_else(|| StoreError::Corrupt("an ingest job conflicted".into()))?;
        let sql = format!(
            "UPDATE tracks SET state = 'processing', ingest_job_id = $1, \
             upload_expires_at = NULL, updated_at = $2 \
             WHERE id = $3 AND tenant_id = $4 AND state = 'uploaded' RETURNING {TRACK_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(job.id.to_string())
            .bind(self.db.clock.now().millis())
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            Some(row) => {
                let track = track_from_row(&row)?;
                tx.commit().await?;
                Ok(CompleteOutcome::Started(track, job))
            }
            // Another request completed it first: keep its job, drop ours.
            None => {
                tx.rollback().await?;
                let track = self.get(tenant, id).await?;
                let track = track.ok_or_else(|| StoreError::Corrupt("track vanished".into()))?;
                self.already_started(track).await
            }
        }
    }

    async fn already_started(&self, track: TrackRecord) -> Result<CompleteOutcome, StoreError> {
        let job = match track.ingest_job_id {
            Some(id) => select_job(&self.db.pool, track.tenant_id, id).await?,
            None => None,
        };
        let job = job.ok_or_else(|| StoreError::Corrupt("a started track has no ingest".into()))?;
        Ok(CompleteOutcome::AlreadyStarted(track, job))
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

    /// The track's jobs, ingest first.
    pub async fn jobs(&self, track: &TrackRecord) -> Result<Vec<Job>, StoreError> {
        let ids = track.job_ids();
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(id.to_string())
                .fetch_optional(&self.db.pool)
                .await?;
            if let Some(row) = row {
                jobs.push(job_from_row(&row)?);
            }
        }
        Ok(jobs)
    }

    /// Stores what ingest learned and records the transcode job, once: a
    /// repeated ingest gets the job recorded the first time. `created` says
    /// whether the job is new (and must be pushed).
    pub async fn record_ingest(
        &self,
        tenant: TenantId,
        id: TrackId,
        metadata: &TrackMetadata,
        cover: Option<&ObjectKey>,
        transcode: &NewJob,
    ) -> Result<(Job, bool), StoreError> {
        let mut tx = self.db.pool.begin().await?;
        let job = insert_job_row(&mut *tx, transcode, self.db.clock.now())
            .await?
            .ok_or_else(|| StoreError::Corrupt("a transcode job conflicted".into()))?;
        let updated = sqlx::query(
            "UPDATE tracks SET metadata = $1, cover_key = $2, transcode_job_id = $3, \
             updated_at = $4 WHERE id = $5 AND tenant_id = $6 AND transcode_job_id IS NULL",
        )
        .bind(json(metadata))
        .bind(cover.map(ToString::to_string))
        .bind(job.id.to_string())
        .bind(self.db.clock.now().millis())
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 1 {
            tx.commit().await?;
            return Ok((job, true));
        }
        tx.rollback().await?;
        let track = self.get(tenant, id).await?;
        let existing = match track.and_then(|t| t.transcode_job_id) {
            Some(job_id) => select_job(&self.db.pool, tenant, job_id).await?,
            None => None,
        };
        let job = existing.ok_or_else(|| StoreError::Corrupt("ingested track lost".into()))?;
        Ok((job, false))
    }

    /// Marks the track ready with its loudness, outputs and waveform, in one
    /// statement.
    pub async fn finish(
        &self,
        tenant: TenantId,
        id: TrackId,
        result: &TrackResult,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tracks SET state = 'ready', loudness = $1, outputs = $2, waveform = $3, \
             updated_at = $4 WHERE id = $5 AND tenant_id = $6",
        )
        .bind(json(&result.loudness))
        .bind(json(&result.outputs))
        .bind(json(&result.waveform))
        .bind(self.db.clock.now().millis())
        .bind(id.to_string())
        .bind(tenant.to_string())
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
