//! The track kinds: `ingest` checks and describes an original, `transcode`
//! decodes it once into every output and its analysis (or, once the track is
//! ready, into renditions added to them), `waveform` draws a ready track's
//! waveform as a file, `analyze` analyses a ready track again, and `track`
//! carries out the track workflow's decisions. All but the
//! last copy the original to a scratch directory (decoders need a seekable
//! file) and do their CPU work on blocking threads.

mod analyze;
mod ingest;
mod renditions;
mod transcode;
mod waveform;
mod workflow;

use std::{path::PathBuf, time::Duration};

use mixdown_jobs::{
    codes::ErrorCode,
    ids::TrackId,
    model::JobError,
    objects::{Downloaded, ObjectError},
    tracks::{TrackRecord, TrackState},
};
use mixdown_media::{
    decode::{DecodeError, DecodeLimits},
    transcode::TranscodeError,
    waveform_file::WriteError,
};
use tempfile::TempDir;

pub(crate) use self::{
    analyze::run as analyze, ingest::run as ingest, renditions::run as renditions,
    transcode::run as transcode, waveform::run as waveform, workflow::advance,
};
use super::JobContext;
use crate::{
    failure::{Failure, Infra, infra_from},
    settings::WorkerSettings,
};

/// Why a track's job did not produce its result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TrackError {
    /// The job's track does not exist for its tenant.
    #[error("no track {0} for this tenant")]
    Missing(TrackId),
    /// The track is not ready, so nothing is made from it on demand.
    #[error("track {0} is not ready")]
    NotReady(TrackId),
    /// The payload's options do not fit the track's audio.
    #[error("{0}")]
    Unfit(String),
    /// The uploaded original is gone.
    #[error("the uploaded original is gone")]
    OriginalMissing,
    /// The stored original differs from what was accepted.
    #[error("the stored original is not what was uploaded: {0}")]
    OriginalChanged(String),
    /// The scratch directory could not be used.
    #[error("no scratch space in {}: {source}", dir.display())]
    Scratch {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The original could not be decoded (or read).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An output could not be made.
    #[error(transparent)]
    Transcode(TranscodeError),
    /// Less audio than a track needs.
    #[error("{:.3} s of audio; at least {:.3} s is needed", found.as_secs_f64(), min.as_secs_f64())]
    TooShort {
        /// What the original holds.
        found: Duration,
        /// The least accepted.
        min: Duration,
    },
    /// The loudness meter refused the format.
    #[error("loudness: {0}")]
    Loudness(String),
    /// The waveform's files could not be written.
    #[error("waveform: {0}")]
    Waveform(String),
    /// A fault of Mixdown's own (an output it made that cannot be stored): a bug.
    #[error("{0}")]
    Internal(String),
    /// A job of the track failed or was cancelled, so the track failed.
    #[error("{}", .0.message)]
    Step(JobError),
    /// Cancelled at a checkpoint.
    #[error("cancelled")]
    Cancelled,
    /// A store failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(TrackError);

impl From<TranscodeError> for TrackError {
    fn from(err: TranscodeError) -> Self {
        match err {
            TranscodeError::Stopped => TrackError::Cancelled,
            TranscodeError::Decode(e) => TrackError::Decode(e),
            other => TrackError::Transcode(other),
        }
    }
}

impl From<WriteError> for TrackError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Decode(e) => TrackError::Decode(e),
            WriteError::Options(e) => TrackError::Unfit(e.to_string()),
            WriteError::Io(e) => TrackError::Waveform(e.to_string()),
            other => TrackError::Internal(other.to_string()),
        }
    }
}

impl Failure for TrackError {
    fn code(&self) -> ErrorCode {
        match self {
            TrackError::Missing(_) => ErrorCode::TrackMissing,
            TrackError::NotReady(_) => ErrorCode::TrackNotReady,
            TrackError::Unfit(_) => ErrorCode::InvalidPayload,
            TrackError::OriginalMissing => ErrorCode::OriginalMissing,
            TrackError::OriginalChanged(_) => ErrorCode::OriginalChanged,
            TrackError::Scratch { .. } => ErrorCode::ScratchUnavailable,
            TrackError::Decode(e) => e.code().into(),
            TrackError::Transcode(e) => ErrorCode::named(e.code()),
            TrackError::TooShort { .. } => ErrorCode::TooShort,
            TrackError::Loudness(_) => ErrorCode::UnsupportedFormat,
            TrackError::Waveform(_) => ErrorCode::WriteFailed,
            TrackError::Internal(_) => ErrorCode::InternalError,
            TrackError::Step(error) => error.code,
            TrackError::Cancelled => ErrorCode::Cancelled,
            TrackError::Infra(e) => e.code(),
        }
    }

    /// The uploader's audio fails for good; the machine's troubles may pass.
    fn retryable(&self) -> bool {
        match self {
            TrackError::Scratch { .. } | TrackError::Waveform(_) => true,
            TrackError::Decode(e) => !e.is_client_error(),
            TrackError::Transcode(e) => e.code() == ErrorCode::WriteFailed.as_str(),
            TrackError::Infra(e) => e.retryable(),
            _ => false,
        }
    }

    fn cancelled(&self) -> bool {
        matches!(self, TrackError::Cancelled)
    }
}

/// Limits and scratch space of the track handlers.
#[derive(Debug, Clone)]
pub(crate) struct TrackSettings {
    /// Longest, fastest and widest original accepted.
    pub limits: DecodeLimits,
    /// Shortest original accepted.
    pub min_duration: Duration,
    /// Where originals and outputs wait while a job runs.
    pub scratch_dir: PathBuf,
    /// Whether a track that becomes ready publishes an activity for its owner.
    pub publish_ready: bool,
}

impl TrackSettings {
    /// The track handlers' part of a worker's settings.
    pub(crate) fn new(settings: &WorkerSettings) -> Self {
        Self {
            limits: settings.decode_limits(),
            min_duration: settings.min_duration_ms.get(),
            scratch_dir: settings.scratch_dir.clone(),
            publish_ready: settings.publish_ready_tracks,
        }
    }
}

/// The job's track, which must be the job's tenant's.
async fn load_track(ctx: &JobContext, id: TrackId) -> Result<TrackRecord, TrackError> {
    let track = ctx.stores.db.tracks.get(ctx.job.tenant_id, id).await?;
    track.ok_or(TrackError::Missing(id))
}

/// The job's track, which must be ready: what renditions and waveforms are
/// made from.
async fn ready_track(ctx: &JobContext, id: TrackId) -> Result<TrackRecord, TrackError> {
    let track = load_track(ctx, id).await?;
    if track.state != TrackState::Ready {
        return Err(TrackError::NotReady(id));
    }
    Ok(track)
}

/// A fresh scratch directory, removed when dropped.
fn scratch(ctx: &JobContext) -> Result<TempDir, TrackError> {
    let dir = &ctx.tracks.scratch_dir;
    tempfile::Builder::new()
        .prefix("mixdown-")
        .tempdir_in(dir)
        .map_err(|source| TrackError::Scratch {
            dir: dir.clone(),
            source,
        })
}

/// Copies the track's original into `dir`, once per attempt: its size and
/// SHA-256 come with it, and must be those accepted (see [`check_original`]).
async fn fetch_original(
    ctx: &JobContext,
    track: &TrackRecord,
    dir: &TempDir,
) -> Result<(PathBuf, Downloaded), TrackError> {
    let path = dir.path().join("original");
    let fetched = ctx
        .stores
        .objects
        .download(&track.original_key, &path)
        .await
        .map_err(|e| match e {
            ObjectError::NotFound(_) => TrackError::OriginalMissing,
            other => other.into(),
        })?;
    check_original(track, &fetched)?;
    Ok((path, fetched))
}

/// Refuses an original whose size is not the one its upload was accepted
/// with, or, once ingest has described it, whose size or SHA-256 differs
/// from what ingest found: nothing is made from bytes nobody checked.
fn check_original(track: &TrackRecord, fetched: &Downloaded) -> Result<(), TrackError> {
    let described = track.metadata.as_ref();
    let size = described.map(|m| m.size_bytes).or(track.original_size);
    if let Some(size) = size.filter(|&size| size != fetched.size) {
        let found = fetched.size;
        let message = format!("{found} bytes where {size} were accepted");
        return Err(TrackError::OriginalChanged(message));
    }
    match described {
        Some(m) if m.sha256 != fetched.sha256 => Err(TrackError::OriginalChanged(format!(
            "SHA-256 {} where {} was described",
            fetched.sha256, m.sha256
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use mixdown_media::transcode::SinkError;

    use super::*;

    #[test]
    fn every_code_the_transcoder_gives_is_in_the_catalogue() {
        let cause = || -> mixdown_media::transcode::Cause { "x".into() };
        let preset = || "p".to_owned();
        let errors = [
            TranscodeError::Encode {
                preset: preset(),
                step: "open",
                cause: cause(),
            },
            TranscodeError::Write {
                preset: preset(),
                step: "write",
                cause: cause(),
            },
            TranscodeError::ClipOutsideAudio { preset: preset() },
            TranscodeError::DuplicatePreset(preset()),
            TranscodeError::Sink(SinkError::new("x")),
        ];
        for err in errors {
            let name = err.code();
            let failure = TrackError::from(err);
            assert_eq!(failure.code().as_str(), name);
        }
        let stopped = TrackError::from(TranscodeError::Stopped);
        assert!(stopped.cancelled());
    }
}
