//! The voice kinds: enrollment and verification. The encoder is loaded once
//! per process, on first use; decoding, gates and embedding run on blocking
//! threads, one sample at a time, stopping between samples when cancelled.

mod audio;
mod enroll;
mod verify;

use std::{path::PathBuf, sync::Arc};

use mixdown_jobs::{
    Stores,
    ids::TenantId,
    objects::{ObjectError, ObjectKey},
    voice::{Lockout, VoiceKeys, is_sample_of},
};
use mixdown_voice::{Encoder, EngineConfig, ModelError, VoiceEngine, VoiceError};
use tokio::sync::OnceCell;
use tracing::warn;

pub(crate) use self::{enroll::run as enroll, verify::run as verify};
use crate::context::{HandlerError, JobContext};

/// What the voice handlers need besides the stores.
#[derive(Debug, Clone)]
pub struct VoiceSettings {
    /// Path of the encoder's weights (`pretrained.pt`).
    pub model_path: PathBuf,
    /// Seals and opens voiceprints.
    pub keys: VoiceKeys,
    /// Good samples an enrollment needs.
    pub enrollment_samples: usize,
    /// When repeated rejections lock a user's verification.
    pub lockout: Lockout,
    /// Keep uploaded samples after processing (otherwise they are deleted).
    pub keep_samples: bool,
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
    async fn engine(&self) -> Result<Arc<VoiceEngine>, HandlerError> {
        let path = self.settings.model_path.clone();
        let config = EngineConfig {
            enrollment_samples: self.settings.enrollment_samples,
            ..EngineConfig::default()
        };
        let load = || async move {
            let encoder = tokio::task::spawn_blocking(move || Encoder::load(&path))
                .await
                .map_err(|e| HandlerError::failed("internal_error", e.to_string(), false))?
                .map_err(model_failure)?;
            Ok(Arc::new(VoiceEngine::new(encoder, config)))
        };
        self.engine.get_or_try_init(load).await.cloned()
    }
}

fn model_failure(err: ModelError) -> HandlerError {
    let code = match err {
        ModelError::Io { .. } => "voice_model_missing",
        ModelError::Format(_) | ModelError::Weight { .. } => "voice_model_invalid",
    };
    HandlerError::failed(code, err.to_string(), false)
}

/// The voice runtime of the worker; a voice job on a worker without one is
/// a configuration error, not the job's.
fn runtime(ctx: &JobContext) -> Result<&VoiceRuntime, HandlerError> {
    ctx.voice.as_deref().ok_or_else(|| {
        HandlerError::failed(
            "voice_unconfigured",
            "this worker runs no voice engine",
            true,
        )
    })
}

/// A refusal of the engine: the gate's code, the sample's index in the message.
fn voice_failure(err: VoiceError) -> HandlerError {
    HandlerError::failed(err.code(), err.to_string(), false)
}

/// Refuses sample keys outside the tenant's own samples.
fn check_keys(tenant: TenantId, keys: &[ObjectKey]) -> Result<(), HandlerError> {
    match keys.iter().position(|k| !is_sample_of(k, tenant)) {
        Some(i) => Err(HandlerError::failed(
            "invalid_payload",
            format!("sample {i}: not a sample of this tenant"),
            false,
        )),
        None => Ok(()),
    }
}

/// Reads one uploaded sample.
async fn fetch(
    stores: &Stores,
    key: &ObjectKey,
    index: usize,
) -> Result<bytes::Bytes, HandlerError> {
    stores.objects.get_bytes(key).await.map_err(|e| match e {
        ObjectError::NotFound(_) => HandlerError::failed(
            "sample_missing",
            format!("sample {index}: the upload is gone (deleted, or already processed)"),
            false,
        ),
        other => HandlerError::storage(other),
    })
}

/// Deletes the samples once the job will not run again, unless they are kept.
async fn clean_up<T>(
    ctx: &JobContext,
    voice: &VoiceRuntime,
    keys: &[ObjectKey],
    outcome: &Result<T, HandlerError>,
) {
    let runs_again = matches!(
        outcome,
        Err(HandlerError::Failed {
            retryable: true,
            ..
        })
    ) && ctx.job.attempt < ctx.job.max_attempts;
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
