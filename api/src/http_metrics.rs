//! HTTP metrics of every request, under labels from fixed sets only: a
//! client choosing methods or paths cannot grow the number of series.

use std::{sync::Arc, time::Instant};

use mixdown_jobs::metrics::Metrics;
use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{Method, StatusCode},
};

use crate::openapi::Methods;

/// Routes outside the OpenAPI document: the path, or a path under it.
const OTHER_ROUTES: &[(&str, &str)] = &[
    ("/files", "/files/{key}"),
    ("/dashboard", "/dashboard"),
    ("/docs", "/docs"),
    ("/healthz", "/healthz"),
    ("/readyz", "/readyz"),
    ("/metrics", "/metrics"),
    ("/openapi.json", "/openapi.json"),
];

/// Statuses the API answers with, counted as themselves; any other is
/// counted by its class.
const STATUSES: &[&str] = &[
    "200", "201", "202", "204", "206", "304", "400", "401", "403", "404", "405", "408", "409",
    "410", "413", "415", "422", "429", "500", "503",
];

/// The route `path` is counted under: the document's template, one of the
/// few routes outside it, or `other`.
fn route_label<'a>(path: &str, routes: &'a Methods) -> &'a str {
    routes.template(path).unwrap_or_else(|| {
        OTHER_ROUTES
            .iter()
            .find(|(route, _)| {
                path.strip_prefix(route)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map_or("other", |(_, label)| label)
    })
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: StatusCode) -> &'static str {
    if let Some(known) = STATUSES.iter().find(|s| **s == status.as_str()) {
        return known;
    }
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counts and times every request by method, route and status.
pub(crate) async fn record<E: Endpoint>(
    ep: E,
    req: Request,
    metrics: Arc<Metrics>,
    routes: Methods,
) -> poem::Result<Response> {
    let method = method_label(req.method());
    let route = route_label(req.uri().path(), &routes);
    let started = Instant::now();
    let resp = ep.call(req).await.map(IntoResponse::into_response);
    let status = match &resp {
        Ok(r) => r.status(),
        Err(e) => e.status(),
    };
    metrics
        .http_requests
        .with_label_values(&[method, route, status_label(status)])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method, route])
        .observe(started.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_collapse_into_templates_and_unknowns_into_fixed_labels() {
        let doc =
            r#"{"paths": {"/v1/jobs/{job_id}/cancel": {"post": {}}, "/v1/uploads": {"post": {}}}}"#;
        let routes = Methods::of(doc);
        let id = "01970000-0000-7000-8000-000000000000";
        let route = |p: &str| route_label(p, &routes).to_owned();
        assert_eq!(
            route(&format!("/v1/jobs/{id}/cancel")),
            "/v1/jobs/{job_id}/cancel"
        );
        assert_eq!(route("/v1/uploads"), "/v1/uploads");
        assert_eq!(route("/v1/nothing/here"), "other");
        assert_eq!(route("/docs/index.css"), "/docs");
        assert_eq!(route("/files/tracks/a/b.mp3"), "/files/{key}");
        assert_eq!(route(&format!("/dashboard/jobs/{id}")), "/dashboard");
        assert_eq!(route("/healthzzz"), "other");
        let bogus = Method::from_bytes(b"M1").unwrap();
        assert_eq!(method_label(&bogus), "other");
        assert_eq!(status_label(StatusCode::from_u16(418).unwrap()), "4xx");
        assert_eq!(status_label(StatusCode::TOO_MANY_REQUESTS), "429");
    }
}
