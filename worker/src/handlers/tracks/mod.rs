//! The track kinds: `ingest` checks and describes an original, `transcode`
//! decodes it once into every output. Both copy the original to a scratch
//! directory first (decoders need a seekable file) and do their CPU work on
//! blocking threads.

mod ingest;
mod transcode;

use std::{path::PathBuf, time::Duration};

use mixdown_jobs::{db::TrackRecord, ids::TrackId};
use mixdown_media::{
    decode::{DecodeError, DecodeLimits, ErrorCode},
    format::{ChannelCount, SampleRate},
};
use tempfile::TempDir;

pub(crate) use self::{ingest::run as ingest, transcode::run as transcode};
use crate::context::{HandlerError, JobContext};

/// Limits and scratch space of the track handlers.
#[derive(Debug, Clone)]
pub struct TrackSettings {
    /// Longest, fastest and widest original accepted.
    pub limits: DecodeLimits,
    /// Shortest original accepted.
    pub min_duration: Duration,
    /// Where originals and outputs wait while a job runs.
    pub scratch_dir: PathBuf,
}

impl Default for TrackSettings {
    fn default() -> Self {
        Self {
            limits: DecodeLimits {
                max_duration: Duration::from_secs(4 * 60 * 60),
                max_sample_rate: SampleRate::new(192_000).expect("a valid rate"),
                max_channels: ChannelCount::new(8).expect("a valid count"),
            },
            min_duration: Duration::from_secs(1),
            scratch_dir: std::env::temp_dir(),
        }
    }
}

/// The job's track, which must be the job's tenant's.
async fn load_track(ctx: &JobContext, id: TrackId) -> Result<TrackRecord, HandlerError> {
    let track = ctx.stores.db.tracks.get(ctx.job.tenant_id, id).await;
    track.map_err(HandlerError::database)?.ok_or_else(|| {
        HandlerError::failed(
            "track_missing",
            format!("no track {id} for this tenant"),
            false,
        )
    })
}

/// A fresh scratch directory, removed when dropped.
fn scratch(ctx: &JobContext) -> Result<TempDir, HandlerError> {
    let dir = &ctx.tracks.scratch_dir;
    tempfile::Builder::new()
        .prefix("mixdown-")
        .tempdir_in(dir)
        .map_err(|e| {
            let message = format!("no scratch directory in {}: {e}", dir.display());
            HandlerError::failed("scratch_unavailable", message, true)
        })
}

/// Copies the track's original into `dir`.
async fn fetch_original(
    ctx: &JobContext,
    track: &TrackRecord,
    dir: &TempDir,
) -> Result<(PathBuf, u64), HandlerError> {
    let path = dir.path().join("original");
    let size = ctx
        .stores
        .objects
        .download(&track.original_key, &path)
        .await
        .map_err(|e| match e {
            mixdown_jobs::objects::ObjectError::NotFound(_) => {
                HandlerError::failed("original_missing", "the uploaded original is gone", false)
            }
            other => HandlerError::storage(other),
        })?;
    Ok((path, size))
}

/// A decoder's refusal: the uploader's problem, except a failed read.
fn decode_failure(err: DecodeError) -> HandlerError {
    let retryable = err.code() == ErrorCode::ReadFailed;
    HandlerError::failed(err.code().as_str(), err.to_string(), retryable)
}
