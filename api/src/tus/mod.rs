//! Resumable uploads over tus 1.0 at `/v1/uploads/tus`: creation (with an
//! upload, with a deferred length), expiration, checksums, termination and
//! concatenation. Each upload is a multipart upload of the object store
//! whose acknowledged parts the database records; any API replica can take
//! the next request, and a lock in the row keeps two PATCHes apart.

mod create;
mod finish;
mod headers;
mod patch;
mod status;

use std::time::Duration;

use mixdown_jobs::{
    codes::ErrorCode,
    ids::{TenantId, TrackId},
    tus::{TusUpload, UploadKind, UploadState},
};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    error::ResponseError,
    handler,
    http::{Method, StatusCode},
    middleware::Cors,
    web::{Data, Path},
};

pub(crate) use self::status::UploadsApi;
use crate::{error::ApiError, state::AppState};

/// How long a PATCH's lock holds without renewal; renewed well before.
const LOCK_TTL: Duration = Duration::from_secs(60);

/// The tus routes, answering browsers of other origins too.
pub(crate) fn routes() -> impl Endpoint {
    Route::new()
        .at("/", poem::post(create::create).options(discovery))
        .at(
            "/:upload_id",
            poem::head(head)
                .patch(patch::patch)
                .delete(terminate)
                .options(discovery),
        )
        .around(protocol)
        .around(method_override)
        .with(cors())
}

/// A browser on another origin may send the tus headers and read the ones
/// a client needs; keys are bearer tokens, never cookies.
fn cors() -> Cors {
    Cors::new()
        .allow_methods([
            Method::POST,
            Method::GET,
            Method::HEAD,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "tus-resumable",
            "upload-length",
            "upload-offset",
            "upload-metadata",
            "upload-defer-length",
            "upload-concat",
            "upload-checksum",
            "x-http-method-override",
            "x-requested-with",
        ])
        .expose_headers([
            "tus-resumable",
            "tus-version",
            "tus-extension",
            "tus-max-size",
            "tus-checksum-algorithm",
            "upload-offset",
            "upload-length",
            "upload-defer-length",
            "upload-metadata",
            "upload-concat",
            "upload-expires",
            "location",
        ])
        .max_age(86400)
}

/// `X-HTTP-Method-Override` on a POST stands for the method an
/// environment cannot send (PATCH, DELETE, HEAD).
async fn method_override<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    if req.method() == Method::POST {
        let wanted = req
            .headers()
            .get("X-HTTP-Method-Override")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Method::from_bytes(v.trim().to_ascii_uppercase().as_bytes()).ok());
        if let Some(method) =
            wanted.filter(|m| [Method::PATCH, Method::DELETE, Method::HEAD].contains(m))
        {
            req.set_method(method);
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Every answer carries `Tus-Resumable`, errors too (with the API's JSON
/// body), and is never cached: offsets change.
async fn protocol<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => crate::error::to_api_error(err).as_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(
        "Tus-Resumable",
        headers::TUS_VERSION.parse().expect("ASCII"),
    );
    headers.insert("Cache-Control", "no-store".parse().expect("ASCII"));
    Ok(resp)
}

/// `OPTIONS`: what this server speaks; no key needed.
#[handler]
fn discovery(state: Data<&AppState>) -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header("Tus-Version", headers::TUS_VERSION)
        .header("Tus-Extension", headers::EXTENSIONS)
        .header("Tus-Max-Size", state.settings.max_upload_bytes)
        .header("Tus-Checksum-Algorithm", headers::CHECKSUM_ALGORITHMS)
        .finish()
}

/// The tenant the request's bearer key proves.
async fn tenant(state: &AppState, req: &Request) -> Result<TenantId, ApiError> {
    let key = crate::edge::bearer(req)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing or unknown API key"))?;
    crate::auth::tenant_of_key(state, &key).await
}

/// The tenant's upload named in the path, checked like every tus request:
/// the protocol version, then the key, then the id (another tenant's: 404).
async fn upload_of(state: &AppState, req: &Request, id: &str) -> Result<TusUpload, ApiError> {
    headers::require_version(req)?;
    let tenant = tenant(state, req).await?;
    let id = TrackId::parse(id).ok_or_else(|| ApiError::not_found("upload"))?;
    let upload = state.stores.db.tus.get(tenant, id).await;
    upload
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("upload"))
}

/// Whether the upload's time ran out (it waits for the janitor).
fn expired(state: &AppState, upload: &TusUpload) -> bool {
    upload.state == UploadState::Receiving && upload.expires_at < state.stores.clock().now()
}

/// The answer with an upload's offset, and its expiry while it takes bytes.
fn with_offset(status: StatusCode, upload: &TusUpload) -> poem::ResponseBuilder {
    let builder = Response::builder()
        .status(status)
        .header("Upload-Offset", upload.offset());
    if upload.state == UploadState::Receiving {
        builder.header("Upload-Expires", headers::http_date(upload.expires_at))
    } else {
        builder
    }
}

/// `HEAD`: the offset, length and metadata. An upload whose bytes all
/// arrived but whose track did not start (the PATCH that brought them
/// failed after storing them) is finished here.
#[handler]
async fn head(
    state: Data<&AppState>,
    req: &Request,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let mut upload = upload_of(&state, req, &id).await?;
    if expired(&state, &upload) {
        return Err(ApiError::not_found("upload").into());
    }
    if upload.is_whole() && upload.state != UploadState::Started {
        upload = finish::when_free(&state, upload).await?;
    }
    let mut resp = with_offset(StatusCode::OK, &upload);
    resp = match upload.length {
        Some(length) => resp.header("Upload-Length", length),
        None => resp.header("Upload-Defer-Length", 1),
    };
    if let Some(metadata) = &upload.metadata {
        resp = resp.header("Upload-Metadata", metadata.as_str());
    }
    match upload.kind {
        UploadKind::Partial => resp = resp.header("Upload-Concat", "partial"),
        UploadKind::Final => {
            let urls: Vec<String> = upload
                .partials
                .iter()
                .map(|&p| location(&state, p))
                .collect();
            resp = resp.header("Upload-Concat", format!("final;{}", urls.join(" ")));
        }
        UploadKind::Single => {}
    }
    Ok(resp.finish())
}

/// `DELETE`: the upload and what it stored are gone; its track, if it
/// started, stays.
#[handler]
async fn terminate(
    state: Data<&AppState>,
    req: &Request,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let upload = upload_of(&state, req, &id).await?;
    let token = patch::lock(&state, &upload).await?;
    let removed = mixdown_jobs::tus::remove_objects(&state.stores, &upload).await;
    if !removed {
        let _ = state.stores.db.tus.unlock(upload.id, &token).await;
        return Err(ApiError::unavailable("an upload's objects could not be removed").into());
    }
    let deleted = state.stores.db.tus.delete(upload.id).await;
    deleted.map_err(ApiError::unavailable)?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).finish())
}

/// Where a client reaches upload `id`.
fn location(state: &AppState, id: TrackId) -> String {
    format!("{}/v1/uploads/tus/{id}", state.public_url())
}
