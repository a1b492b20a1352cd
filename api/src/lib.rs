//! Mixdown's HTTP API (Poem + poem-openapi): the jobs API of the contract,
//! bearer keys per tenant, the OpenAPI document and docs, and the operations
//! endpoints.

mod auth;
mod batch;
mod callbacks;
mod dashboard;
mod dead_letters;
mod edge;
mod error;
mod events;
mod files;
mod http_metrics;
mod intake;
mod jobs;
mod openapi;
mod ops;
mod paging;
mod payload;
mod schedules;
mod settings;
mod signing;
mod social;
mod state;
mod track_jobs;
mod tracks;
mod tus;
mod upload;
mod views;
mod voice;
mod workers;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, IntoResponse, error::ResponseError, web::Html};
use poem_openapi::OpenApiService;

pub use edge::{RateLimit, ServerLimits, serve};
pub use error::ApiError;
use ops::Draining;
pub use ops::ops_routes;
pub use settings::ApiSettings;
pub use signing::UrlSigningKeys;
pub use state::AppState;
use tokio_util::sync::CancellationToken;

/// The whole HTTP application over `state`, testable without a socket.
pub fn app(state: AppState) -> impl Endpoint {
    let apis = (
        batch::BatchApi,
        callbacks::CallbacksApi,
        dead_letters::DeadLettersApi,
        events::EventsApi,
        jobs::JobsApi,
        schedules::SchedulesApi,
        social::SocialApi,
        tracks::TracksApi,
        tus::UploadsApi,
        track_jobs::RenditionsApi,
        voice::VoiceApi,
        workers::WorkersApi,
    );
    let api = OpenApiService::new(apis, "Mixdown", env!("CARGO_PKG_VERSION"));
    let spec = api.spec();
    let facts = openapi::Facts {
        presets: state
            .presets()
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        enroll_samples: state.fleet.voice_enroll_samples.get(),
    };
    let document = openapi::complete(&spec, &facts);
    let routes = openapi::Methods::of(&document);
    // The docs page embeds the document as it is written out.
    let docs = api.swagger_ui_html().replace(&spec, &document);
    // Every request takes a copy of each: shared, not cloned.
    let stores = Arc::new(state.stores.clone());
    let metrics = Arc::new(stores.metrics.clone());
    let draining = Draining(state.draining.clone());
    let gate_state = state.clone();
    let (gate_routes, allow_routes) = (routes.clone(), routes.clone());
    ops::public_routes()
        .nest("/files", files::routes())
        .nest("/dashboard", dashboard::routes())
        .nest("/v1/uploads/tus", tus::routes())
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(document.clone())
            }),
        )
        .at(
            "/docs",
            poem::endpoint::make_sync(move |_| Html(docs.clone())),
        )
        .nest("/", api)
        .data(state)
        .data(stores)
        .data(draining)
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
        .around(move |ep, req| edge::gate(ep, req, gate_state.clone(), gate_routes.clone()))
        .around(move |ep, req| allow_header(ep, req, allow_routes.clone()))
        .around(move |ep, req| http_metrics::record(ep, req, metrics.clone(), routes.clone()))
}

/// Adds to a 405 the `Allow` header of the methods the path takes.
async fn allow_header<E: Endpoint>(
    ep: E,
    req: poem::Request,
    methods: openapi::Methods,
) -> poem::Result<poem::Response> {
    let path = req.uri().path().to_owned();
    let mut resp = ep.call(req).await?.into_response();
    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        let allowed = methods.allowed(&path).unwrap_or("GET");
        if let Ok(value) = poem::http::HeaderValue::from_str(allowed) {
            resp.headers_mut().insert(poem::http::header::ALLOW, value);
        }
    }
    Ok(resp)
}

/// Operations routes alone (`/healthz`, `/readyz` with details, `/metrics`),
/// for the ops listener of every process; `/readyz` says draining once
/// `draining` fires.
pub fn ops_app(stores: mixdown_jobs::Stores, draining: CancellationToken) -> impl Endpoint {
    ops_routes()
        .data(Arc::new(stores))
        .data(Draining(draining))
        .catch_all_error(|err| async move { error::to_api_error(err).as_response() })
}
