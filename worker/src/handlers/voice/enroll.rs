//! `voice_enroll`: every sample must pass the gates; their embeddings make
//! the user's voiceprint, sealed and written over any earlier one.

use mixdown_jobs::voice::{EnrollResult, VoiceEnrollPayload, VoiceprintSummary, print_binding};
use mixdown_voice::Voiceprint;
use tokio::runtime::Handle;

use super::{VoiceJobError, VoiceRuntime, audio, check_keys, clean_up, fetch, runtime};
use crate::handlers::{JobContext, blocking};

pub(crate) async fn run(
    p: &VoiceEnrollPayload,
    ctx: &JobContext,
) -> Result<EnrollResult, VoiceJobError> {
    let voice = runtime(ctx)?;
    let keys = p.samples.as_slice();
    let outcome = enroll(p, ctx, voice).await;
    clean_up(ctx, voice, keys, &outcome).await;
    outcome
}

async fn enroll(
    p: &VoiceEnrollPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
) -> Result<EnrollResult, VoiceJobError> {
    let tenant = ctx.job.tenant_id;
    check_keys(tenant, p.samples.as_slice())?;
    let print = embed_all(p, ctx, voice).await?;
    let sealed = voice
        .settings
        .keys
        .seal(&print_binding(tenant, &p.user_id), &print.to_bytes());
    let summary = VoiceprintSummary {
        model: print.model().to_owned(),
        samples: print.samples(),
        speech_seconds: f64::from(print.speech_seconds()),
    };
    let written =
        ctx.stores
            .db
            .voice
            .put_print(tenant, &p.user_id, &summary, &sealed, ctx.job.run_at);
    if !written.await? {
        return Err(VoiceJobError::UserForgotten);
    }
    Ok(EnrollResult {
        user_id: p.user_id.clone(),
        model: summary.model,
        samples: summary.samples,
        speech_seconds: super::json_f32(print.speech_seconds()),
    })
}

/// Fetches, decodes, gates and embeds the samples one at a time on a
/// blocking thread, so at most one decoded sample is held at once.
async fn embed_all(
    p: &VoiceEnrollPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
) -> Result<Voiceprint, VoiceJobError> {
    let engine = voice.engine().await?;
    let (stores, cancel, handle) = (ctx.stores.clone(), ctx.cancel.clone(), Handle::current());
    let keys = p.samples.as_slice().to_vec();
    blocking(move || {
        let mut enrollment = engine.enrollment();
        for (index, key) in keys.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(VoiceJobError::Cancelled);
            }
            let bytes = handle.block_on(fetch(&stores, key, index))?;
            let mono = audio::decode(bytes, index)?;
            enrollment.add(mono.audio())?;
        }
        Ok(enrollment.finish()?)
    })
    .await
}
