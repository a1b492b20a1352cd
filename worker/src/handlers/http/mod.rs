//! `http`: makes a service's request at its `run_at`, under the rules of
//! every request the fleet sends (see [`super::outbound`]): public addresses
//! only unless allowed, no redirects, the payload's time limit, signed with
//! the tenant's callback secret and this job's id as delivery id; 2xx
//! succeeds, 408, 429, 5xx and network errors are retried with the runtime's
//! backoff, anything else fails for good. The secret headers are opened only
//! here, just before sending, and cut out of what is kept of the answer.
//! A destination at its limit of requests in flight puts the job off.

mod destinations;

use std::collections::BTreeMap;

use mixdown_jobs::{
    backoff::Backoff,
    codes::ErrorCode,
    http::{BodyStart, HttpPayload, HttpResult, Redactor, SecretHeaders},
    seal::{SealError, SealKeys},
    time::Timestamp,
    workflow::Next,
};
use reqwest::{Method, header::HeaderMap};

use self::destinations::Destinations;
use super::{
    JobContext,
    outbound::{Delivery, SendCodes, SendError},
};
use crate::{
    failure::{Failure, Infra, infra_from},
    settings::WorkerSettings,
};

/// The codes an `http` job fails with.
const CODES: SendCodes = SendCodes {
    address_refused: ErrorCode::HttpAddressRefused,
    unreachable: ErrorCode::HttpUnreachable,
    refused: ErrorCode::HttpRefused,
};

/// What `http` jobs share in a worker process.
#[derive(Debug)]
pub(crate) struct HttpRuntime {
    /// Open the secret headers; none when the worker runs no `http` queue.
    keys: Option<SealKeys>,
    /// Requests in flight per destination.
    destinations: Destinations,
    /// How long a job put off waits: the setting, jittered down to half.
    defer: Backoff,
}

impl HttpRuntime {
    pub(crate) fn new(settings: &WorkerSettings, keys: Option<SealKeys>) -> Self {
        let defer = settings.http_defer_ms.get();
        Self {
            keys,
            destinations: Destinations::new(settings.http_per_destination.get() as usize),
            defer: Backoff {
                base: defer,
                cap: defer,
            },
        }
    }

    /// When a job put off at `now` runs again.
    fn later(&self, now: Timestamp) -> Timestamp {
        now.plus(self.defer.delay(1))
    }

    /// The job's secret headers in clear.
    fn open(&self, p: &HttpPayload, ctx: &JobContext) -> Result<SecretHeaders, HttpError> {
        let Some(sealed) = &p.secret_headers else {
            return Ok(SecretHeaders::default());
        };
        let keys = self.keys.as_ref();
        let keys = keys.ok_or_else(|| SealError::UnknownKey(sealed.sealed.key_id.clone()))?;
        Ok(sealed.open(keys, ctx.job.tenant_id)?)
    }
}

/// Why an `http` job did not get its answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The receiver was not reached, or did not take the request.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The secret headers do not open with the configured keys.
    #[error("the secret headers are unreadable: {0}")]
    Secrets(#[from] SealError),
    /// The client cancelled the job.
    #[error("cancelled")]
    Cancelled,
    /// A store failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(HttpError);

impl Failure for HttpError {
    fn code(&self) -> ErrorCode {
        match self {
            HttpError::Send(e) => e.code(CODES),
            HttpError::Secrets(_) => ErrorCode::SecretHeadersUnreadable,
            HttpError::Cancelled => ErrorCode::Cancelled,
            HttpError::Infra(e) => e.code(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            HttpError::Send(e) => e.retryable(),
            HttpError::Secrets(_) | HttpError::Cancelled => false,
            HttpError::Infra(e) => e.retryable(),
        }
    }

    fn cancelled(&self) -> bool {
        matches!(self, HttpError::Cancelled)
    }
}

/// Sends the request, or puts the job off while its destination is at its limit.
pub(crate) async fn run(p: &HttpPayload, ctx: &JobContext) -> Result<Next, HttpError> {
    if ctx.cancel.is_cancelled() {
        return Err(HttpError::Cancelled);
    }
    let Some(_turn) = ctx.http.destinations.take(p.url.destination()) else {
        tracing::debug!(destination = %p.url.destination(), "destination busy; job put off");
        return Ok(Next::Defer(ctx.http.later(ctx.stores.clock().now())));
    };
    let secrets = ctx.http.open(p, ctx)?;
    tokio::select! {
        result = request(p, &secrets, ctx) => Ok(Next::Done(result?.into())),
        () = ctx.cancel.cancelled() => Err(HttpError::Cancelled),
    }
}

async fn request(
    p: &HttpPayload,
    secrets: &SecretHeaders,
    ctx: &JobContext,
) -> Result<HttpResult, HttpError> {
    let signing = ctx
        .stores
        .db
        .secrets
        .callback_secrets(ctx.job.tenant_id)
        .await?;
    let delivery = Delivery {
        method: method(p.method),
        url: p.url.get().as_str(),
        headers: p.headers.iter().chain(secrets.headers().iter()).collect(),
        body: p.body_bytes().to_vec(),
        timeout: p.timeout_ms.get(),
        id: ctx.job.id,
        secrets: &signing,
        signed_at: ctx.stores.clock().now().millis() / 1000,
    };
    let response = ctx.outbound.deliver(delivery).await?;
    Ok(read(response, secrets.redactor()).await?)
}

fn method(m: mixdown_jobs::http::Method) -> Method {
    use mixdown_jobs::http::Method as M;
    match m {
        M::Get => Method::GET,
        M::Head => Method::HEAD,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Patch => Method::PATCH,
        M::Delete => Method::DELETE,
        M::Options => Method::OPTIONS,
    }
}

/// The answer's status and headers, and its body's start read a chunk at a time.
async fn read(
    mut response: reqwest::Response,
    redactor: Redactor,
) -> Result<HttpResult, SendError> {
    let status = response.status().as_u16();
    let headers = kept_headers(response.headers(), &redactor);
    let mut body = BodyStart::new(redactor);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SendError::unreachable(&e))?
    {
        if !body.push(&chunk) {
            break;
        }
    }
    let (body, body_encoding, body_truncated) = body.finish();
    Ok(HttpResult {
        status,
        headers,
        body,
        body_encoding,
        body_truncated,
    })
}

/// Headers by lower-case name, repeated ones joined, secrets cut out.
fn kept_headers(headers: &HeaderMap, redactor: &Redactor) -> BTreeMap<String, String> {
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = redactor.text(&String::from_utf8_lossy(value.as_bytes()));
        kept.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    kept
}
