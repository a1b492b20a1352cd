//! The callback endpoints: the secrets a tenant checks its callbacks'
//! signatures with, and their rotation.

use std::time::Duration;

use mixdown_jobs::callbacks::{CallbackSecrets, SIGNATURE_HEADER};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use crate::{auth::Tenant, error::ApiError, state::AppState};

/// How long a replaced secret keeps signing unless the rotation says.
const DEFAULT_GRACE_SECS: u64 = 86_400;

/// The answer of `GET /v1/callbacks/secret`.
#[derive(Debug, Clone, Object)]
pub struct CallbackSecret {
    /// The tenant's signing secret (hex); the same on every call until it is rotated.
    pub secret: String,
    /// The secret it replaced, which signs each callback too (a second
    /// `v1=`) until `previous_expires_at`; null outside a rotation's grace period.
    pub previous_secret: Option<String>,
    /// When `previous_secret` stops signing.
    pub previous_expires_at: Option<String>,
    /// The header that carries the signature.
    pub header: String,
    /// How the header is made from the secret.
    pub scheme: String,
}

impl From<CallbackSecrets> for CallbackSecret {
    fn from(s: CallbackSecrets) -> Self {
        let (previous_secret, previous_expires_at) = match s.previous {
            Some(p) => (Some(p.secret.expose().clone()), Some(p.until.to_rfc3339())),
            None => (None, None),
        };
        Self {
            secret: s.current.expose().clone(),
            previous_secret,
            previous_expires_at,
            header: SIGNATURE_HEADER.to_owned(),
            scheme: "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">[,v1=<the same under \
                     previous_secret>]"
                .to_owned(),
        }
    }
}

/// The callback endpoints.
pub struct CallbacksApi;

#[OpenApi(prefix_path = "/v1")]
impl CallbacksApi {
    /// The secret the caller's callbacks are signed with. Every callback is a POST of
    /// JSON with `Mixdown-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
    /// "<t>.<body>" under this secret>` and `Mixdown-Delivery: <id>`, the same id for
    /// every retry of one report. During a rotation's grace period a second `v1=`
    /// signs the same under `previous_secret`: a receiver accepts a callback when
    /// any `v1` matches a secret it holds.
    #[oai(path = "/callbacks/secret", method = "get")]
    async fn secret(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
    ) -> poem::Result<Json<CallbackSecret>> {
        let secrets = state.stores.db.secrets.callback_secrets(tenant.0).await;
        Ok(Json(secrets.map_err(ApiError::unavailable)?.into()))
    }

    /// Gives the caller a new callback secret and answers it. The secret it
    /// replaces keeps signing beside it (a second `v1=` in `Mixdown-Signature`)
    /// for `grace_secs`, so receivers can move to the new one without missing a
    /// callback; a secret replaced earlier stops signing at once.
    #[oai(path = "/callbacks/secret/rotate", method = "post")]
    async fn rotate(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// How long the replaced secret keeps signing, in seconds (0 to 604800,
        /// a week); default 86400.
        #[oai(validator(minimum(value = "0"), maximum(value = "604800")))]
        grace_secs: Query<Option<u64>>,
    ) -> poem::Result<Json<CallbackSecret>> {
        let grace = Duration::from_secs(grace_secs.0.unwrap_or(DEFAULT_GRACE_SECS));
        let secrets = state
            .stores
            .db
            .secrets
            .rotate_callback_secret(tenant.0, grace);
        Ok(Json(secrets.await.map_err(ApiError::unavailable)?.into()))
    }
}
