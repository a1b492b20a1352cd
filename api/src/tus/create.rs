//! `POST`: a new upload (optionally with its first bytes), a partial upload,
//! or a final upload joined from whole partial ones.

use mixdown_jobs::{
    codes::ErrorCode,
    ids::{TenantId, TrackId},
    objects::MultipartId,
    tracks::{NewTrack, original_key},
    tus::{TusUpload, UploadKind, UploadState, partial_key, remove_objects},
};
use poem::{Body, Request, Response, handler, http::StatusCode, web::Data};
use tracing::warn;

use super::{
    headers::{self, Concat},
    location,
    patch::{Chunk, too_large, write},
    tenant, with_offset,
};
use crate::{error::ApiError, state::AppState, tracks::Fields};

/// The metadata keys that describe the track, as `POST /v1/uploads` takes
/// them; others (`filename`, `filetype`, what tus clients add) are kept
/// for `HEAD` only.
const TRACK_FIELDS: [&str; 4] = ["title", "owner_id", "presets", "callback_url"];

#[handler]
pub(super) async fn create(
    state: Data<&AppState>,
    req: &Request,
    body: Body,
) -> poem::Result<Response> {
    headers::require_version(req)?;
    let tenant = tenant(&state, req).await?;
    let metadata = headers::text(req, "Upload-Metadata")?.map(str::to_owned);
    let pairs = metadata.as_deref().map(headers::metadata).transpose()?;
    let (kind, partials) = match headers::concat(req)? {
        Some(Concat::Final(ids)) => (
            UploadKind::Final,
            whole_partials(&state, tenant, &ids).await?,
        ),
        Some(Concat::Partial) => (UploadKind::Partial, Vec::new()),
        None => (UploadKind::Single, Vec::new()),
    };
    let length = match kind {
        UploadKind::Final => Some(partials.iter().filter_map(|p| p.length).sum()),
        _ => declared_length(req)?,
    };
    check_length(&state, length)?;
    let track = track_fields(pairs.unwrap_or_default())?.into_track(&state, tenant)?;
    check_open_uploads(&state, tenant).await?;
    let partial_ids = partials.iter().map(|p| p.id).collect();
    let upload = new_upload(
        &state,
        tenant,
        track.id,
        kind,
        length,
        metadata,
        partial_ids,
    );
    let with_body = headers::text(req, "Content-Type")?
        .is_some_and(|t| t.eq_ignore_ascii_case(headers::OFFSET_STREAM));
    let chunk = match with_body {
        true => Some(Chunk::from_request(&state, req, &upload, 0)?),
        false => None,
    };
    let upload = open(&state, upload, &track).await?;
    let upload = match (kind, chunk) {
        (UploadKind::Final, _) => join(&state, upload, partials).await?,
        (_, Some(chunk)) => write(&state, upload, 0, chunk, body.into_async_read()).await?,
        (_, None) => upload,
    };
    Ok(with_offset(StatusCode::CREATED, &upload)
        .header("Location", location(&state, upload.id))
        .finish())
}

/// The track fields among the metadata pairs.
fn track_fields(pairs: Vec<(String, Option<String>)>) -> Result<Fields, ApiError> {
    let mut fields = Fields::default();
    for (key, value) in pairs {
        if let (true, Some(value)) = (TRACK_FIELDS.contains(&key.as_str()), value) {
            fields.set(&key, value)?;
        }
    }
    Ok(fields)
}

/// A new upload, taking bytes until its time runs out; its multipart
/// upload is begun afterwards.
fn new_upload(
    state: &AppState,
    tenant: TenantId,
    id: TrackId,
    kind: UploadKind,
    length: Option<u64>,
    metadata: Option<String>,
    partials: Vec<TrackId>,
) -> TusUpload {
    let now = state.stores.clock().now();
    TusUpload {
        id,
        tenant_id: tenant,
        kind,
        state: UploadState::Receiving,
        length,
        metadata,
        partials,
        data_key: match kind {
            UploadKind::Partial => partial_key(tenant, id),
            _ => original_key(tenant, id),
        },
        multipart: MultipartId(String::new()),
        tail: None,
        stored: 0,
        parts: 0,
        expires_at: now.plus(state.settings.tus_expiry_secs.get()),
        created_at: now,
    }
}

/// Begins the upload's multipart upload, then records it (and, unless it is
/// a partial upload, its track, waiting for its bytes).
async fn open(
    state: &AppState,
    upload: TusUpload,
    track: &NewTrack,
) -> Result<TusUpload, ApiError> {
    let multipart = state
        .stores
        .objects
        .create_multipart(&upload.data_key)
        .await;
    let upload = TusUpload {
        multipart: multipart.map_err(ApiError::unavailable)?,
        ..upload
    };
    let db = &state.stores.db;
    if upload.kind != UploadKind::Partial {
        let created = db.tracks.create_upload(track, upload.expires_at).await;
        created.map_err(ApiError::unavailable)?;
    }
    db.tus
        .create(&upload)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(upload)
}

/// `Upload-Length`, or `None` for `Upload-Defer-Length: 1`; one is needed.
fn declared_length(req: &Request) -> Result<Option<u64>, ApiError> {
    let length = headers::number(req, "Upload-Length")?;
    let deferred = headers::text(req, "Upload-Defer-Length")?;
    match (length, deferred) {
        (Some(length), None) => Ok(Some(length)),
        (None, Some("1")) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            ErrorCode::InvalidRequest,
            "Upload-Defer-Length",
            "cannot come with Upload-Length",
        )),
        (None, Some(_)) => Err(ApiError::invalid_field(
            ErrorCode::InvalidRequest,
            "Upload-Defer-Length",
            "must be 1",
        )),
        (None, None) => Err(ApiError::invalid_field(
            ErrorCode::InvalidRequest,
            "Upload-Length",
            "is required (or Upload-Defer-Length: 1)",
        )),
    }
}

/// Refuses an empty upload, and one larger than the limit before any byte
/// is stored.
fn check_length(state: &AppState, length: Option<u64>) -> Result<(), ApiError> {
    let limit = state.settings.max_upload_bytes;
    match length {
        Some(0) => Err(ApiError::invalid_field(
            ErrorCode::EmptyAudio,
            "Upload-Length",
            "the upload holds no bytes",
        )),
        Some(length) if length > limit => Err(too_large(limit)),
        _ => Ok(()),
    }
}

async fn check_open_uploads(state: &AppState, tenant: TenantId) -> Result<(), ApiError> {
    let most = state.settings.tus_max_open_uploads;
    let open = state.stores.db.tus.in_flight(tenant).await;
    if open.map_err(ApiError::unavailable)? >= most {
        let message = format!("at most {most} resumable uploads may be open at once");
        return Err(ApiError::new(ErrorCode::TooManyOpenUploads, message).retry_after(60));
    }
    Ok(())
}

/// The tenant's partial uploads `ids`, each whole.
async fn whole_partials(
    state: &AppState,
    tenant: TenantId,
    ids: &[TrackId],
) -> Result<Vec<TusUpload>, ApiError> {
    let mut partials = Vec::with_capacity(ids.len());
    for id in ids {
        let upload = state.stores.db.tus.get(tenant, *id).await;
        let upload = upload
            .map_err(ApiError::unavailable)?
            .filter(|u| u.kind == UploadKind::Partial)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    ErrorCode::NotFound,
                    "Upload-Concat",
                    format!("no partial upload {id}"),
                )
            })?;
        if upload.state != UploadState::Assembled {
            let message = format!("partial upload {id} is not whole yet");
            return Err(ApiError::invalid_field(
                ErrorCode::PartialIncomplete,
                "Upload-Concat",
                message,
            ));
        }
        partials.push(upload);
    }
    Ok(partials)
}

/// Streams the partial uploads' objects, in order, into the final upload,
/// which then finishes; the partial uploads are gone after.
async fn join(
    state: &AppState,
    upload: TusUpload,
    partials: Vec<TusUpload>,
) -> Result<TusUpload, ApiError> {
    let keys: Vec<_> = partials.iter().map(|p| p.data_key.clone()).collect();
    let joined = state.stores.objects.read_joined(&keys).await;
    let joined = joined.map_err(ApiError::unavailable)?;
    let upload = write(state, upload, 0, Chunk::plain(), joined).await?;
    for partial in partials {
        if remove_objects(&state.stores, &partial).await
            && let Err(err) = state.stores.db.tus.delete(partial.id).await
        {
            warn!(upload = %partial.id, error = %err, "joined partial upload not forgotten");
        }
    }
    Ok(upload)
}
