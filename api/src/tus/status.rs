//! `GET /v1/uploads/{upload_id}`: how far an upload (resumable or
//! presigned) has come, and its track once processing started.

use mixdown_jobs::{
    ids::TrackId,
    tracks::TrackState,
    tus::{TusUpload, UploadKind, UploadState},
};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use crate::{auth::Tenant, error::ApiError, state::AppState};

/// An upload as clients read it.
#[derive(Debug, Clone, Object)]
pub struct UploadView {
    /// The upload's id (a presigned or single resumable upload's track has the same one).
    pub upload_id: String,
    /// `tus` (resumable) or `presigned`.
    pub protocol: String,
    /// `uploading` until every byte arrived, then the track's state
    /// (`processing`, `ready`, `failed`); a whole partial upload is `complete`.
    pub state: String,
    /// Bytes received (resumable uploads).
    pub offset: Option<u64>,
    /// Bytes declared (resumable uploads; null while deferred).
    pub length: Option<u64>,
    /// The track the upload became, once it is processing.
    pub track_id: Option<String>,
    /// Where to read that track.
    pub status_url: Option<String>,
    /// Until when the upload may still be finished.
    pub expires_at: Option<String>,
}

/// The upload status endpoint.
pub struct UploadsApi;

#[OpenApi(prefix_path = "/v1")]
impl UploadsApi {
    /// Reads an upload: the bytes a resumable upload holds, and the track it
    /// became once processing started.
    #[oai(path = "/uploads/:upload_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        upload_id: Path<String>,
    ) -> poem::Result<Json<UploadView>> {
        let id = TrackId::parse(&upload_id).ok_or_else(|| ApiError::not_found("upload"))?;
        let resumable = state.stores.db.tus.get(tenant.0, id).await;
        if let Some(upload) = resumable.map_err(ApiError::unavailable)? {
            let track = match upload.state {
                UploadState::Started => state.stores.db.tracks.get(tenant.0, id).await,
                _ => Ok(None),
            };
            let track_state = track.map_err(ApiError::unavailable)?.map(|t| t.state);
            return Ok(Json(resumable_view(&upload, track_state)));
        }
        let track = state.stores.db.tracks.get(tenant.0, id).await;
        let track = track.map_err(ApiError::unavailable)?;
        let track = track.ok_or_else(|| ApiError::not_found("upload"))?;
        let started = track.state != TrackState::Uploaded;
        Ok(Json(UploadView {
            upload_id: id.to_string(),
            protocol: "presigned".into(),
            state: state_name(Some(track.state)),
            offset: None,
            length: None,
            track_id: started.then(|| id.to_string()),
            status_url: started.then(|| format!("/v1/tracks/{id}")),
            expires_at: track.upload_expires_at.map(|at| at.to_rfc3339()),
        }))
    }
}

fn state_name(track: Option<TrackState>) -> String {
    match track {
        None | Some(TrackState::Uploaded) => "uploading".into(),
        Some(state) => state.as_str().into(),
    }
}

fn resumable_view(upload: &TusUpload, track: Option<TrackState>) -> UploadView {
    let id = upload.id;
    let state = match (upload.kind, upload.state) {
        (UploadKind::Partial, UploadState::Assembled) => "complete".into(),
        _ => state_name(track),
    };
    UploadView {
        upload_id: id.to_string(),
        protocol: "tus".into(),
        state,
        offset: Some(upload.offset()),
        length: upload.length,
        track_id: track.map(|_| id.to_string()),
        status_url: track.map(|_| format!("/v1/tracks/{id}")),
        expires_at: (upload.state == UploadState::Receiving)
            .then(|| upload.expires_at.to_rfc3339()),
    }
}
