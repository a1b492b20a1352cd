//! A whole upload: its parts joined into its object, then (unless it is a
//! partial upload) its track started as `POST /v1/uploads/{id}/complete`
//! starts one. Each step is recorded, so a retried request or a `HEAD`
//! after a failure picks up where it stopped, and the track starts once.

use mixdown_jobs::{
    codes::ErrorCode,
    tus::{TusUpload, UploadKind, UploadState},
};
use tracing::warn;

use super::patch::lock;
use crate::{error::ApiError, state::AppState, tracks::start_upload};

/// Finishes a whole upload whose lock the caller holds; answers it as it
/// now stands.
pub(super) async fn finish(state: &AppState, mut upload: TusUpload) -> Result<TusUpload, ApiError> {
    let tus = &state.stores.db.tus;
    if upload.state == UploadState::Receiving {
        assemble(state, &upload).await?;
        tus.set_state(upload.id, UploadState::Assembled)
            .await
            .map_err(ApiError::unavailable)?;
        upload.state = UploadState::Assembled;
    }
    if upload.state == UploadState::Assembled && upload.kind != UploadKind::Partial {
        start_upload(state, upload.tenant_id, upload.id).await?;
        tus.set_state(upload.id, UploadState::Started)
            .await
            .map_err(ApiError::unavailable)?;
        upload.state = UploadState::Started;
    }
    Ok(upload)
}

/// Finishes a whole upload unless a request is writing it (that one will).
pub(super) async fn when_free(state: &AppState, upload: TusUpload) -> Result<TusUpload, ApiError> {
    let token = match lock(state, &upload).await {
        Ok(token) => token,
        Err(err) if err.code() == ErrorCode::UploadLocked => return Ok(upload),
        Err(err) => return Err(err),
    };
    let id = upload.id;
    let finished = finish(state, upload).await;
    if let Err(err) = state.stores.db.tus.unlock(id, &token).await {
        warn!(upload = %id, error = %err, "upload lock not given back; it runs out");
    }
    finished
}

/// Joins the recorded parts into the upload's object. A join that the
/// store made before (its answer lost) is found by the object's size.
async fn assemble(state: &AppState, upload: &TusUpload) -> Result<(), ApiError> {
    let objects = &state.stores.objects;
    let parts = state.stores.db.tus.parts(upload.id).await;
    let parts = parts.map_err(ApiError::unavailable)?;
    let joined = objects
        .complete_multipart(&upload.data_key, &upload.multipart, &parts)
        .await;
    let Err(err) = joined else {
        return Ok(());
    };
    let size = objects
        .size(&upload.data_key)
        .await
        .map_err(ApiError::unavailable)?;
    if size.is_some() && size == upload.length {
        warn!(upload = %upload.id, error = %err, "upload was joined before");
        return Ok(());
    }
    Err(ApiError::unavailable(err))
}
