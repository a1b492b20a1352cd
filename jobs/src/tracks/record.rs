//! A track as it is stored, as it is first recorded, and how it ends.

use super::{TrackMetadata, TrackPresets, TrackResult, TrackState};
use crate::{
    ids::{JobId, TenantId, TrackId},
    model::JobError,
    objects::ObjectKey,
    time::Timestamp,
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
    /// Where it is, as its workflow stored it.
    pub state: TrackState,
    /// Why it failed, when it did.
    pub error: Option<JobError>,
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
    /// The original's size as its upload was accepted; `None` for a
    /// presigned upload not completed yet (and tracks older than the record).
    pub original_size: Option<u64>,
    /// Until when a presigned upload may be completed.
    pub upload_expires_at: Option<Timestamp>,
    /// Its workflow's `track` job, once the original is there.
    pub job_id: Option<JobId>,
    /// What ingest learned.
    pub metadata: Option<TrackMetadata>,
    /// The embedded cover art.
    pub cover_key: Option<ObjectKey>,
    /// Loudness, outputs and analysis, once ready.
    pub result: Option<TrackResult>,
    /// The tenant's earlier track holding the same recording, as its analysis found.
    pub duplicate_of: Option<TrackId>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// How a track's processing ended, as its workflow stores it in one write.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackOutcome {
    /// Every output is made: the track is ready with them.
    Ready(TrackResult),
    /// A job of the track failed or was cancelled.
    Failed(JobError),
}

impl TrackOutcome {
    /// The state the track is left in.
    pub fn state(&self) -> TrackState {
        match self {
            TrackOutcome::Ready(_) => TrackState::Ready,
            TrackOutcome::Failed(_) => TrackState::Failed,
        }
    }
}
