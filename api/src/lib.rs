//! Mixdown's HTTP API (Poem + poem-openapi): the jobs API of the contract,
//! bearer keys per tenant, the OpenAPI document and docs, and the operations
//! endpoints.

mod auth;
mod error;
mod jobs;
mod ops;
mod payload;
mod state;
mod views;

use poem::{Endpoint, EndpointExt, error::ResponseError};
use poem_openapi::OpenApiService;

pub use error::ApiError;
pub use ops::ops_routes;
pub use state::{ApiSettings, AppState};

/// The whole HTTP application over `state`, testable without a socket.
pub fn app(state: AppState) -> impl Endpoint {
    let api = OpenApiService::new(jobs::JobsApi, "Mixdown", env!("CARGO_PKG_VERSION"));
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let stores = state.stores.clone();
    ops_routes()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api)
        .around(ops::record_http)
        .data(state)
        .data(stores)
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
}

/// Operations routes alone (`/healthz`, `/readyz`, `/metrics`), for worker processes.
pub fn ops_app(stores: mixdown_jobs::Stores) -> impl Endpoint {
    ops_routes()
        .data(stores)
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
}
