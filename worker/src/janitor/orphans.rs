//! Objects no row names: voice samples of a request that stopped before its
//! rows were written (the client hung up between two parts), files a
//! presigned URL put after its upload was completed, and staged files of
//! writes that never finished. Found by listing their prefixes, not from
//! rows, since no row was written for them.

use std::time::{Duration, SystemTime};

use mixdown_jobs::{
    Stores,
    db::StoreError,
    objects::{ObjectError, ObjectKey},
    tracks::{TrackState, UPLOADS, parse_upload_key},
};
use tracing::warn;

/// What one sweep removed.
#[derive(Debug, Default)]
pub(super) struct Swept {
    pub(super) samples: u64,
    pub(super) uploads: u64,
    pub(super) parts: u64,
}

/// Removes samples unnamed after `grace`, late presigned files, and staged
/// files untouched for `part_grace`.
pub(super) async fn sweep(
    stores: &Stores,
    grace: Duration,
    part_grace: Duration,
) -> Result<Swept, StoreError> {
    let now = stores.clock().now();
    let parts = stores
        .objects
        .remove_stale_parts(now.minus(part_grace).to_system_time())
        .await
        .unwrap_or_else(|err| logged(err, "stale staged files not removed"));
    Ok(Swept {
        samples: unnamed_samples(stores, now.minus(grace).to_system_time()).await?,
        uploads: late_uploads(stores).await?,
        parts,
    })
}

/// Samples written before `before` that no row lists: a request that
/// stored them and stopped. The grace is longer than any request runs.
async fn unnamed_samples(stores: &Stores, before: SystemTime) -> Result<u64, StoreError> {
    let mut removed = 0;
    for object in listed(stores, mixdown_jobs::voice::SAMPLES).await {
        let unnamed =
            object.meta.modified < before && !stores.db.voice.is_listed(&object.key).await?;
        if unnamed && deleted(stores, &object.key).await {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Files under the presigned uploads' prefix whose upload is no longer
/// waiting: put there after it was completed (or forgotten).
async fn late_uploads(stores: &Stores) -> Result<u64, StoreError> {
    let mut removed = 0;
    for object in listed(stores, UPLOADS).await {
        let Some((tenant, track)) = parse_upload_key(&object.key) else {
            continue;
        };
        let track = stores.db.tracks.get(tenant, track).await?;
        let waiting = track.is_some_and(|t| t.state == TrackState::Uploaded);
        if !waiting && deleted(stores, &object.key).await {
            removed += 1;
        }
    }
    Ok(removed)
}

async fn listed(stores: &Stores, prefix: &str) -> Vec<mixdown_jobs::objects::Listed> {
    match stores.objects.list(prefix).await {
        Ok(listed) => listed,
        Err(err) => logged(err, "objects not listed"),
    }
}

async fn deleted(stores: &Stores, key: &ObjectKey) -> bool {
    match stores.objects.delete(key).await {
        Ok(()) => true,
        Err(err) => {
            warn!(key = %key, error = %err, "orphaned object not deleted");
            false
        }
    }
}

/// A failure of the object store during a sweep is logged, and the next
/// sweep tries again.
fn logged<T: Default>(err: ObjectError, what: &str) -> T {
    warn!(error = %err, "{what}");
    T::default()
}
