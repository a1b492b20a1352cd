//! The callback endpoint: the secret a tenant checks its callbacks' signatures with.

use mixdown_jobs::callbacks::SIGNATURE_HEADER;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use crate::{auth::Tenant, error::ApiError, state::AppState};

/// The answer of `GET /v1/callbacks/secret`.
#[derive(Debug, Clone, Object)]
pub struct CallbackSecret {
    /// The tenant's signing secret (hex); the same on every call.
    pub secret: String,
    /// The header that carries the signature.
    pub header: String,
    /// How the header is made from the secret.
    pub scheme: String,
}

/// The callback endpoint.
pub struct CallbacksApi;

#[OpenApi(prefix_path = "/v1")]
impl CallbacksApi {
    /// The secret the caller's callbacks are signed with. Every callback is a POST of
    /// JSON with `Mixdown-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
    /// "<t>.<body>" under this secret>` and `Mixdown-Delivery: <id>`, the same id for
    /// every retry of one report.
    #[oai(path = "/callbacks/secret", method = "get")]
    async fn secret(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
    ) -> poem::Result<Json<CallbackSecret>> {
        let secret = state.stores.db.secrets.callback_secret(tenant.0).await;
        Ok(Json(CallbackSecret {
            secret: secret.map_err(ApiError::unavailable)?,
            header: SIGNATURE_HEADER.to_owned(),
            scheme: "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">".to_owned(),
        }))
    }
}
