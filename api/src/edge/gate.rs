//! The middleware that holds each request to the edge's limits: a paced
//! body, the cap on uploads running at once, and on `/v1` the tenant's rate
//! (its `RateLimit-*` headers on every answer) with failed keys limited per
//! client address before the database is asked.

use std::{sync::atomic::Ordering, time::Duration};

use mixdown_jobs::codes::ErrorCode;
use poem::{
    Addr, Endpoint, IntoResponse, Request, Response,
    error::ResponseError,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
};
use tracing::warn;

use super::{Edge, rate::Decision};
use crate::{
    error::{ApiError, to_api_error},
    openapi::Methods,
    state::AppState,
};

/// How long a refused upload is told to wait.
const UPLOAD_RETRY: Duration = Duration::from_secs(1);

/// The routes that take an upload's body: (method, template).
const UPLOADS: &[(Method, &str)] = &[
    (Method::POST, "/v1/uploads"),
    (Method::POST, "/v1/voice/enrollments"),
    (Method::POST, "/v1/voice/verifications"),
];

/// Runs `ep` on `req` within the edge's limits.
pub(crate) async fn gate<E: Endpoint>(
    ep: E,
    mut req: Request,
    state: AppState,
    routes: Methods,
) -> poem::Result<Response> {
    let edge = &state.edge;
    let cut = edge.pace.hold(&mut req);
    let resp = if is_v1(req.uri().path()) {
        limited(&ep, req, &state, &routes).await
    } else {
        within_upload_cap(&ep, req, edge, &routes).await
    };
    if cut.load(Ordering::Relaxed) {
        let err = ApiError::new(
            ErrorCode::RequestTimeout,
            "the request body arrived too slowly",
        );
        return Ok(err.as_response());
    }
    Ok(resp)
}

fn is_v1(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// `/v1`: the caller's rate first; failed keys cost their address.
async fn limited<E: Endpoint>(
    ep: &E,
    req: Request,
    state: &AppState,
    routes: &Methods,
) -> Response {
    let edge = &state.edge;
    let address = address_bucket(&req);
    let Some(key) = bearer(&req) else {
        let resp = within_upload_cap(ep, req, edge, routes).await;
        return after_failure(edge, &address, resp).await;
    };
    let caller = match state.cached_caller(&key) {
        Some(caller) => caller,
        None => {
            if !state.knows(&key)
                && let Some(told) = take(edge, &address, &edge.auth_failures, 0).await
                && !told.allowed()
            {
                return refusal(told);
            }
            match state.caller(&key).await {
                Ok(caller) => caller,
                Err(err) if err.code() == ErrorCode::Unauthorized => {
                    return after_failure(edge, &address, err.as_response()).await;
                }
                Err(err) => return err.as_response(),
            }
        }
    };
    let rate = caller.rate.unwrap_or(edge.rate);
    let told = take(edge, &format!("tenant:{}", caller.tenant), &rate, 1).await;
    match told {
        Some(told) if !told.allowed() => refusal(told),
        told => with_headers(within_upload_cap(ep, req, edge, routes).await, told),
    }
}

/// A failed authentication takes a token of its address; past them, 429.
async fn after_failure(edge: &Edge, address: &str, resp: Response) -> Response {
    let cost = u32::from(resp.status() == StatusCode::UNAUTHORIZED);
    match take(edge, address, &edge.auth_failures, cost).await {
        Some(told) if !told.allowed() => refusal(told),
        told => with_headers(resp, told),
    }
}

/// Takes from a bucket; a limiter that cannot be reached lets the request
/// through rather than stopping the API.
async fn take(edge: &Edge, key: &str, rate: &super::RateLimit, cost: u32) -> Option<Decision> {
    match edge.limiter.take(key, rate, cost).await {
        Ok(told) => Some(told),
        Err(err) => {
            warn!(error = %err, "rate limiter unavailable; request let through");
            None
        }
    }
}

/// Uploads beyond the cap answer 503 at once: a client retries sooner than
/// a held connection would time out.
async fn within_upload_cap<E: Endpoint>(
    ep: &E,
    req: Request,
    edge: &Edge,
    routes: &Methods,
) -> Response {
    let _slot = if is_upload(&req, routes) {
        match edge.uploads.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                let err = ApiError::new(
                    ErrorCode::TooManyUploads,
                    "too many uploads are running; try again shortly",
                );
                return err.retry_after(UPLOAD_RETRY.as_secs()).as_response();
            }
        }
    } else {
        None
    };
    match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => to_api_error(err).as_response(),
    }
}

fn is_upload(req: &Request, routes: &Methods) -> bool {
    let path = req.uri().path();
    if req.method() == Method::PUT && path.starts_with("/files/") {
        return true;
    }
    // Resumable uploads are routed outside the document.
    if [Method::POST, Method::PATCH].contains(req.method()) && path.starts_with("/v1/uploads/tus") {
        return true;
    }
    routes
        .template(path)
        .is_some_and(|t| takes_upload(req.method().as_str(), t))
}

/// Whether `method` (any case) on the route `template` takes an upload.
pub(crate) fn takes_upload(method: &str, template: &str) -> bool {
    UPLOADS
        .iter()
        .any(|(m, t)| m.as_str().eq_ignore_ascii_case(method) && *t == template)
}

/// The key of the request's `Authorization: Bearer` header.
pub(crate) fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_owned())
}

/// The bucket of failed authentications from the request's address.
fn address_bucket(req: &Request) -> String {
    match req.remote_addr().0 {
        Addr::SocketAddr(addr) => format!("address:{}", addr.ip()),
        _ => "address:unknown".to_owned(),
    }
}

fn refusal(told: Decision) -> Response {
    let wait = told.retry_after_secs.unwrap_or(1);
    let err = ApiError::new(
        ErrorCode::RateLimited,
        format!("rate limit reached; retry in {wait} s"),
    );
    with_headers(err.retry_after(wait).as_response(), Some(told))
}

fn with_headers(mut resp: Response, told: Option<Decision>) -> Response {
    let Some(told) = told else {
        return resp;
    };
    let headers = resp.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", u64::from(told.limit)),
        ("ratelimit-remaining", u64::from(told.remaining)),
        ("ratelimit-reset", told.reset_secs),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    resp
}
