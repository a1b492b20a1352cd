//! The janitor: removes what nothing else will, by age. Presigned uploads
//! never completed (their row and any object), verification history past
//! the lockout window, voice samples a job never deleted (it timed out, or
//! its worker died), old notes of forgotten users, and objects no row names
//! (`orphans`). It runs inside reconciler passes, under their lead.

mod orphans;

use std::time::Duration;

use mixdown_jobs::{Stores, db::StoreError, settings::JobsSettings, tracks::upload_key};
use tracing::{info, warn};

/// Rows looked at per sweep and kind; the next sweep takes the rest.
const BATCH: u32 = 500;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
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
    /// Voice samples no row names are deleted once this old: longer than
    /// any request that stores samples runs before it writes their rows.
    pub orphan_grace: Duration,
    /// Staged files of the object directory untouched this long are from
    /// writes that stopped: one in progress touches its file at least every
    /// body read timeout.
    pub part_grace: Duration,
}

impl JanitorSettings {
    /// Sweeps once a minute; keeps verification history for the lockout
    /// window and left-behind samples a day (far past any voice job's
    /// queueing and attempts), unless samples are kept on purpose.
    pub fn new(fleet: &JobsSettings) -> Self {
        Self {
            every: Duration::from_secs(60),
            attempt_retention: fleet.voice_lockout_secs.get(),
            sample_retention: (!fleet.voice_keep_samples).then_some(DAY),
            orphan_grace: DAY,
            part_grace: Duration::from_secs(60 * 60),
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
            // Deleted after the row, so a row never points at nothing; the
            // original too, in case a completion moved it there and stopped.
            let upload = upload_key(track.tenant_id, track.id);
            for key in [upload, track.original_key] {
                if let Err(err) = stores.objects.delete(&key).await {
                    warn!(key = %key, error = %err, "expired upload not deleted");
                }
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
    let orphans = orphans::sweep(stores, settings.orphan_grace, settings.part_grace).await?;
    let (unnamed, late, parts) = (orphans.samples, orphans.uploads, orphans.parts);
    if uploads + attempts + samples + unnamed + late + parts > 0 {
        info!(
            uploads,
            attempts, samples, unnamed, late, parts, "janitor swept"
        );
    }
    Ok(())
}
