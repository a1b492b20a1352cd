//! Mixdown's voice engine: samples in, values out.
//!
//! A recording (mono f32 PCM at any rate from 8 to 192 kHz) is resampled to
//! 16 kHz, freed of DC, and must pass the quality gates ([`SpeechSample`]).
//! Gated speech yields a GE2E speaker embedding ([`Encoder`], Resemblyzer's
//! weights) and a classic [`Signature`]; enrollment averages the embeddings of
//! each sample and of its degraded copies into one centroid per [`Condition`]
//! of a [`Voiceprint`]; verification scores against the closest centroid and
//! turns the cosine into a calibrated log-likelihood ratio ([`Calibration`]:
//! AS-norm against a shipped cohort, then the sample's [`Quality`] weighs the
//! evidence). No I/O beyond reading the model file, no async runtime.

mod augment;
mod calibration;
mod engine;
mod gates;
mod lanes;
mod mfcc;
mod model;
mod pitch;
mod prepare;
mod quality;
mod resample;
mod signature;
mod spectrum;
mod vad;
mod voiceprint;

/// Sample rate of every analysis, Hz.
pub const SAMPLE_RATE: u32 = 16_000;

pub use augment::{
    Condition, ENROLL_NOISE_SNR_DB, ENROLL_RT60_S, add_at_snr, band_pass, convolve, filter,
    gaussian_noise, mu_law, pink_noise, rms, room_impulse_response, telephone, uniform_noise,
};
pub use calibration::{
    CALIBRATION_WEIGHTS, Calibration, CalibrationError, CalibrationParams, CohortStats, as_norm,
    features,
};
pub use engine::{
    Audio, DEFAULT_ENROLLMENT_SAMPLES, EngineConfig, Enrollment, Verification, VoiceEngine,
    VoiceError, centroids, closest_centroid,
};
pub use gates::{GateConfig, GateError, SpeechSample};
pub use model::{EMBEDDING_DIM, Embedding, Encoder, MODEL_VERSION, ModelError};
pub use quality::Quality;
pub use signature::{FrameFeatures, MeanStd, N_MFCC, PitchStats, Signature, SignatureAnalyzer};
pub use vad::VadConfig;
pub use voiceprint::{Centroid, VOICEPRINT_FORMAT, Voiceprint, VoiceprintError};
