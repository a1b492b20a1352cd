//! Tracks: an uploaded original and what its pipeline makes of it — the
//! values a track holds and its jobs exchange. The pipeline itself (what
//! follows what, and who writes the track's state) is `workflow::track`.

mod analysis;
mod keys;
mod presets_file;
mod record;
mod renditions;
mod waveform_file;

use std::collections::BTreeMap;

use mixdown_media::transcode::{Preset, PresetSpec};
use serde::{Deserialize, Serialize};

pub use self::{
    analysis::{AnalysisRecord, DuplicateRecord},
    keys::{
        UPLOADS, cover_key, is_track_key, original_key, output_key, parse_upload_key, upload_key,
        waveform_key,
    },
    presets_file::PresetsFile,
    record::{NewTrack, TrackOutcome, TrackRecord},
    renditions::{RenditionsPayload, RenditionsRequest, RenditionsResult, TranscodePayload},
    waveform_file::{MAX_WAVEFORM_PAIRS, WAVEFORM_LIMITS, WaveformPayload, WaveformResult},
};
use crate::{ids::TrackId, objects::ObjectKey};

/// Most presets one track may ask for.
pub const MAX_PRESETS: usize = 16;

/// Where a track is: stored as the track's workflow moves it, and shown to
/// clients as it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// A presigned upload waits for its bytes and its `complete` call.
    Uploaded,
    /// The original is stored; its jobs run.
    Processing,
    /// Every output is stored.
    Ready,
    /// A job of the track failed or was cancelled; retrying it revives the track.
    Failed,
}

impl TrackState {
    const ALL: [TrackState; 4] = [
        TrackState::Uploaded,
        TrackState::Processing,
        TrackState::Ready,
        TrackState::Failed,
    ];

    /// The storage and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackState::Uploaded => "uploaded",
            TrackState::Processing => "processing",
            TrackState::Ready => "ready",
            TrackState::Failed => "failed",
        }
    }

    /// The state stored as `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The outputs a track asks for: 1 to [`MAX_PRESETS`] valid presets with
/// distinct names, stored as their specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PresetSpec>", into = "Vec<PresetSpec>")]
pub struct TrackPresets(Vec<Preset>);

impl TrackPresets {
    /// The presets, in the order asked for.
    pub fn as_slice(&self) -> &[Preset] {
        &self.0
    }

    /// The presets named in `names` (comma-separated), looked up in
    /// `catalog`; a preset named twice is made once.
    pub fn pick(catalog: &[Preset], names: &str) -> Result<Self, String> {
        let names: Vec<&str> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        Self::pick_each(catalog, &names).map_err(|e| e.message)
    }

    /// The presets named in `names`, looked up in `catalog`; an unknown name
    /// is blamed by its index; a name given twice counts once.
    pub fn pick_each(
        catalog: &[Preset],
        names: &[impl AsRef<str>],
    ) -> Result<Self, PresetChoiceError> {
        let mut picked: Vec<Preset> = Vec::with_capacity(names.len());
        for (index, name) in names.iter().map(AsRef::as_ref).enumerate() {
            let at_fault = |message: String| PresetChoiceError {
                index: Some(index),
                message,
            };
            let preset = catalog.iter().find(|p| p.name() == name).ok_or_else(|| {
                let known: Vec<&str> = catalog.iter().map(|p| p.name()).collect();
                at_fault(format!(
                    "unknown preset {name:?}; known: {}",
                    known.join(", ")
                ))
            })?;
            // A preset named twice is made once.
            if !picked.iter().any(|p| p.name() == name) {
                picked.push(preset.clone());
            }
        }
        Self::new(picked).map_err(|message| PresetChoiceError {
            index: None,
            message,
        })
    }

    /// Checks count and distinct names.
    pub fn new(presets: Vec<Preset>) -> Result<Self, String> {
        if !(1..=MAX_PRESETS).contains(&presets.len()) {
            return Err(format!("must name 1 to {MAX_PRESETS} presets"));
        }
        for (i, p) in presets.iter().enumerate() {
            if presets[..i].iter().any(|q| q.name() == p.name()) {
                return Err(format!("preset {:?} is named twice", p.name()));
            }
        }
        Ok(Self(presets))
    }
}

impl TryFrom<Vec<PresetSpec>> for TrackPresets {
    type Error = String;

    fn try_from(specs: Vec<PresetSpec>) -> Result<Self, String> {
        let presets = specs
            .into_iter()
            .map(|s| Preset::try_from(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(presets)
    }
}

impl From<TrackPresets> for Vec<PresetSpec> {
    fn from(presets: TrackPresets) -> Self {
        presets.0.iter().map(Preset::spec).collect()
    }
}

/// Presets a request cannot have, and which of its names is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PresetChoiceError {
    /// The position of the name at fault; `None` when the list as a whole is
    /// (empty, or too long).
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl PresetChoiceError {
    /// The field at fault, for a list named `list`: `presets[2]`, or `presets`.
    pub fn field(&self, list: &str) -> String {
        match self.index {
            Some(i) => format!("{list}[{i}]"),
            None => list.to_owned(),
        }
    }
}

/// Input of the track workflow's kinds (`ingest`, its `transcode`, `track`)
/// and of `analyze`: the track. Everything else (the original, the presets)
/// is the track's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackPayload {
    /// The track.
    pub track_id: TrackId,
}

/// What ingest learned about an original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackMetadata {
    /// Container format, e.g. `mp3`, `wav`, `mp4`.
    pub container: String,
    /// Audio codec, e.g. `mp3`, `pcm_s16le`, `aac`.
    pub codec: String,
    /// Length, milliseconds (as the container declares, or as decoded).
    pub duration_ms: u64,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Bits per second of the original's audio, where known.
    pub bit_rate: Option<u64>,
    /// Tags (title, artist, …), trimmed to bounded sizes.
    pub tags: BTreeMap<String, String>,
    /// SHA-256 of the original's bytes, hex.
    pub sha256: String,
    /// Size of the original, bytes.
    pub size_bytes: u64,
}

/// Loudness of a track (EBU R128 and ReplayGain 2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoudnessRecord {
    /// Integrated loudness, LUFS; `None` for silence.
    pub integrated_lufs: Option<f64>,
    /// True peak, dBTP; `None` for digital silence.
    pub true_peak_dbtp: Option<f64>,
    /// Loudness range, LU.
    pub lra_lu: f64,
    /// ReplayGain 2 track gain, dB; `None` for silence.
    pub replaygain_track_gain_db: Option<f64>,
}

/// One stored output of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The preset that made it.
    pub preset: String,
    /// MIME type of what a player opens.
    pub mime: String,
    /// Codec, e.g. `mp3`.
    pub codec: String,
    /// Bits per second the preset asks for.
    pub bit_rate: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Length, milliseconds.
    pub duration_ms: u64,
    /// What a player opens: the file, or the HLS playlist.
    pub main: ObjectKey,
    /// Every object of the output (the playlist and its segments for HLS).
    pub files: Vec<ObjectKey>,
    /// Size of all its objects, bytes.
    pub size_bytes: u64,
}

/// One zoom level of a track's waveform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveformLevel {
    /// Frames per pixel.
    pub zoom: u32,
    /// The 8-bit `.dat`.
    pub dat: ObjectKey,
}

/// A track's waveform: peaks at several zooms and the list-view summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveformRecord {
    /// Every level, finest first.
    pub levels: Vec<WaveformLevel>,
    /// The finest level as audiowaveform's JSON.
    pub json: ObjectKey,
    /// Normalised peak magnitudes, 0 to 1.
    pub summary: Vec<f32>,
}

/// Everything the transcode pass makes besides the objects themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackResult {
    /// Loudness of the decoded original.
    pub loudness: LoudnessRecord,
    /// Outputs, in the order of the track's presets.
    pub outputs: Vec<OutputRecord>,
    /// Peaks drawn from the same decode.
    pub waveform: WaveformRecord,
    /// Tempo, key, energy and duplicates, from the same decode; `None` for tracks made
    /// ready before analysis existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Box<AnalysisRecord>>,
}

/// What an `ingest` job produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestResult {
    /// The track it described.
    pub track_id: TrackId,
    /// What it learned.
    pub metadata: TrackMetadata,
    /// Whether the original carries cover art.
    pub cover: bool,
    /// Where the cover art was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_key: Option<ObjectKey>,
}

/// What a `transcode` job produced: every output of its presets, stored,
/// and what the same decode measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscodeResult {
    /// The outputs, loudness and peaks.
    #[serde(flatten)]
    pub made: TrackResult,
    /// Seconds of audio decoded.
    pub audio_seconds: f64,
}

/// What a `track` job produced once its track is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackReady {
    /// The track.
    pub track_id: TrackId,
    /// How many outputs it has.
    pub outputs: usize,
}
