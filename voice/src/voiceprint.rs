//! The stored voiceprint and its stable byte form.
//!
//! Bytes are JSON with a `format` field, so a stored print stays readable by
//! later versions and a human can inspect one; the embedding's model version
//! travels with it so prints from another model are refused, not mis-scored.

use serde::{Deserialize, Serialize};

use crate::augment::Condition;
use crate::model::Embedding;
use crate::signature::Signature;

/// Version of the byte layout written by [`Voiceprint::to_bytes`]. Format 1
/// (no condition centroids) is still read: its print scores against the
/// clean mean alone.
pub const VOICEPRINT_FORMAT: u32 = 2;
const READABLE_FORMATS: [u32; 2] = [1, VOICEPRINT_FORMAT];

/// Why stored bytes are not a voiceprint.
#[derive(Debug, thiserror::Error)]
pub enum VoiceprintError {
    /// The bytes do not parse as a voiceprint.
    #[error("malformed voiceprint: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The bytes were written in a layout this version does not know.
    #[error("voiceprint format {0} is not supported (expected {VOICEPRINT_FORMAT})")]
    UnsupportedFormat(u32),
}

/// A speaker's enrolled voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voiceprint {
    format: u32,
    model: String,
    embedding: Embedding,
    signature: Signature,
    samples: u32,
    speech_seconds: f32,
    #[serde(default)]
    centroids: Vec<Centroid>,
}

/// The mean embedding of the enrollment samples in one condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centroid {
    /// The condition the samples were brought into.
    pub condition: Condition,
    /// Their mean embedding, unit length.
    pub embedding: Embedding,
}

impl Voiceprint {
    /// A print of the current format.
    pub(crate) fn new(
        model: &str,
        centroids: Vec<Centroid>,
        signature: Signature,
        samples: u32,
        speech_seconds: f32,
    ) -> Self {
        let embedding = centroids
            .iter()
            .find(|c| c.condition == Condition::Clean)
            .map(|c| c.embedding.clone())
            .expect("an enrollment has a clean centroid");
        Self {
            format: VOICEPRINT_FORMAT,
            model: model.to_string(),
            embedding,
            signature,
            samples,
            speech_seconds,
            centroids,
        }
    }

    /// The stable byte form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a voiceprint always serialises")
    }

    /// Reads a print written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VoiceprintError> {
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        let header: Header = serde_json::from_slice(bytes)?;
        if !READABLE_FORMATS.contains(&header.format) {
            return Err(VoiceprintError::UnsupportedFormat(header.format));
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Version of the model that made the embedding.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Mean of the enrollment embeddings, unit length.
    pub fn embedding(&self) -> &Embedding {
        &self.embedding
    }

    /// The centroid of each condition the enrollment was brought into; a
    /// format-1 print has only its clean mean.
    pub fn centroids(&self) -> Vec<Centroid> {
        if self.centroids.is_empty() {
            vec![Centroid {
                condition: Condition::Clean,
                embedding: self.embedding.clone(),
            }]
        } else {
            self.centroids.clone()
        }
    }

    /// Classic signature over all enrollment speech.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Number of enrollment samples.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Total speech in the enrollment, seconds.
    pub fn speech_seconds(&self) -> f32 {
        self.speech_seconds
    }
}
