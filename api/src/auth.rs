//! Bearer API keys: each belongs to one tenant.

use mixdown_jobs::ids::TenantId;
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
    Ok(state.tenant_for_key(&bearer.token).await?)
}
