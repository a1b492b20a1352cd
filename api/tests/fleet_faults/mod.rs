//! A failure of the fleet's own stores reaches tenants as a code and the
//! code's sentence, never with its cause (which may name hosts, ports,
//! buckets or paths): an object store on a closed port fails a job and the
//! readiness check.

use mixdown_jobs::{
    Stores,
    codes::ErrorCode,
    objects::{ObjectStore, S3Settings, S3Store},
};
use mixdown_worker::Stepper;
use poem::{http::StatusCode, test::TestClient};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{TestApp, files::ready_track, read};

/// The stores with an object store that answers nothing, and its port.
async fn with_closed_object_store(stores: &Stores) -> (Stores, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    drop(listener);
    let settings = S3Settings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..mixdown_testkit::s3_settings()
    };
    let objects = ObjectStore::S3(S3Store::connect(&settings).await);
    (
        Stores {
            objects,
            ..stores.clone()
        },
        port,
    )
}

/// `text` tells neither where the store is nor what its client said.
fn assert_no_cause(text: &str, port: &str) {
    for told in ["127.0.0.1", port, "refused", "connect", "dispatch"] {
        assert!(!text.contains(told), "{told:?} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failed_by_the_object_store_tells_its_code_and_not_where_it_is() {
    let clock = mixdown_jobs::clock::ManualClock::new();
    let (stores, _dir) = mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
    let app = TestApp::new(stores.clone(), clock).await;
    let track = ready_track(&app).await;
    let body = json!({"kind": "waveform", "max_attempts": 1,
                      "payload": {"track_id": track["track_id"], "format": "png"}});
    let id = app.submit(body).await;

    let (broken, port) = with_closed_object_store(&stores).await;
    Stepper::new(broken, app.plan.clone())
        .await
        .unwrap()
        .run_due()
        .await;
    let job = app.job(&id).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "storage_unavailable", "{job}");
    let meaning = ErrorCode::StorageUnavailable.meaning();
    assert_eq!(job["error"]["message"], meaning, "{job}");
    assert_no_cause(&job.to_string(), &port);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_failed_store_and_not_its_address() {
    let clock = mixdown_jobs::clock::ManualClock::new();
    let (stores, _dir) = mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
    let (broken, port) = with_closed_object_store(&stores).await;
    let app = TestApp::new(broken.clone(), clock).await;
    let (status, public) = read(app.client.get("/readyz").send().await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{public}");
    assert_no_cause(&public.to_string(), &port);
    let ops = TestClient::new(mixdown_api::ops_app(broken, CancellationToken::new()));
    let (status, body) = read(ops.get("/readyz").send().await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["objects"], "unavailable", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert_no_cause(&body.to_string(), &port);
    app.stop().await;
}
