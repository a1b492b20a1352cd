//! Uploads whose time ran out: their multipart upload aborted, their tail
//! and any joined object deleted, then their row.

use tracing::warn;

use super::{TusUpload, UploadState};
use crate::{Stores, db::StoreError, objects::ObjectError};

/// Removes up to `limit` uploads that expired before now; answers how many.
/// An upload whose store objects cannot be removed yet keeps its row, so
/// the next sweep tries again.
pub async fn sweep_expired(stores: &Stores, limit: u32) -> Result<usize, StoreError> {
    let now = stores.clock().now();
    let mut swept = 0;
    for upload in stores.db.tus.expired(now, limit).await? {
        if remove_objects(stores, &upload).await {
            stores.db.tus.delete(upload.id).await?;
            swept += 1;
        }
    }
    Ok(swept)
}

/// Deletes what `upload` keeps in the object store; false when some of it
/// could not be. A started upload's object is its track's original: kept.
pub async fn remove_objects(stores: &Stores, upload: &TusUpload) -> bool {
    let objects = &stores.objects;
    let mut removed = true;
    // A joined upload's multipart upload is gone already.
    if upload.state == UploadState::Receiving
        && let Err(err) = abort(stores, upload).await
    {
        warn!(upload = %upload.id, error = %err, "multipart upload not aborted");
        removed = false;
    }
    let mut keys: Vec<_> = upload.tail.iter().map(|t| t.key.clone()).collect();
    if upload.state != UploadState::Started {
        keys.push(upload.data_key.clone());
    }
    for key in keys {
        if let Err(err) = objects.delete(&key).await {
            warn!(upload = %upload.id, key = %key, error = %err, "upload object not deleted");
            removed = false;
        }
    }
    removed
}

/// Aborts the upload's multipart upload; one the store no longer has (it
/// was joined, and the answer lost) counts as aborted, whatever error the
/// store gives for it.
async fn abort(stores: &Stores, upload: &TusUpload) -> Result<(), ObjectError> {
    let (objects, key, id) = (&stores.objects, &upload.data_key, &upload.multipart);
    match objects.abort_multipart(key, id).await {
        Err(err) if objects.stored_parts(key, id).await? > 0 => Err(err),
        _ => Ok(()),
    }
}
