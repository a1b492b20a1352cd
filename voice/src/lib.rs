//! Mixdown's voice engine: samples in, values out.
//!
//! A recording (mono f32 PCM at any rate from 8 to 192 kHz) is resampled to
//! 16 kHz, freed of DC, and must pass the quality gates ([`SpeechSample`]).
//! Gated speech yields a GE2E speaker embedding ([`Encoder`], Resemblyzer's
//! weights) and a classic [`Signature`]; enrollment averages embeddings into a
//! [`Voiceprint`], verification scores by cosine similarity ([`VoiceEngine`]).
//! No I/O beyond reading the model file, no async runtime.

mod engine;
mod gates;
mod lanes;
mod mfcc;
mod model;
mod pitch;
mod prepare;
mod resample;
mod signature;
mod spectrum;
mod vad;
mod voiceprint;

/// Sample rate of every analysis, Hz.
pub const SAMPLE_RATE: u32 = 16_000;

pub use engine::{
    Audio, DEFAULT_ENROLLMENT_SAMPLES, DEFAULT_THRESHOLD, EngineConfig, Enrollment, Thresholds,
    Verification, VoiceEngine, VoiceError,
};
pub use gates::{GateConfig, GateError, SpeechSample};
pub use model::{EMBEDDING_DIM, Embedding, Encoder, MODEL_VERSION, ModelError};
pub use signature::{FrameFeatures, MeanStd, N_MFCC, PitchStats, Signature, SignatureAnalyzer};
pub use vad::VadConfig;
pub use voiceprint::{VOICEPRINT_FORMAT, Voiceprint, VoiceprintError};
