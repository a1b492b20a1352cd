//! The operators' dashboard at `/dashboard`: server-rendered pages over every
//! tenant's queues, failures, running work, workers and schedules, with retry
//! and cancel, for holders of an operator's key. The only script and style
//! are static files built into the binary, so the pages carry a strict
//! Content-Security-Policy with nothing inline.

mod actions;
mod assets;
mod chart;
mod layout;
mod overview;
mod pages;
mod session;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, error::ResponseError, get,
    http::header, post,
};

/// Every dashboard answer's security headers: only the binary's own script
/// and style run, the pages are never framed or cached, and leave no
/// referrer behind.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

/// The dashboard's routes, to nest under `/dashboard`.
pub(crate) fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(pages::show_overview))
        .at("/jobs/:job_id", get(pages::show_job))
        .at("/jobs/:job_id/retry", post(actions::retry_one))
        .at("/jobs/:job_id/cancel", post(actions::cancel_one))
        .at("/errors/retry", post(actions::retry_code))
        .at("/errors/cancel", post(actions::cancel_code))
        .at("/session", post(session::sign_in))
        .at("/session/end", post(session::sign_out))
        .at("/assets/dashboard.js", get(assets::script))
        .at("/assets/dashboard.css", get(assets::style))
        .data(session::CsrfKey::default())
        .around(secured)
}

/// Adds the security headers to whatever the dashboard answers.
async fn secured<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => crate::error::to_api_error(err).as_response(),
    };
    for (name, value) in SECURITY_HEADERS {
        resp.headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    Ok(resp)
}
