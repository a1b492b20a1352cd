//! The janitor: removes what nothing else will, by age. Presigned uploads
//! never completed (their row and any object), verification history past
//! the lockout window, voice samples a job never deleted (it timed out, or
//! its worker died), and old notes of forgotten users. It runs inside reconciler passes, under their lead.

use std::time::Duration;

use mixdown_jobs::{Stores, db::StoreError, settings::JobsSettings};
use tracing::{info, warn};

/// Rows looked at per sweep and kind; the next sweep takes the rest.
const BATCH: u32 = 500;
/// How long a forgotten user is noted: longer than an enrollment attempt runs.
const FORGOTTEN_RETENTION: Duration = Duration::from_secs(60 * 60);

/// What the janitor keeps, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct JanitorSettings {
    /// Time between sweeps.
    pub every: Duration,
    /// Scored verifications are kept this long (the lockout window).
    pub attempt_retention: Duration,
    /// Voice samples left behind are deleted after this long; `None` keeps
    /// them (samples are kept on purpose).
    pub sample_retention: Option<Duration>,
}

impl JanitorSettings {
    /// Sweeps once a minute; keeps verification history for the lockout
    /// window and left-behind samples a day (far past any voice job's
    /// queueing and attempts), unless samples are kept on purpose.
    pub fn new(fleet: &JobsSettings) -> Self {
        Self {
            every: Duration::from_secs(60),
            attempt_retention: fleet.voice_lockout_secs.get(),
            sample_retention: (!fleet.voice_keep_samples)
                .then_some(Duration::from_secs(24 * 60 * 60)),
        }
    }
}

/// One sweep over everything the janitor looks after.
pub(crate) async fn sweep(stores: &Stores, settings: &JanitorSettings) -> Result<(), StoreError> {
    let now = stores.clock().now();
    let (tracks, voice) = (&stores.db.tracks, &stores.db.voice);
    let mut uploads = 0;
    for track in tracks.expired_uploads(now, BATCH).await? {
        if tracks.delete_expired_upload(track.id).await? {
            // Deleted after the row, so a row never points at nothing.
            if let Err(err) = stores.objects.delete(&track.original_key).await {
                warn!(key = %track.original_key, error = %err, "expired upload not deleted");
            }
            uploads += 1;
        }
    }
    // Resumable uploads past their time: multipart uploads aborted, tails deleted.
    uploads += mixdown_jobs::tus::sweep_expired(stores, BATCH).await? as u64;
    let attempts = voice
        .prune_attempts(now.minus(settings.attempt_retention))
        .await?;
    voice
        .prune_forgotten_users(now.minus(FORGOTTEN_RETENTION))
        .await?;
    let mut samples = 0;
    if let Some(retention) = settings.sample_retention {
        for key in voice.samples_before(now.minus(retention), BATCH).await? {
            match stores.objects.delete(&key).await {
                Ok(()) => {
                    voice.remove_samples(std::slice::from_ref(&key)).await?;
                    samples += 1;
                }
                Err(err) => warn!(key = %key, error = %err, "left-behind sample not deleted"),
            }
        }
    }
    if uploads + attempts + samples > 0 {
        info!(uploads, attempts, samples, "janitor swept");
    }
    Ok(())
}
