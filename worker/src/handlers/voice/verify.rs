//! `voice_verify`: scores a sample against the user's voiceprint and records
//! the verdict, which the lockout counts.

use mixdown_jobs::{
    db::{ScoredAttempt, StoredVoiceprint},
    voice::{VerifyQuality, VerifyResult, VoiceVerifyPayload, print_binding},
};
use mixdown_voice::{Verification, Voiceprint};
use tokio::runtime::Handle;

use super::{VoiceJobError, VoiceRuntime, audio, check_keys, clean_up, fetch, runtime};
use crate::handlers::{JobContext, blocking};

pub(crate) async fn run(
    p: &VoiceVerifyPayload,
    ctx: &JobContext,
) -> Result<VerifyResult, VoiceJobError> {
    let voice = runtime(ctx)?;
    let keys = std::slice::from_ref(&p.sample);
    let outcome = verify(p, ctx, voice).await;
    clean_up(ctx, voice, keys, &outcome).await;
    outcome
}

async fn verify(
    p: &VoiceVerifyPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
) -> Result<VerifyResult, VoiceJobError> {
    let tenant = ctx.job.tenant_id;
    check_keys(tenant, std::slice::from_ref(&p.sample))?;
    let voice_db = &ctx.stores.db.voice;
    // Checked here too, with this attempt noted first: verifications queued
    // before the lock engaged, or running side by side, must not score past it.
    let lockout = voice.settings.lockout;
    let locked = voice_db.begin_verification(tenant, &p.user_id, ctx.job.id, lockout);
    if let Some(until) = locked.await? {
        return Err(VoiceJobError::Locked(until));
    }
    let verdict = match scored(p, ctx, voice).await {
        Ok(verdict) => verdict,
        Err(err) => {
            if let Err(e) = voice_db.abandon_verification(ctx.job.id).await {
                tracing::warn!(error = %e, "unscored verification still noted");
            }
            return Err(err);
        }
    };
    let attempt = ScoredAttempt {
        job_id: ctx.job.id,
        accepted: verdict.accepted,
        score: f64::from(verdict.score),
    };
    voice_db
        .record_verification(tenant, &p.user_id, attempt)
        .await?;
    let (f, q) = (super::json_f32, verdict.quality);
    Ok(VerifyResult {
        score: f(verdict.score),
        threshold: f(verdict.threshold),
        accepted: verdict.accepted,
        cosine: f(verdict.cosine),
        matched: verdict.condition.name().to_string(),
        quality: VerifyQuality {
            speech_seconds: f(q.speech_seconds),
            snr_db: f(q.snr_db),
            narrow_band: q.narrow_band,
            decay_db_per_s: f(q.decay_db_per_s),
            floor_flatness: f(q.floor_flatness),
        },
    })
}

/// Scores the sample against the user's print.
async fn scored(
    p: &VoiceVerifyPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
) -> Result<Verification, VoiceJobError> {
    let stored = ctx
        .stores
        .db
        .voice
        .print(ctx.job.tenant_id, &p.user_id)
        .await;
    let stored = stored?.ok_or_else(|| VoiceJobError::NotEnrolled(p.user_id.clone()))?;
    let print = open(p, ctx, voice, &stored).await?;
    score(p, ctx, voice, print).await
}

/// Opens the sealed print; one sealed under an old key moves to the current key.
async fn open(
    p: &VoiceVerifyPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
    stored: &StoredVoiceprint,
) -> Result<Voiceprint, VoiceJobError> {
    let (tenant, keys) = (ctx.job.tenant_id, &voice.settings.keys);
    let (corrupt, binding) = (VoiceJobError::Unreadable, print_binding(tenant, &p.user_id));
    let bytes = keys
        .open(&stored.sealed, &binding)
        .map_err(|e| corrupt(e.to_string()))?;
    let print = Voiceprint::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if stored.sealed.key_id != keys.current().id() {
        let resealed = keys.seal(&binding, &bytes);
        let was = &stored.sealed.key_id;
        let moved = ctx
            .stores
            .db
            .voice
            .reseal(tenant, &p.user_id, was, &resealed);
        if let Err(err) = moved.await {
            tracing::warn!(error = %err, "voiceprint not moved to the current key");
        }
    }
    Ok(print)
}

async fn score(
    p: &VoiceVerifyPayload,
    ctx: &JobContext,
    voice: &VoiceRuntime,
    print: Voiceprint,
) -> Result<Verification, VoiceJobError> {
    let engine = voice.engine().await?;
    let (stores, handle, key) = (ctx.stores.clone(), Handle::current(), p.sample.clone());
    blocking(move || {
        let bytes = handle.block_on(fetch(&stores, &key, 0))?;
        let mono = audio::decode(bytes, 0)?;
        Ok(engine.verify(&print, mono.audio())?)
    })
    .await
}
