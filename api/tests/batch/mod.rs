//! Batch enqueue as a client uses it, on both stores: a batch is checked
//! whole (one bad job and nothing is recorded), answered in order, and each
//! job's own idempotency key holds across batches.

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code};

both_modes!(
    one_bad_job_and_no_job_of_the_batch_exists,
    a_batch_is_recorded_in_order_and_keys_hold_per_job,
);

impl TestApp {
    async fn batch(&self, jobs: Value) -> (StatusCode, Value) {
        self.post("/v1/jobs/batch", json!({ "jobs": jobs })).await
    }

    pub(crate) async fn job_count(&self) -> usize {
        let (status, page) = self.get("/v1/jobs?limit=500").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["jobs"].as_array().unwrap().len()
    }
}

async fn one_bad_job_and_no_job_of_the_batch_exists(app: &TestApp) {
    let noop = json!({"kind": "noop", "payload": {"sleep_ms": 0}});
    let cases = [
        (
            json!([noop, {"kind": "noop", "payload": {"sleep_ms": "x"}}, noop]),
            "invalid_payload",
            "jobs[1].payload.sleep_ms",
        ),
        (
            json!([noop, noop, {"kind": "nope"}]),
            "unknown_kind",
            "jobs[2].kind",
        ),
        (
            json!([noop, {"kind": "noop", "priority": 1000}]),
            "invalid_field",
            "jobs[1].priority",
        ),
        (
            json!([
                {"kind": "noop", "idempotency_key": "k"},
                {"kind": "noop", "idempotency_key": "k"}
            ]),
            "invalid_field",
            "jobs[1].idempotency_key",
        ),
        (
            json!([{"kind": "fanout", "payload": {
                "actor_id": "a", "verb": "post", "object_type": "track", "object_id": "t"
            }}]),
            "kind_not_submittable",
            "jobs[0].kind",
        ),
        (
            json!([{"kind": "noop", "callback_url": "ftp://x"}]),
            "invalid_field",
            "jobs[0].callback_url",
        ),
        (json!([]), "invalid_field", "jobs"),
        (
            Value::Array(vec![noop.clone(); 1001]),
            "invalid_field",
            "jobs",
        ),
    ];
    for (jobs, code, field) in cases {
        let (status, err) = app.batch(jobs).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(
            (error_code(&err), err["error"]["field"].as_str()),
            (code, Some(field)),
            "{err}"
        );
    }
    // A job made from a track needs the tenant's own track, as alone.
    let track = "01970000-0000-7000-8000-000000000000";
    let (status, err) = app
        .batch(json!([noop, {"kind": "transcode", "payload": {"track_id": track, "presets": ["mp3_128"]}}]))
        .await;
    assert_eq!(
        (status, error_code(&err), err["error"]["field"].as_str()),
        (StatusCode::NOT_FOUND, "not_found", Some("jobs[1]")),
        "{err}"
    );
    let (status, err) = app.post("/v1/jobs/batch", json!({"job": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(app.job_count().await, 0, "no job of a refused batch exists");
}

async fn a_batch_is_recorded_in_order_and_keys_hold_per_job(app: &TestApp) {
    let jobs = json!([
        {"kind": "noop", "idempotency_key": "first"},
        {"kind": "noop", "payload": {"fail_attempts": 1}, "max_attempts": 2, "priority": 5},
        {"kind": "noop", "idempotency_key": "third", "run_at": "2020-01-01T00:00:00Z"}
    ]);
    let (status, answer) = app.batch(jobs.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let first = answer["jobs"].as_array().unwrap().clone();
    assert_eq!(first.len(), 3);
    for entry in &first {
        assert_eq!(
            (entry["state"].as_str(), entry["duplicate"].as_bool()),
            (Some("queued"), Some(false))
        );
    }
    let second = app.job(first[1]["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (second["priority"].as_i64(), second["max_attempts"].as_u64()),
        (Some(5), Some(2)),
        "{second}"
    );

    // Sent again: the keyed jobs are the first ones; the other is new.
    let (status, again) = app.batch(jobs).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let again = again["jobs"].as_array().unwrap();
    assert_eq!(again[0]["job_id"], first[0]["job_id"]);
    assert_eq!(again[0]["duplicate"], true);
    assert_ne!(again[1]["job_id"], first[1]["job_id"]);
    assert_eq!(again[1]["duplicate"], false);
    assert_eq!(again[2]["job_id"], first[2]["job_id"]);
    // A key is the tenant's whatever the route: POST /v1/jobs finds it too.
    let (status, one) = app
        .post(
            "/v1/jobs",
            json!({"kind": "noop", "idempotency_key": "third", "run_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["job_id"], first[2]["job_id"]);
    assert_eq!(app.job_count().await, 4);

    app.run_due().await;
    app.advance(super::RETRY_CAP);
    app.run_due().await;
    for entry in first.iter().chain(again) {
        let job = app.job(entry["job_id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "succeeded", "{job}");
    }
}
