//! The JSON shapes the API answers with.

use std::collections::BTreeMap;

use mixdown_jobs::{
    model::{Job, JobError},
    payload::shown,
    time::Timestamp,
    tracks::{
        AnalysisRecord, DuplicateRecord, LoudnessRecord, OutputRecord, TrackMetadata, TrackRecord,
    },
};
use poem_openapi::Object;
use serde_json::Value;

/// Why a job's last attempt failed.
#[derive(Debug, Clone, Object)]
pub struct ErrorView {
    /// Stable snake_case code.
    pub code: String,
    /// Human sentence.
    pub message: String,
}

impl From<JobError> for ErrorView {
    fn from(JobError { code, message }: JobError) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message,
        }
    }
}

/// A job as clients read it.
#[derive(Debug, Clone, Object)]
pub struct JobView {
    /// The job's id.
    pub job_id: String,
    /// What it does.
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub state: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Progress of the current attempt, 0 to 1.
    pub progress: f64,
    /// Scheduling priority; higher runs first.
    pub priority: i32,
    /// Its input (an `http` job's secret headers masked).
    pub payload: Value,
    /// When it was accepted.
    pub created_at: String,
    /// When its current or last attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Not run before this instant.
    pub run_at: String,
    /// What it produced.
    pub result: Option<Value>,
    /// Why its last attempt failed.
    pub error: Option<ErrorView>,
    /// The job that spawned it.
    pub parent_id: Option<String>,
    /// Where its end is reported.
    pub callback_url: Option<String>,
    /// The `callback` job reporting its last end (its attempts are the delivery log).
    pub callback_job_id: Option<String>,
    /// Whether a running attempt was asked to stop.
    pub cancel_requested: bool,
    /// The schedule that made it, if one did.
    pub schedule_id: Option<String>,
    /// The tick of that schedule it was made for.
    pub schedule_tick: Option<String>,
}

fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            kind: job.kind.as_str().to_owned(),
            state: job.state.client_name().to_owned(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            progress: job.progress,
            priority: job.priority.get(),
            payload: shown(job.kind, job.payload),
            created_at: time(job.created_at),
            started_at: job.started_at.map(time),
            finished_at: job.finished_at.map(time),
            run_at: time(job.run_at),
            result: job.result,
            error: job.error.map(ErrorView::from),
            parent_id: job.parent_id.map(|id| id.to_string()),
            callback_url: job.callback_url,
            callback_job_id: job.callback_job_id.map(|id| id.to_string()),
            cancel_requested: job.cancel_requested,
            schedule_id: job.schedule.map(|t| t.schedule_id.to_string()),
            schedule_tick: job.schedule.map(|t| time(t.at)),
        }
    }
}

/// The answer to an accepted job.
#[derive(Debug, Clone, Object)]
pub struct AcceptedView {
    /// The job's id.
    pub job_id: String,
    /// Its state now.
    pub state: String,
    /// Where to read it.
    pub status_url: String,
}

impl From<&Job> for AcceptedView {
    fn from(job: &Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            state: job.state.client_name().to_owned(),
            status_url: format!("/v1/jobs/{}", job.id),
        }
    }
}

/// A page of jobs.
#[derive(Debug, Clone, Object)]
pub struct JobPage {
    /// Newest first.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The answer to an accepted upload.
#[derive(Debug, Clone, Object)]
pub struct AcceptedTrackView {
    /// The track's id.
    pub track_id: String,
    /// Its ingest job.
    pub job_id: String,
    /// `processing`.
    pub state: String,
    /// Where to read the track.
    pub status_url: String,
}

impl AcceptedTrackView {
    /// The answer for `track`, whose processing starts with `job`.
    pub fn new(track: &TrackRecord, job: &Job) -> Self {
        Self {
            track_id: track.id.to_string(),
            job_id: job.id.to_string(),
            state: "processing".into(),
            status_url: format!("/v1/tracks/{}", track.id),
        }
    }
}

/// A presigned upload waiting for its file.
#[derive(Debug, Clone, Object)]
pub struct PresignView {
    /// The upload's id (also the track's).
    pub upload_id: String,
    /// Where to send the file.
    pub put_url: String,
    /// How to send it: `PUT`, the file as the body.
    pub method: String,
    /// When `put_url` stops working.
    pub expires_at: String,
    /// Largest file accepted, bytes.
    pub max_bytes: u64,
    /// What to POST once the file is there.
    pub complete_url: String,
}

/// What ingest learned about the original.
#[derive(Debug, Clone, Object)]
pub struct MetadataView {
    /// Container format.
    pub container: String,
    /// Audio codec.
    pub codec: String,
    /// Length, milliseconds.
    pub duration_ms: u64,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Bits per second, where known.
    pub bit_rate: Option<u64>,
    /// Tags: title, artist, album, …
    pub tags: BTreeMap<String, String>,
    /// SHA-256 of the original, hex.
    pub sha256: String,
    /// Size of the original, bytes.
    pub size_bytes: u64,
    /// URL of the embedded cover art, if there is one.
    pub cover_url: Option<String>,
}

impl MetadataView {
    /// The view of `m`, with the cover's URL.
    pub fn new(m: TrackMetadata, cover_url: Option<String>) -> Self {
        Self {
            container: m.container,
            codec: m.codec,
            duration_ms: m.duration_ms,
            sample_rate: m.sample_rate,
            channels: m.channels,
            bit_rate: m.bit_rate,
            tags: m.tags,
            sha256: m.sha256,
            size_bytes: m.size_bytes,
            cover_url,
        }
    }
}

/// Loudness of a track (EBU R128, ReplayGain 2).
#[derive(Debug, Clone, Object)]
pub struct LoudnessView {
    /// Integrated loudness, LUFS; null for silence.
    pub integrated_lufs: Option<f64>,
    /// True peak, dBTP; null for digital silence.
    pub true_peak_dbtp: Option<f64>,
    /// Loudness range, LU.
    pub lra_lu: f64,
    /// ReplayGain 2 track gain, dB.
    pub replaygain_track_gain_db: Option<f64>,
}

impl From<LoudnessRecord> for LoudnessView {
    fn from(l: LoudnessRecord) -> Self {
        Self {
            integrated_lufs: l.integrated_lufs,
            true_peak_dbtp: l.true_peak_dbtp,
            lra_lu: l.lra_lu,
            replaygain_track_gain_db: l.replaygain_track_gain_db,
        }
    }
}

/// What the music analysis of a track found.
#[derive(Debug, Clone, Object)]
pub struct AnalysisView {
    /// Beats per minute; null for audio too short or without onsets.
    pub tempo_bpm: Option<f64>,
    /// How strongly the onsets repeat at the beat period, 0 to 1.
    pub tempo_confidence: Option<f64>,
    /// The key, e.g. `G minor`; null without pitched audio.
    pub key: Option<String>,
    /// The chromagram's correlation with the key's profile, 0 to 1.
    pub key_confidence: Option<f64>,
    /// Energy, 0 to 1: the mean of a loudness and an onset-rate term.
    pub energy: f64,
    /// The fingerprint's algorithm and version (`chromaprint-2`).
    pub fingerprint_version: String,
    /// The tenant's tracks recorded earlier that hold the same recording,
    /// best first.
    pub duplicates: Vec<DuplicateView>,
}

impl From<AnalysisRecord> for AnalysisView {
    fn from(a: AnalysisRecord) -> Self {
        Self {
            tempo_bpm: a.tempo_bpm,
            tempo_confidence: a.tempo_confidence,
            key: a.key.map(|k| k.to_string()),
            key_confidence: a.key_confidence,
            energy: a.energy,
            fingerprint_version: a.fingerprint_version,
            duplicates: a.duplicates.into_iter().map(DuplicateView::from).collect(),
        }
    }
}

/// Another track holding the same recording.
#[derive(Debug, Clone, Object)]
pub struct DuplicateView {
    /// The other track.
    pub track_id: String,
    /// This track's second `t` is the other's second `t + offset_seconds`.
    pub offset_seconds: f64,
    /// How long both hold the same audio, seconds.
    pub overlap_seconds: f64,
    /// Share of fingerprint bits that differ over the overlap, 0 to 1.
    pub bit_error_rate: f64,
}

impl From<DuplicateRecord> for DuplicateView {
    fn from(d: DuplicateRecord) -> Self {
        Self {
            track_id: d.track_id.to_string(),
            offset_seconds: d.offset_seconds,
            overlap_seconds: d.overlap_seconds,
            bit_error_rate: d.bit_error_rate,
        }
    }
}

/// A track's duplicates among all of the tenant's other tracks.
#[derive(Debug, Clone, Object)]
pub struct DuplicatesView {
    /// The track.
    pub track_id: String,
    /// The fingerprint's algorithm and version.
    pub fingerprint_version: String,
    /// Every other track of the tenant holding the same recording, earlier
    /// or later, best match first.
    pub duplicates: Vec<DuplicateView>,
}

/// One output of a track.
#[derive(Debug, Clone, Object)]
pub struct OutputView {
    /// The preset that made it.
    pub preset: String,
    /// MIME type of what `url` serves.
    pub mime: String,
    /// Expiring URL: the file, or the HLS playlist.
    pub url: String,
    /// Codec.
    pub codec: String,
    /// Bits per second.
    pub bit_rate: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Length, milliseconds.
    pub duration_ms: u64,
    /// Size of all its files, bytes.
    pub size_bytes: u64,
}

impl OutputView {
    /// The view of `o`, served at `url`.
    pub fn new(o: OutputRecord, url: String) -> Self {
        Self {
            preset: o.preset,
            mime: o.mime,
            url,
            codec: o.codec,
            bit_rate: o.bit_rate,
            sample_rate: o.sample_rate,
            channels: o.channels,
            duration_ms: o.duration_ms,
            size_bytes: o.size_bytes,
        }
    }
}

/// One zoom level of a track's waveform.
#[derive(Debug, Clone, Object)]
pub struct WaveformLevelView {
    /// Frames per pixel.
    pub zoom: u32,
    /// Expiring URL of its 8-bit `.dat`.
    pub dat_url: String,
}

/// A track's waveform, in BBC audiowaveform's formats (8 bit, channels
/// mixed down), at peaks.js's default zooms.
#[derive(Debug, Clone, Object)]
pub struct WaveformView {
    /// The finest level's `.dat` (512 frames per pixel).
    pub dat_url: String,
    /// The finest level as JSON.
    pub json_url: String,
    /// Every level, finest first.
    pub levels: Vec<WaveformLevelView>,
    /// 1,800 normalised peak magnitudes (0 to 1) for list views.
    pub summary: Vec<f32>,
}

/// A job of a track's pipeline.
#[derive(Debug, Clone, Object)]
pub struct TrackJobView {
    /// The job's id.
    pub job_id: String,
    /// `ingest` or `transcode`.
    pub kind: String,
    /// Its state.
    pub state: String,
    /// Its progress, 0 to 1.
    pub progress: f64,
}

impl From<&Job> for TrackJobView {
    fn from(job: &Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            kind: job.kind.as_str().to_owned(),
            state: job.state.client_name().to_owned(),
            progress: job.progress,
        }
    }
}

/// A track as clients read it.
#[derive(Debug, Clone, Object)]
pub struct TrackView {
    /// The track's id.
    pub track_id: String,
    /// uploaded, processing, ready or failed.
    pub state: String,
    /// 0 to 1.
    pub progress: f64,
    /// Why it failed.
    pub error: Option<ErrorView>,
    /// Title given at upload.
    pub title: Option<String>,
    /// The tenant's user who owns it.
    pub owner_id: Option<String>,
    /// The presets it asked for.
    pub presets: Vec<String>,
    /// What ingest learned, once it has run.
    pub metadata: Option<MetadataView>,
    /// Loudness, once ready.
    pub loudness: Option<LoudnessView>,
    /// Outputs, once ready.
    pub outputs: Vec<OutputView>,
    /// Peaks, once ready.
    pub waveform: Option<WaveformView>,
    /// Tempo, key, energy and duplicates, once ready.
    pub analysis: Option<AnalysisView>,
    /// The tenant's earlier track holding the same recording, if any.
    pub duplicate_of: Option<String>,
    /// Its pipeline's jobs.
    pub jobs: Vec<TrackJobView>,
    /// When the URLs in this answer stop working.
    pub urls_expire_at: String,
    /// When it was uploaded.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}
