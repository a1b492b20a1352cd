//! Operations endpoints every process serves on its ops listener: liveness,
//! readiness with details, metrics; and the public listener's liveness and
//! bare readiness.

use std::{sync::Arc, time::Duration};

use mixdown_jobs::{Stores, kind::JobKind};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler,
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

/// Routes `/healthz` and `/readyz` for anyone: readiness without the
/// details of what is down, and no metrics.
pub(crate) fn public_routes() -> Route {
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz).around(status_only))
}

/// Keeps of an answer its status and the `status` field of its body.
async fn status_only<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let resp = ep.call(req).await?.into_response();
    let code = resp.status();
    let body: serde_json::Value = resp.into_body().into_json().await.unwrap_or_default();
    Ok(Json(json!({"status": body["status"]}))
        .with_status(code)
        .into_response())
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
async fn readyz(stores: Data<&Arc<Stores>>, draining: Data<&Draining>) -> Response {
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
async fn metrics(stores: Data<&Arc<Stores>>) -> Response {
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
