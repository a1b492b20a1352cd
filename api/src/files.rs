//! Objects reached through expiring URLs instead of API keys: outputs and
//! cover art of the embedded mode, HLS playlists in every mode (their
//! segment lines are signed on the way out, since a player cannot sign
//! them), and presigned uploads into a directory store. Objects are served
//! as a file server serves files (lengths, validators, one byte range), so
//! that players seek and probes read durations over HTTP.

mod ranges;

use std::time::Duration;

use mixdown_jobs::{
    codes::ErrorCode,
    objects::{ObjectError, ObjectKey},
};
use poem::{
    Body, IntoResponse, Response, Route,
    error::ResponseError,
    handler,
    http::{HeaderMap, StatusCode, header},
    web::{Data, Path, Query},
};
use tokio::io::AsyncReadExt;

use self::ranges::{Answer, Validators};
use crate::{error::ApiError, signing::Signature, state::AppState, upload::store_upload};

/// Largest playlist rewritten: an HLS playlist of a 4-hour track at 10 s
/// segments is about 60 kB.
const MAX_PLAYLIST_BYTES: u64 = 4 << 20;

/// How long a client may keep a served object without asking again.
const CACHE_CONTROL: &str = "private, max-age=300";

/// The routes under `/files`; `HEAD` is a `GET` without its body.
pub(crate) fn routes() -> Route {
    Route::new().at("/*key", poem::get(serve).put(receive))
}

/// A URL that reads `key` until `ttl` passes: presigned by S3 where it can
/// be, served by the API for playlists and for directory stores.
pub(crate) async fn url_for(
    state: &AppState,
    key: &ObjectKey,
    ttl: Duration,
) -> Result<String, ApiError> {
    if !is_playlist(key) {
        let presigned = state.stores.objects.presign_get(key, ttl).await;
        if let Some(url) = presigned.map_err(ApiError::unavailable)? {
            return Ok(url);
        }
    }
    let signer = state.signer().await?;
    let expires = state.stores.clock().now().plus(ttl);
    let path = signer.sign("GET", &files_path(key), expires);
    Ok(format!("{}{path}", state.public_url()))
}

/// A URL that stores a body under `key` with a plain PUT until `ttl` passes.
pub(crate) async fn upload_url_for(
    state: &AppState,
    key: &ObjectKey,
    ttl: Duration,
) -> Result<String, ApiError> {
    let presigned = state.stores.objects.presign_put(key, ttl).await;
    if let Some(url) = presigned.map_err(ApiError::unavailable)? {
        return Ok(url);
    }
    let signer = state.signer().await?;
    let expires = state.stores.clock().now().plus(ttl);
    let path = signer.sign("PUT", &files_path(key), expires);
    Ok(format!("{}{path}", state.public_url()))
}

fn files_path(key: &ObjectKey) -> String {
    format!("/files/{key}")
}

fn is_playlist(key: &ObjectKey) -> bool {
    key.as_str().ends_with(".m3u8")
}

/// The key of a signed request, or why it is refused.
async fn checked_key(
    state: &AppState,
    method: &str,
    key: &str,
    signature: Option<Signature>,
) -> Result<ObjectKey, ApiError> {
    let refused = || {
        ApiError::new(
            ErrorCode::InvalidSignature,
            "the URL is not signed, its signature does not match, or it has expired",
        )
    };
    let key = ObjectKey::new(key).ok_or_else(refused)?;
    let signature = signature.ok_or_else(refused)?;
    let signer = state.signer().await?;
    if signer.verify(
        method,
        &files_path(&key),
        &signature,
        state.stores.clock().now(),
    ) {
        Ok(key)
    } else {
        Err(refused())
    }
}

fn mime_of(key: &ObjectKey) -> &'static str {
    let ext = key.as_str().rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "aac" => "audio/aac",
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "gif" => "image/gif",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn read_failure(err: ObjectError) -> ApiError {
    match err {
        ObjectError::NotFound(_) => ApiError::not_found("object"),
        other => ApiError::unavailable(other),
    }
}

#[handler]
async fn serve(
    state: Data<&AppState>,
    Path(key): Path<String>,
    signature: Option<Query<Signature>>,
    headers: &HeaderMap,
) -> poem::Result<Response> {
    let key = checked_key(&state, "GET", &key, signature.map(|q| q.0)).await?;
    if is_playlist(&key) {
        return serve_playlist(&state, &key).await;
    }
    let objects = &state.stores.objects;
    let meta = objects.stat(&key).await.map_err(read_failure)?;
    let meta = meta.ok_or_else(|| ApiError::not_found("object"))?;
    let validators = Validators::of(meta.size, meta.modified);
    let response = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &validators.etag)
        .header(header::LAST_MODIFIED, validators.last_modified())
        .header(header::CACHE_CONTROL, CACHE_CONTROL);
    let range = match ranges::answer(headers, &validators, meta.size) {
        Answer::NotModified => return Ok(response.status(StatusCode::NOT_MODIFIED).finish()),
        Answer::Unsatisfiable => return Ok(unsatisfiable(meta.size)),
        Answer::Full => return stream(&state, &key, 0..meta.size, response).await,
        Answer::Partial(range) => range,
    };
    let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, meta.size);
    let response = response
        .status(StatusCode::PARTIAL_CONTENT)
        .header(header::CONTENT_RANGE, content_range);
    stream(&state, &key, range, response).await
}

/// `response` with the bytes `range` of `key`, read as they are sent.
async fn stream(
    state: &AppState,
    key: &ObjectKey,
    range: std::ops::Range<u64>,
    response: poem::ResponseBuilder,
) -> poem::Result<Response> {
    let length = range.end - range.start;
    let reader = state.stores.objects.read_range(key, range).await;
    let reader = reader.map_err(read_failure)?;
    Ok(response
        .content_type(mime_of(key))
        .header(header::CONTENT_LENGTH, length)
        .body(Body::from_async_read(reader)))
}

/// The 416 for a range past the end of an object of `size` bytes.
fn unsatisfiable(size: u64) -> Response {
    let message = format!("the range asked for starts past the end of the {size} bytes");
    let mut response = ApiError::new(ErrorCode::RangeNotSatisfiable, message).as_response();
    let value = format!("bytes */{size}")
        .parse()
        .expect("a valid header value");
    response.headers_mut().insert(header::CONTENT_RANGE, value);
    response
}

/// A playlist, its segments signed: made anew for each request, so sent
/// whole and without validators.
async fn serve_playlist(state: &AppState, key: &ObjectKey) -> poem::Result<Response> {
    let reader = state.stores.objects.read(key).await.map_err(read_failure)?;
    let mut text = String::new();
    let mut limited = reader.take(MAX_PLAYLIST_BYTES);
    let read = limited.read_to_string(&mut text).await;
    read.map_err(ApiError::unavailable)?;
    let playlist = sign_segments(state, key, &text).await?;
    Ok(Response::builder()
        .content_type(mime_of(key))
        .header(header::CACHE_CONTROL, CACHE_CONTROL)
        .body(playlist)
        .into_response())
}

/// The playlist with every segment line replaced by a URL that reads it.
async fn sign_segments(
    state: &AppState,
    playlist: &ObjectKey,
    text: &str,
) -> Result<String, ApiError> {
    let dir = playlist.as_str().rsplit_once('/').map_or("", |(d, _)| d);
    let ttl = state.url_ttl();
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        let segment = (!line.is_empty() && !line.starts_with('#'))
            .then(|| ObjectKey::new(format!("{dir}/{line}")))
            .flatten();
        match segment {
            Some(key) => {
                let url = match state.stores.objects.presign_get(&key, ttl).await {
                    Ok(Some(url)) => url,
                    // Served beside the playlist: a path relative to it.
                    Ok(None) => {
                        let signer = state.signer().await?;
                        let expires = state.stores.clock().now().plus(ttl);
                        let signed = signer.sign("GET", &files_path(&key), expires);
                        let name = signed.rsplit_once('/').map_or(signed.as_str(), |(_, n)| n);
                        name.to_owned()
                    }
                    Err(e) => return Err(ApiError::unavailable(e)),
                };
                out.push_str(&url);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out)
}

#[handler]
async fn receive(
    state: Data<&AppState>,
    Path(key): Path<String>,
    signature: Option<Query<Signature>>,
    body: Body,
) -> poem::Result<StatusCode> {
    let key = checked_key(&state, "PUT", &key, signature.map(|q| q.0)).await?;
    let limit = state.settings.max_upload_bytes;
    store_upload(&state, &key, body.into_async_read(), limit).await?;
    Ok(StatusCode::OK)
}
