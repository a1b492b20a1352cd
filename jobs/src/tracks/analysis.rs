//! A track's music analysis as stored and shown: tempo, key, energy, the fingerprint's
//! version and the tenant's tracks it duplicates.

use mixdown_media::analysis::{
    Analysis,
    fingerprint::{Alignment, FINGERPRINT_VERSION, ITEM_SECONDS},
    key::Key,
};
use serde::{Deserialize, Serialize};

use crate::ids::TrackId;

/// What analysing a track found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// Beats per minute; `None` for audio too short or without onsets.
    pub tempo_bpm: Option<f64>,
    /// How strongly the onsets repeat at the beat, 0 to 1.
    pub tempo_confidence: Option<f64>,
    /// The key, e.g. `"G minor"`; `None` without pitched audio.
    pub key: Option<Key>,
    /// The chromagram's correlation with the key's profile, 0 to 1.
    pub key_confidence: Option<f64>,
    /// Energy, 0 to 1: loudness and onset rate (see the README).
    pub energy: f64,
    /// The fingerprint's algorithm and version.
    pub fingerprint_version: String,
    /// Hashes in the fingerprint (8 a second); 0 when the audio gave none.
    pub fingerprint_hashes: usize,
    /// The tenant's tracks, indexed before this one, that hold the same recording, best
    /// first.
    pub duplicates: Vec<DuplicateRecord>,
}

impl AnalysisRecord {
    /// The record of `analysis`, with the duplicates found for its fingerprint.
    pub fn new(analysis: &Analysis, duplicates: Vec<DuplicateRecord>) -> Self {
        Self {
            tempo_bpm: analysis.tempo.map(|t| t.bpm),
            tempo_confidence: analysis.tempo.map(|t| t.confidence),
            key: analysis.key.map(|k| k.key),
            key_confidence: analysis.key.map(|k| k.confidence),
            energy: analysis.energy,
            fingerprint_version: FINGERPRINT_VERSION.to_owned(),
            fingerprint_hashes: analysis.fingerprint.len(),
            duplicates,
        }
    }

    /// The track this one duplicates: the best of its duplicates.
    pub fn duplicate_of(&self) -> Option<TrackId> {
        self.duplicates.first().map(|d| d.track_id)
    }
}

/// Another track holding the same recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateRecord {
    /// The other track.
    pub track_id: TrackId,
    /// This track's second `t` is the other's second `t + offset_seconds`.
    pub offset_seconds: f64,
    /// How long both hold the same audio, seconds.
    pub overlap_seconds: f64,
    /// Share of fingerprint bits that differ over the overlap, 0 to 1.
    pub bit_error_rate: f64,
}

impl DuplicateRecord {
    /// The duplicate `track_id` found at `alignment`.
    pub fn new(track_id: TrackId, alignment: &Alignment) -> Self {
        Self {
            track_id,
            offset_seconds: round_ms(alignment.offset as f64 * ITEM_SECONDS),
            overlap_seconds: round_ms(alignment.overlap_seconds()),
            bit_error_rate: (alignment.bit_error_rate * 1e4).round() / 1e4,
        }
    }
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1e3).round() / 1e3
}
