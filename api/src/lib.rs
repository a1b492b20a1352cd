//! Mixdown's HTTP API (Poem + poem-openapi): the jobs API of the contract,
//! bearer keys per tenant, the OpenAPI document and docs, and the operations
//! endpoints.

mod auth;
mod callbacks;
mod error;
mod events;
mod files;
mod jobs;
mod ops;
mod paging;
mod payload;
mod settings;
mod signing;
mod social;
mod state;
mod track_jobs;
mod tracks;
mod upload;
mod views;
mod voice;
mod workers;

use poem::{Endpoint, EndpointExt, error::ResponseError};
use poem_openapi::OpenApiService;

pub use error::ApiError;
use ops::Draining;
pub use ops::ops_routes;
pub use settings::ApiSettings;
pub use state::AppState;
use tokio_util::sync::CancellationToken;

/// The whole HTTP application over `state`, testable without a socket.
pub fn app(state: AppState) -> impl Endpoint {
    let apis = (
        callbacks::CallbacksApi,
        events::EventsApi,
        jobs::JobsApi,
        social::SocialApi,
        tracks::TracksApi,
        track_jobs::RenditionsApi,
        voice::VoiceApi,
        workers::WorkersApi,
    );
    let api = OpenApiService::new(apis, "Mixdown", env!("CARGO_PKG_VERSION"));
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let stores = state.stores.clone();
    let draining = Draining(state.draining.clone());
    ops_routes()
        .nest("/files", files::routes())
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api)
        .around(ops::record_http)
        .data(state)
        .data(stores)
        .data(draining)
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
}

/// Operations routes alone (`/healthz`, `/readyz`, `/metrics`), for worker
/// processes; `/readyz` says draining once `draining` fires.
pub fn ops_app(stores: mixdown_jobs::Stores, draining: CancellationToken) -> impl Endpoint {
    ops_routes()
        .data(stores)
        .data(Draining(draining))
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
}
