//! Bearer API keys: each belongs to one tenant; and operators' keys, which
//! open the dashboard across tenants and are no tenant's key.

use mixdown_jobs::{codes::ErrorCode, db::OPERATOR_KEY_PREFIX, ids::TenantId};
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use crate::{error::ApiError, state::AppState};

/// The tenant of the request, proven by its `Authorization: Bearer` key.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_key")]
pub struct Tenant(pub TenantId);

async fn check_key(req: &Request, bearer: Bearer) -> poem::Result<TenantId> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::unavailable("application state missing"))?;
    Ok(tenant_of_key(state, &bearer.token).await?)
}

/// The tenant holding `key`, for every route of `/v1` however it reads the key.
pub(crate) async fn tenant_of_key(state: &AppState, key: &str) -> Result<TenantId, ApiError> {
    // Told apart by its prefix, so the refusal costs no query.
    if key.starts_with(OPERATOR_KEY_PREFIX) {
        let message = "an operator's key opens the dashboard, not /v1: use a tenant's key";
        return Err(ApiError::new(ErrorCode::Unauthorized, message));
    }
    state.tenant_for_key(key).await
}

/// The name of the operator holding `key`. A tenant's key is refused with
/// `operator_key_required` (403), any other with `unauthorized` (401).
pub(crate) async fn operator_for_key(state: &AppState, key: &str) -> Result<String, ApiError> {
    let db = &state.stores.db;
    let operator = db.operators.operator_for_key(key).await;
    if let Some(name) = operator.map_err(ApiError::unavailable)? {
        return Ok(name);
    }
    let tenant = db.tenants.tenant_for_key(key).await;
    if tenant.map_err(ApiError::unavailable)?.is_some() {
        let message = "a tenant's key opens /v1, not the dashboard: sign in with an operator's \
                       key (mixdown keys create --operator NAME)";
        return Err(ApiError::new(ErrorCode::OperatorKeyRequired, message));
    }
    Err(ApiError::new(
        ErrorCode::Unauthorized,
        "no operator holds this key",
    ))
}
