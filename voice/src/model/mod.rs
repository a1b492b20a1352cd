//! The GE2E speaker encoder of Resemblyzer 0.1.4, run on its own weights.
//!
//! What is followed from Resemblyzer (`hparams.py`, `audio.py`,
//! `voice_encoder.py`):
//! - input: 16 kHz samples; mel *power* spectrogram (not log) from librosa's
//!   `melspectrogram` — 400-point FFT (25 ms), 160-sample hop (10 ms), Hann,
//!   centred frames, 40 Slaney mel bands from 0 to 8 kHz;
//! - network: 3-layer LSTM (hidden 256, PyTorch gate order i, f, g, o, both
//!   bias vectors added), the last layer's final hidden state through
//!   linear 256→256, ReLU, L2 normalisation;
//! - utterance: windows of 160 frames (1.6 s) every `round(16000 / 1.3 / 160)`
//!   = 77 frames (`rate=1.3`, about 50 % overlap); the waveform is zero-padded
//!   to cover the last window, which is dropped if less than 75 % of it holds
//!   signal (unless it is the only one); the window embeddings are averaged
//!   and re-normalised.
//!
//! Resemblyzer's own pre-processing (raise to −30 dBFS, drop long pauses with
//! webrtcvad) is replaced by [`crate::SpeechSample`], which does the same with
//! this crate's VAD.

mod checkpoint;
mod lstm;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;
use crate::lanes::lane_dot;
use crate::spectrum::{MelBank, Stft};
use lstm::Lstm;

/// Identifies the embedding space; prints of another version cannot be compared.
pub const MODEL_VERSION: &str = "ge2e-resemblyzer-0.1.4";
/// Length of an embedding.
pub const EMBEDDING_DIM: usize = 256;
const N_MELS: usize = 40;
const N_FFT: usize = 400;
const HOP: usize = 160;
const PARTIAL_FRAMES: usize = 160;
/// Windows per second of audio, Resemblyzer's `rate`.
const PARTIALS_PER_SECOND: f64 = 1.3;
/// Least share of the last window that must hold signal, `min_coverage`.
const MIN_COVERAGE: f64 = 0.75;

/// Why the model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The weights file could not be read.
    #[error("cannot read the voice model {path}: {source}")]
    Io {
        /// The path that was tried.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not the checkpoint layout expected.
    #[error("malformed voice model: {0}")]
    Format(String),
    /// A weight is missing or has the wrong shape.
    #[error("voice model weight {name}: expected shape {expected:?}")]
    Weight {
        /// Name of the tensor in the checkpoint.
        name: String,
        /// The shape the encoder needs.
        expected: Vec<usize>,
    },
}

/// A unit-length speaker embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises `v` to unit length; `None` if it is all zeros or not 256 long.
    pub fn from_raw(v: Vec<f32>) -> Option<Self> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        (v.len() == EMBEDDING_DIM && norm > 0.0 && norm.is_finite())
            .then(|| Self(v.into_iter().map(|x| x / norm).collect()))
    }

    /// The mean of several embeddings, re-normalised.
    pub fn mean<'a>(all: impl IntoIterator<Item = &'a Embedding>) -> Option<Self> {
        let mut sum = vec![0.0f32; EMBEDDING_DIM];
        for e in all {
            sum.iter_mut().zip(&e.0).for_each(|(s, x)| *s += x);
        }
        Self::from_raw(sum)
    }

    /// Cosine similarity, in [−1, 1] (in [0, 1] for this model's ReLU outputs).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The components.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

impl TryFrom<Vec<f32>> for Embedding {
    type Error = String;

    /// Accepts a stored embedding as it is, if it is one: re-normalising would
    /// move its last bits and make a read-back print differ from the written.
    fn try_from(v: Vec<f32>) -> Result<Self, Self::Error> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if v.len() == EMBEDDING_DIM && (norm - 1.0).abs() < 1e-3 {
            Ok(Self(v))
        } else {
            Err(format!(
                "an embedding has {EMBEDDING_DIM} components and unit length"
            ))
        }
    }
}

impl From<Embedding> for Vec<f32> {
    fn from(e: Embedding) -> Self {
        e.0
    }
}

/// The loaded speaker encoder.
pub struct Encoder {
    lstm: Lstm,
    linear_w: Vec<f32>,
    linear_b: Vec<f32>,
    stft: Stft,
    mel: MelBank,
}

impl Encoder {
    /// Loads Resemblyzer's `pretrained.pt` (see `scripts/voice-model.sh`).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_checkpoint(&bytes)
    }

    /// Builds the encoder from the bytes of the checkpoint.
    pub fn from_checkpoint(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut state = checkpoint::read_model_state(bytes)?;
        let mut take = |name: &str, shape: &[usize]| {
            state
                .remove(name)
                .filter(|t| t.shape == shape)
                .map(|t| t.data)
                .ok_or_else(|| ModelError::Weight {
                    name: name.to_string(),
                    expected: shape.to_vec(),
                })
        };
        let lstm = Lstm::from_weights(&mut take, N_MELS)?;
        Ok(Self {
            lstm,
            linear_w: take("linear.weight", &[EMBEDDING_DIM, lstm::HIDDEN])?,
            linear_b: take("linear.bias", &[EMBEDDING_DIM])?,
            stft: Stft::new(N_FFT, HOP),
            mel: MelBank::slaney(SAMPLE_RATE, N_FFT, N_MELS),
        })
    }

    /// Embeds an utterance of 16 kHz samples; `None` for an all-silent input.
    pub fn embed(&self, samples: &[f32]) -> Option<Embedding> {
        let windows = partial_windows(samples.len());
        let padded_len = windows.last().map_or(0, |w| (w + PARTIAL_FRAMES) * HOP);
        let mut padded = samples.to_vec();
        padded.resize(padded_len.max(samples.len()), 0.0);
        let mel: Vec<Vec<f32>> = self
            .stft
            .power(&padded)
            .frames()
            .map(|f| self.mel.apply(f).collect())
            .collect();
        let batch: Vec<&[Vec<f32>]> = windows
            .iter()
            .map(|&w| &mel[w..w + PARTIAL_FRAMES])
            .collect();
        let partials: Vec<Embedding> = self
            .lstm
            .final_hidden(&batch)
            .iter()
            .filter_map(|h| Embedding::from_raw(self.project(h)))
            .collect();
        Embedding::mean(&partials)
    }

    /// Linear layer and ReLU on a final hidden state.
    fn project(&self, hidden: &[f32]) -> Vec<f32> {
        self.linear_w
            .chunks_exact(lstm::HIDDEN)
            .zip(&self.linear_b)
            .map(|(row, b)| (lane_dot(row, hidden) + b).max(0.0))
            .collect()
    }
}

/// First mel frame of every window over `n_samples` samples.
fn partial_windows(n_samples: usize) -> Vec<usize> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let step = ((SAMPLE_RATE as f64 / PARTIALS_PER_SECOND) / HOP as f64).round() as usize;
    let span = (n_frames + step + 1).saturating_sub(PARTIAL_FRAMES).max(1);
    let mut starts: Vec<usize> = (0..span).step_by(step).collect();
    let last = *starts.last().expect("at least one window");
    let coverage = (n_samples as f64 - (last * HOP) as f64) / (PARTIAL_FRAMES * HOP) as f64;
    if coverage < MIN_COVERAGE && starts.len() > 1 {
        starts.pop();
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_resemblyzers_slicing() {
        // Figures from Resemblyzer's compute_partial_slices with its defaults.
        assert_eq!(partial_windows(8_000), vec![0]);
        assert_eq!(partial_windows(16_000 * 3), vec![0, 77, 154]);
        // The sixth window would be only 72 % covered.
        assert_eq!(partial_windows(16_000 * 5), vec![0, 77, 154, 231, 308]);
    }

    #[test]
    fn embeddings_are_unit_length_and_reject_zero_vectors() {
        assert!(Embedding::from_raw(vec![0.0; EMBEDDING_DIM]).is_none());
        assert!(Embedding::from_raw(vec![1.0; 3]).is_none());
        let e = Embedding::from_raw(vec![2.0; EMBEDDING_DIM]).unwrap();
        assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
    }
}
