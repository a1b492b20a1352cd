//! Operations endpoints every process serves: liveness, readiness, metrics;
//! and the HTTP metrics around every request.

use std::time::{Duration, Instant};

use mixdown_jobs::{Stores, kind::JobKind};
use poem::{
    Endpoint, IntoResponse, Request, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Json},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Routes `/healthz`, `/readyz` and `/metrics` over `stores`.
pub fn ops_routes() -> Route {
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(metrics))
}

#[handler]
fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Fires when the process begins to stop.
#[derive(Debug, Clone)]
pub(crate) struct Draining(pub CancellationToken);

/// Ready when the job store, the queue and the object store all answer and
/// the process is not stopping.
#[handler]
async fn readyz(stores: Data<&Stores>, draining: Data<&Draining>) -> Response {
    if draining.0.0.is_cancelled() {
        let body = json!({"status": "draining"});
        return Json(body)
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response();
    }
    let limit = Duration::from_secs(3);
    // The body says which store failed, not why: the causes name hosts and
    // addresses, and go to the log.
    let check = |store: &str, r: Result<Result<(), String>, _>| match r {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(store, error = %e, "not ready");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!(store, "not ready: no answer in time");
            "timed out"
        }
    };
    let (db, queue, objects) = tokio::join!(
        tokio::time::timeout(limit, async {
            stores.db.ping().await.map_err(|e| e.to_string())
        }),
        tokio::time::timeout(limit, async {
            stores.queue.ping().await.map_err(|e| e.to_string())
        }),
        tokio::time::timeout(limit, async {
            stores.objects.ping().await.map_err(|e| e.to_string())
        }),
    );
    let checks = json!({
        "database": check("database", db),
        "queue": check("queue", queue),
        "objects": check("objects", objects),
    });
    let ready = checks
        .as_object()
        .is_some_and(|c| c.values().all(|v| v == "ok"));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready { "ready" } else { "unavailable" }, "checks": checks});
    Json(body).with_status(status).into_response()
}

#[handler]
async fn metrics(stores: Data<&Stores>) -> Response {
    for kind in JobKind::ALL {
        let queue = kind.queue();
        if let Ok(depth) = stores.queue.depth(queue).await {
            let m = &stores.metrics;
            m.queue_ready
                .with_label_values(&[queue])
                .set(depth.ready as i64);
            m.queue_scheduled
                .with_label_values(&[queue])
                .set(depth.scheduled as i64);
        }
        if let Ok(oldest) = stores.db.jobs.oldest_due(queue).await {
            let now = stores.clock().now();
            let age = oldest.map_or(Duration::ZERO, |t| now.since(t));
            stores
                .metrics
                .queue_oldest_age
                .with_label_values(&[queue])
                .set(age.as_secs_f64());
        }
    }
    stores
        .metrics
        .render()
        .with_content_type("text/plain; version=0.0.4")
        .into_response()
}

/// Routes known to the metrics; anything else is counted as `other`, so
/// probing random paths cannot grow the label set.
const ROUTES: &[&str] = &[
    "/v1/jobs",
    "/v1/jobs/{id}",
    "/v1/jobs/{id}/cancel",
    "/v1/jobs/{id}/retry",
    "/v1/workers",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
];

fn route_label(path: &str) -> &'static str {
    let normalized: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.len() >= 32 && seg.contains('-') {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    let normalized = normalized.join("/");
    ROUTES
        .iter()
        .find(|r| **r == normalized)
        .copied()
        .unwrap_or(if path.starts_with("/docs") {
            "/docs"
        } else {
            "other"
        })
}

/// Counts and times every request by method, route and status.
pub async fn record_http<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let stores = req.data::<Stores>().cloned();
    let method = req.method().to_string();
    let route = route_label(req.uri().path());
    let started = Instant::now();
    let resp = ep.call(req).await.map(IntoResponse::into_response);
    if let Some(stores) = stores {
        let status = match &resp {
            Ok(r) => r.status(),
            Err(e) => e.status(),
        };
        let m = &stores.metrics;
        m.http_requests
            .with_label_values(&[&method, route, status.as_str()])
            .inc();
        m.http_duration
            .with_label_values(&[&method, route])
            .observe(started.elapsed().as_secs_f64());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn ids_collapse_and_unknown_paths_are_other() {
        let id = "01970000-0000-7000-8000-000000000000";
        assert_eq!(
            route_label(&format!("/v1/jobs/{id}/cancel")),
            "/v1/jobs/{id}/cancel"
        );
        assert_eq!(route_label("/v1/nothing/here"), "other");
        assert_eq!(route_label("/docs/index.css"), "/docs");
    }
}
