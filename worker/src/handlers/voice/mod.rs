//! The voice kinds: enrollment and verification. The encoder is loaded once
//! per process, on first use; decoding, gates and embedding run on blocking
//! threads, one sample at a time, stopping between samples when cancelled.

mod audio;
mod enroll;
mod verify;

use std::{path::PathBuf, sync::Arc};

use mixdown_jobs::{
    Stores,
    codes::ErrorCode,
    ids::TenantId,
    objects::{ObjectError, ObjectKey},
    seal::SealKeys,
    settings::JobsSettings,
    time::Timestamp,
    voice::{Lockout, UserId, is_sample_of},
};
use mixdown_media::decode::DecodeError;
use mixdown_voice::{Encoder, EngineConfig, GateConfig, ModelError, VoiceEngine, VoiceError};
use tokio::sync::OnceCell;
use tracing::warn;

pub(crate) use self::{enroll::run as enroll, verify::run as verify};
use super::JobContext;
use crate::{
    failure::{Failure, Infra, infra_from},
    settings::WorkerSettings,
};

/// Why a voice job did not produce a verdict or a print.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VoiceJobError {
    /// The worker runs no voice engine.
    #[error("this worker runs no voice engine")]
    Unconfigured,
    /// The encoder's weights could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The engine refused a sample (a gate) or the print.
    #[error(transparent)]
    Engine(#[from] VoiceError),
    /// A sample could not be decoded.
    #[error("sample {index}: {source}")]
    Decode {
        /// Position of the sample, from 0.
        index: usize,
        /// Why.
        source: DecodeError,
    },
    /// A sample key outside the tenant's own samples.
    #[error("sample {0}: not a sample of this tenant")]
    ForeignSample(usize),
    /// An uploaded sample is gone.
    #[error("sample {0}: the upload is gone (deleted, or already processed)")]
    SampleMissing(usize),
    /// The user has no print.
    #[error("{0} has no voiceprint")]
    NotEnrolled(UserId),
    /// Too many rejections lately.
    #[error("too many rejected verifications; locked until {}", .0.to_rfc3339())]
    Locked(Timestamp),
    /// The print cannot be opened.
    #[error("{0}")]
    Unreadable(String),
    /// The user was forgotten while the enrollment ran.
    #[error("the user was forgotten while this enrollment ran; enroll again")]
    UserForgotten,
    /// Cancelled between samples.
    #[error("cancelled")]
    Cancelled,
    /// A store failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(VoiceJobError);

impl Failure for VoiceJobError {
    fn code(&self) -> ErrorCode {
        match self {
            VoiceJobError::Unconfigured => ErrorCode::VoiceUnconfigured,
            VoiceJobError::Model(ModelError::Io { .. }) => ErrorCode::VoiceModelMissing,
            VoiceJobError::Model(_) => ErrorCode::VoiceModelInvalid,
            VoiceJobError::Engine(e) => ErrorCode::named(e.code()),
            VoiceJobError::Decode { source, .. } => source.code().into(),
            VoiceJobError::ForeignSample(_) => ErrorCode::InvalidPayload,
            VoiceJobError::SampleMissing(_) => ErrorCode::SampleMissing,
            VoiceJobError::NotEnrolled(_) => ErrorCode::NotEnrolled,
            VoiceJobError::Locked(_) => ErrorCode::VerificationLocked,
            VoiceJobError::Unreadable(_) => ErrorCode::VoiceprintUnreadable,
            VoiceJobError::UserForgotten => ErrorCode::UserForgotten,
            VoiceJobError::Cancelled => ErrorCode::Cancelled,
            VoiceJobError::Infra(e) => e.code(),
        }
    }

    /// Bad audio fails for good; a worker without an engine, a failed read
    /// and a passing outage may pass.
    fn retryable(&self) -> bool {
        match self {
            VoiceJobError::Unconfigured => true,
            VoiceJobError::Decode { source, .. } => !source.is_client_error(),
            VoiceJobError::Infra(e) => e.retryable(),
            _ => false,
        }
    }

    fn cancelled(&self) -> bool {
        matches!(self, VoiceJobError::Cancelled)
    }
}

/// What the voice handlers need besides the stores.
#[derive(Debug, Clone)]
pub(crate) struct VoiceSettings {
    /// Path of the encoder's weights (`pretrained.pt`).
    pub model_path: PathBuf,
    /// Seals and opens voiceprints.
    pub keys: SealKeys,
    /// Good samples an enrollment needs.
    pub enrollment_samples: usize,
    /// Least speech a sample must hold, seconds.
    pub min_speech_seconds: f32,
    /// When repeated rejections lock a user's verification.
    pub lockout: Lockout,
    /// Keep uploaded samples after processing (otherwise they are deleted).
    pub keep_samples: bool,
}

impl VoiceSettings {
    /// The voice handlers' part of a worker's and the fleet's settings,
    /// sealing with `keys`.
    pub(crate) fn new(worker: &WorkerSettings, fleet: &JobsSettings, keys: SealKeys) -> Self {
        Self {
            model_path: worker.voice_model.clone(),
            keys,
            enrollment_samples: fleet.voice_enroll_samples.get(),
            min_speech_seconds: worker.voice_min_speech_ms.get() as f32 / 1000.0,
            lockout: fleet.lockout(),
            keep_samples: fleet.voice_keep_samples,
        }
    }
}

/// The voice settings and the engine, loaded on first use and then shared.
pub(crate) struct VoiceRuntime {
    settings: VoiceSettings,
    engine: OnceCell<Arc<VoiceEngine>>,
}

impl std::fmt::Debug for VoiceRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceRuntime")
            .field("settings", &self.settings)
            .field("engine_loaded", &self.engine.initialized())
            .finish()
    }
}

impl VoiceRuntime {
    pub fn new(settings: VoiceSettings) -> Self {
        Self {
            settings,
            engine: OnceCell::new(),
        }
    }

    /// The engine, loading the model on first use. A failed load is not
    /// kept: once the model is in place the next job loads it.
    async fn engine(&self) -> Result<Arc<VoiceEngine>, VoiceJobError> {
        let path = self.settings.model_path.clone();
        let config = EngineConfig {
            enrollment_samples: self.settings.enrollment_samples,
            gates: GateConfig {
                min_speech_seconds: self.settings.min_speech_seconds,
                ..GateConfig::default()
            },
            ..EngineConfig::default()
        };
        let load = || async move {
            let encoder = tokio::task::spawn_blocking(move || Encoder::load(&path))
                .await
                .map_err(|e| Infra::Blocking(e.to_string()))??;
            Ok(Arc::new(VoiceEngine::new(encoder, config)))
        };
        self.engine.get_or_try_init(load).await.cloned()
    }
}

/// The voice runtime of the worker; a voice job on a worker without one is
/// a configuration error, not the job's.
fn runtime(ctx: &JobContext) -> Result<&VoiceRuntime, VoiceJobError> {
    ctx.voice.as_deref().ok_or(VoiceJobError::Unconfigured)
}

/// Refuses sample keys outside the tenant's own samples.
fn check_keys(tenant: TenantId, keys: &[ObjectKey]) -> Result<(), VoiceJobError> {
    match keys.iter().position(|k| !is_sample_of(k, tenant)) {
        Some(i) => Err(VoiceJobError::ForeignSample(i)),
        None => Ok(()),
    }
}

/// Reads one uploaded sample.
async fn fetch(
    stores: &Stores,
    key: &ObjectKey,
    index: usize,
) -> Result<bytes::Bytes, VoiceJobError> {
    stores.objects.get_bytes(key).await.map_err(|e| match e {
        ObjectError::NotFound(_) => VoiceJobError::SampleMissing(index),
        other => other.into(),
    })
}

/// Deletes the samples once the job will not run again, unless they are kept.
async fn clean_up<T>(
    ctx: &JobContext,
    voice: &VoiceRuntime,
    keys: &[ObjectKey],
    outcome: &Result<T, VoiceJobError>,
) {
    let runs_again =
        outcome.as_ref().is_err_and(|e| e.retryable()) && ctx.job.attempt < ctx.job.max_attempts;
    if runs_again || voice.settings.keep_samples {
        return;
    }
    let stores = &ctx.stores;
    for key in keys {
        if let Err(err) = stores.objects.delete(key).await {
            // Its row stays, so forgetting the user still finds the object.
            warn!(key = %key, error = %err, "sample not deleted");
            continue;
        }
        if let Err(err) = stores
            .db
            .voice
            .remove_samples(std::slice::from_ref(key))
            .await
        {
            warn!(key = %key, error = %err, "deleted sample still listed");
        }
    }
}

/// An `f32` as the JSON number that prints the same (0.79, not 0.7900000214576721).
fn json_f32(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

#[cfg(test)]
mod tests {
    use mixdown_voice::GateError;

    use super::*;

    #[test]
    fn every_code_the_engine_gives_is_in_the_catalogue() {
        let gates = [
            GateError::UnsupportedSampleRate(4000),
            GateError::CorruptAudio,
            GateError::TooQuiet {
                level_dbfs: -60.0,
                min_dbfs: -45.0,
            },
            GateError::Clipped { fraction: 0.1 },
            GateError::NotSpeech,
            GateError::TooNoisy {
                snr_db: 3.0,
                min_db: 7.0,
            },
            GateError::TooShort {
                speech_seconds: 0.5,
                min_seconds: 1.5,
            },
        ];
        let engine = gates
            .into_iter()
            .map(|source| VoiceError::Sample { index: 0, source })
            .chain([
                VoiceError::NotEnoughSamples { got: 1, min: 3 },
                VoiceError::ReenrollRequired {
                    print_model: "m0".into(),
                },
            ]);
        for err in engine {
            let failure = VoiceJobError::Engine(err.clone());
            assert_eq!(failure.code().as_str(), err.code(), "{err}");
        }
    }
}
