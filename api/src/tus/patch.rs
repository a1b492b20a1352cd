//! `PATCH`: bytes at the upload's offset, streamed into its parts under the
//! upload's lock, recorded once the store has them (all or nothing when a
//! checksum was sent).

use bytes::Bytes;
use mixdown_jobs::{
    codes::ErrorCode,
    db::Recorded,
    tus::{Broken, Received, Tail, TusUpload, UploadKind, receive, tail_key},
};
use poem::{
    Body, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path},
};
use tokio::io::AsyncRead;
use tracing::warn;

use super::{LOCK_TTL, expired, finish, headers, upload_of, with_offset};
use crate::{error::ApiError, state::AppState};

/// Takes the upload's lock for this request; another request holding it
/// answers 423.
pub(super) async fn lock(state: &AppState, upload: &TusUpload) -> Result<String, ApiError> {
    let token = uuid_token();
    let until = state.stores.clock().now().plus(LOCK_TTL);
    let taken = state.stores.db.tus.lock(upload.id, &token, until).await;
    if taken.map_err(ApiError::unavailable)? {
        Ok(token)
    } else {
        Err(ApiError::new(
            ErrorCode::UploadLocked,
            "another request is writing this upload",
        ))
    }
}

fn uuid_token() -> String {
    mixdown_jobs::ids::JobId::new().to_string()
}

/// Keeps the lock alive while a long body streams; stops when dropped.
struct Renewal(tokio::task::JoinHandle<()>);

impl Renewal {
    fn start(state: &AppState, upload: &TusUpload, token: &str) -> Self {
        let (state, id, token) = (state.clone(), upload.id, token.to_owned());
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_TTL / 3).await;
                let until = state.stores.clock().now().plus(LOCK_TTL);
                if let Err(err) = state.stores.db.tus.lock(id, &token, until).await {
                    warn!(upload = %id, error = %err, "upload lock not renewed");
                }
            }
        }))
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[handler]
pub(super) async fn patch(
    state: Data<&AppState>,
    req: &Request,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let upload = upload_of(&state, req, &id).await?;
    let content_type = headers::text(req, "Content-Type")?.unwrap_or("");
    if !content_type.eq_ignore_ascii_case(headers::OFFSET_STREAM) {
        let message = format!("a PATCH body is {}", headers::OFFSET_STREAM);
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, message).into());
    }
    let offset = headers::number(req, "Upload-Offset")?.ok_or_else(|| {
        ApiError::invalid_field(ErrorCode::InvalidRequest, "Upload-Offset", "is required")
    })?;
    if upload.kind == UploadKind::Final {
        let message = "a final upload is joined from its partial uploads";
        return Err(ApiError::new(ErrorCode::UploadFinal, message).into());
    }
    if expired(&state, &upload) {
        return Err(ApiError::not_found("upload").into());
    }
    let chunk = Chunk::from_request(&state, req, &upload, offset)?;
    let upload = write(&state, upload, offset, chunk, body.into_async_read()).await?;
    Ok(with_offset(StatusCode::NO_CONTENT, &upload).finish())
}

/// What a request says of the bytes it brings.
pub(super) struct Chunk {
    /// The length a deferred upload declares now.
    length: Option<u64>,
    checksum: Option<headers::Checksum>,
}

impl Chunk {
    /// Bytes of Mixdown's own (joined partial uploads): nothing to check.
    pub(super) fn plain() -> Self {
        Self {
            length: None,
            checksum: None,
        }
    }

    /// The chunk's headers, checked against the upload before any byte is
    /// read: a length that contradicts the declared one, or bytes past it.
    pub(super) fn from_request(
        state: &AppState,
        req: &Request,
        upload: &TusUpload,
        offset: u64,
    ) -> Result<Self, ApiError> {
        let sent = headers::number(req, "Upload-Length")?;
        let length = match (upload.length, sent) {
            (Some(have), Some(sent)) if have != sent => {
                let message = "differs from the length declared before";
                return Err(ApiError::invalid_field(
                    ErrorCode::InvalidRequest,
                    "Upload-Length",
                    message,
                ));
            }
            (None, sent) => sent,
            _ => None,
        };
        let limit = state.settings.max_upload_bytes;
        let most = length.or(upload.length).unwrap_or(limit);
        let body = headers::number(req, "Content-Length")?.unwrap_or(0);
        if most > limit || offset.saturating_add(body) > most {
            return Err(too_large(most.min(limit)));
        }
        let checksum = headers::Checksum::from_request(req)?;
        Ok(Self { length, checksum })
    }
}

pub(super) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the upload takes at most {limit} bytes"),
    )
}

/// Writes `body` at `offset` under the upload's lock, then finishes the
/// upload if it is whole; answers the upload as it now stands.
pub(super) async fn write(
    state: &AppState,
    upload: TusUpload,
    offset: u64,
    chunk: Chunk,
    body: impl AsyncRead + Unpin + Send,
) -> Result<TusUpload, ApiError> {
    let token = lock(state, &upload).await?;
    let written = write_locked(state, &upload, &token, offset, chunk, body).await;
    let unlocked = state.stores.db.tus.unlock(upload.id, &token).await;
    if let Err(err) = unlocked {
        warn!(upload = %upload.id, error = %err, "upload lock not given back; it runs out");
    }
    written
}

async fn write_locked(
    state: &AppState,
    upload: &TusUpload,
    token: &str,
    offset: u64,
    mut chunk: Chunk,
    body: impl AsyncRead + Unpin + Send,
) -> Result<TusUpload, ApiError> {
    let tus = &state.stores.db.tus;
    // Read again under the lock: another replica may have written since.
    let fresh = tus.get(upload.tenant_id, upload.id).await;
    let mut upload = fresh
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    if upload.offset() != offset {
        let message = format!("the upload's offset is {}", upload.offset());
        return Err(ApiError::invalid_field(
            ErrorCode::OffsetMismatch,
            "Upload-Offset",
            message,
        ));
    }
    if upload.length.is_none() {
        upload.length = chunk.length;
    }
    if upload.length.is_some_and(|length| length < offset) {
        let message = "is less than the bytes already received";
        return Err(ApiError::invalid_field(
            ErrorCode::InvalidRequest,
            "Upload-Length",
            message,
        ));
    }
    // Renewed through finishing too: assembling a large upload can outlast the lock.
    let _renewal = Renewal::start(state, &upload, token);
    if !upload.is_whole() {
        store(state, &upload, token, &mut chunk, body).await?;
        let fresh = tus.get(upload.tenant_id, upload.id).await;
        upload = fresh
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::not_found("upload"))?;
    }
    if upload.is_whole() {
        upload = finish::finish(state, upload).await?;
    }
    Ok(upload)
}

/// Streams the body into parts and records what may be kept.
async fn store(
    state: &AppState,
    upload: &TusUpload,
    token: &str,
    chunk: &mut Chunk,
    body: impl AsyncRead + Unpin + Send,
) -> Result<(), ApiError> {
    let objects = &state.stores.objects;
    let carry = match &upload.tail {
        Some(tail) => objects
            .get_bytes(&tail.key)
            .await
            .map_err(ApiError::unavailable)?,
        None => Bytes::new(),
    };
    let limit = match upload.length {
        Some(length) => length - upload.offset(),
        None => state.settings.max_upload_bytes - upload.offset(),
    };
    let mut checksum = chunk.checksum.take();
    let received = receive(objects, upload, carry, body, limit, |bytes| {
        if let Some(sum) = checksum.as_mut() {
            sum.update(bytes);
        }
    })
    .await;
    let all_or_nothing = checksum.is_some();
    match received {
        Received::StoreFailed { parts, error } => {
            if !all_or_nothing && !parts.is_empty() {
                record(state, upload, token, &parts, Bytes::new(), chunk.length).await?;
            }
            Err(ApiError::unavailable(error))
        }
        Received::Read {
            broken: Some(Broken::TooLong),
            ..
        } => Err(too_large(limit + upload.offset())),
        Received::Read {
            broken: Some(Broken::Read(err)),
            parts,
            rest,
            ..
        } => {
            if !all_or_nothing {
                record(state, upload, token, &parts, rest, chunk.length).await?;
            }
            Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!("the body broke off: {err}"),
            ))
        }
        Received::Read {
            parts,
            rest,
            read,
            broken: None,
        } => {
            if checksum.is_some_and(|sum| !sum.matches()) {
                let message = "the chunk does not match Upload-Checksum; it was discarded";
                return Err(ApiError::new(ErrorCode::ChecksumMismatch, message));
            }
            if read > 0 || chunk.length.is_some() {
                record(state, upload, token, &parts, rest, chunk.length).await?;
            }
            Ok(())
        }
    }
}

/// Records stored parts and keeps `rest` as the new tail; the old tail goes
/// once nothing names it.
async fn record(
    state: &AppState,
    upload: &TusUpload,
    token: &str,
    parts: &[mixdown_jobs::objects::StoredPart],
    rest: Bytes,
    length: Option<u64>,
) -> Result<(), ApiError> {
    let objects = &state.stores.objects;
    let tail = if rest.is_empty() {
        None
    } else {
        let key = tail_key(upload.tenant_id, upload.id);
        let size = rest.len() as u64;
        objects
            .put_bytes(&key, rest)
            .await
            .map_err(ApiError::unavailable)?;
        Some(Tail { key, size })
    };
    let recorded = state
        .stores
        .db
        .tus
        .record(upload.id, token, parts, tail.as_ref(), length)
        .await;
    if !matches!(recorded, Ok(Recorded::Stored))
        && let Some(new) = &tail
        && let Err(err) = objects.delete(&new.key).await
    {
        // Named by no row, it would never be swept.
        warn!(key = %new.key, error = %err, "unrecorded upload tail not deleted");
    }
    match recorded.map_err(ApiError::unavailable)? {
        Recorded::Stored => {
            if let Some(old) = &upload.tail
                && tail.as_ref() != Some(old)
                && let Err(err) = objects.delete(&old.key).await
            {
                warn!(key = %old.key, error = %err, "replaced upload tail not deleted");
            }
            Ok(())
        }
        Recorded::LockLost => Err(ApiError::new(
            ErrorCode::UploadLocked,
            "the upload's lock ran out while the body streamed; resume from HEAD's offset",
        )),
    }
}
