//! Who is at the dashboard: an operator's key, pasted once into the sign-in
//! form and then carried by an HttpOnly, SameSite=Strict cookie (or sent as
//! a bearer key), and the CSRF token each form of that session carries.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use mixdown_jobs::db::random_secret;
use poem::{
    Request, Response, handler,
    http::{StatusCode, header},
    web::Form,
};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::OnceCell;

use super::layout;
use crate::{auth::operator_for_key, error::ApiError, state::AppState};

/// The session cookie's name.
const COOKIE: &str = "mixdown_operator";
/// How long a sign-in lasts.
const SESSION_SECS: u64 = 12 * 3600;
/// Name of the CSRF tokens' key in the database's shared secrets.
const CSRF_SECRET: &str = "dashboard_csrf_key";

/// The key CSRF tokens are made under, read from the shared secrets on first
/// use, so every API replica makes and accepts the same tokens.
#[derive(Debug, Clone, Default)]
pub(super) struct CsrfKey(Arc<OnceCell<Vec<u8>>>);

/// A signed-in operator and the token their forms must carry.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The operator's name.
    pub operator: String,
    /// The CSRF token of this session: an HMAC of its key.
    pub csrf: String,
}

impl Session {
    /// Whether a form's `token` is this session's.
    pub fn accepts(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        // Compared in constant time, so timing tells nothing of the token.
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The key `req` carries: its session cookie's, else a bearer key.
fn presented_key(req: &Request) -> Option<String> {
    let cookies = req.headers().get_all(header::COOKIE);
    let from_cookie = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned());
    from_cookie.or_else(|| {
        let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        auth.strip_prefix("Bearer ").map(|k| k.trim().to_owned())
    })
}

/// The operator's session of `req`, or the page to answer instead: the
/// sign-in form when no key came, the refusal when the key is no operator's.
pub(super) async fn require(req: &Request) -> Result<Session, Response> {
    let Some(key) = presented_key(req) else {
        return Err(layout::html(layout::sign_in(None)));
    };
    session_of(req, &key).await.map_err(|e| layout::refused(&e))
}

async fn session_of(req: &Request, key: &str) -> Result<Session, ApiError> {
    let state = app_state(req)?;
    let operator = operator_for_key(state, key).await?;
    let secret = req
        .data::<CsrfKey>()
        .ok_or_else(|| ApiError::unavailable("dashboard state missing"))?
        .0
        .get_or_try_init(|| async {
            let secrets = &state.stores.db.secrets;
            let key = secrets.shared(CSRF_SECRET, random_secret).await;
            key.map(String::into_bytes)
        })
        .await
        .map_err(ApiError::unavailable)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(b"dashboard-csrf\n");
    mac.update(key.as_bytes());
    let csrf = hex::encode(mac.finalize().into_bytes());
    Ok(Session { operator, csrf })
}

/// The application state of `req`.
pub(super) fn app_state(req: &Request) -> Result<&AppState, ApiError> {
    req.data::<AppState>()
        .ok_or_else(|| ApiError::unavailable("application state missing"))
}

/// Whether the client reached the API over HTTPS (itself, or through a
/// proxy that says so): then the cookie is `Secure`.
fn over_https(req: &Request) -> bool {
    let proxied = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let public = app_state(req).is_ok_and(|s| s.public_url().starts_with("https://"));
    req.uri().scheme_str() == Some("https") || proxied || public
}

/// The session cookie holding `value` for `max_age` seconds (0 ends it).
fn cookie(req: &Request, value: &str, max_age: u64) -> String {
    let secure = if over_https(req) { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// A 303 to `to` that sets `cookie`.
pub(super) fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to);
    if let Some(cookie) = cookie {
        resp = resp.header(header::SET_COOKIE, cookie);
    }
    resp.finish()
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct SignIn {
    key: String,
}

/// `POST /dashboard/session`: an operator's key starts a session; any other
/// key is refused with the sign-in form again.
#[handler]
pub(super) async fn sign_in(req: &Request, form: Form<SignIn>) -> Response {
    let key = form.0.key.trim();
    match session_of(req, key).await {
        Ok(_) => see_other("/dashboard", Some(cookie(req, key, SESSION_SECS))),
        Err(err) => layout::refused(&err),
    }
}

/// The fields of a form that only proves its session.
#[derive(Debug, Deserialize)]
pub(super) struct Plain {
    csrf: String,
}

/// `POST /dashboard/session/end`: signs out.
#[handler]
pub(super) async fn sign_out(req: &Request, form: Form<Plain>) -> Response {
    match require(req).await {
        Ok(session) if session.accepts(&form.0.csrf) => {
            see_other("/dashboard", Some(cookie(req, "", 0)))
        }
        Ok(session) => layout::problem(&session, &csrf_refused()),
        Err(page) => page,
    }
}

/// The refusal of a form without its session's token.
pub(super) fn csrf_refused() -> ApiError {
    ApiError::new(
        mixdown_jobs::codes::ErrorCode::InvalidCsrfToken,
        "the form did not carry this session's token: reload the page and try again",
    )
}
