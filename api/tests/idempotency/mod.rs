//! Idempotency keys sent again: the same request answers the first job (or
//! activity), another request under the same key is refused with
//! `idempotency_key_reused` and records nothing, on every route that takes
//! a key.

use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code, read};

both_modes!(
    a_job_key_sent_with_another_request_is_refused,
    a_batch_reusing_a_key_for_another_job_records_nothing,
    concurrent_jobs_under_one_key_make_one_job,
    an_activity_key_sent_with_another_activity_is_refused,
);

impl TestApp {
    /// POSTs `body` to `path` with `Idempotency-Key: key`.
    async fn post_keyed(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        let req = self
            .client
            .post(path)
            .header("Authorization", self.bearer())
            .header("Idempotency-Key", key);
        read(req.body_json(&body).send().await).await
    }
}

fn assert_reused(status: StatusCode, err: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(error_code(err), "idempotency_key_reused", "{err}");
    assert_eq!(err["error"]["field"], field, "{err}");
}

async fn a_job_key_sent_with_another_request_is_refused(app: &TestApp) {
    let first = json!({"kind": "noop", "payload": {"sleep_ms": 5, "fail_attempts": 0}});
    let (status, accepted) = app.post_keyed("/v1/jobs", "k-1", first).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");

    // The same request, its fields in another order and a default spelled out.
    let same =
        json!({"payload": {"fail_attempts": 0, "sleep_ms": 5}, "priority": 0, "kind": "noop"});
    let (status, again) = app.post_keyed("/v1/jobs", "k-1", same).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["job_id"], accepted["job_id"]);

    for other in [
        json!({"kind": "noop", "payload": {"sleep_ms": 6, "fail_attempts": 0}}),
        json!({"kind": "noop", "payload": {"sleep_ms": 5, "fail_attempts": 0}, "max_attempts": 9}),
        json!({"kind": "noop", "payload": {"sleep_ms": 5, "fail_attempts": 0}, "priority": 3}),
    ] {
        let (status, err) = app.post_keyed("/v1/jobs", "k-1", other).await;
        assert_reused(status, &err, "Idempotency-Key");
    }

    // A sealed payload differs each time it is sealed; the request does not.
    let http = json!({"kind": "http", "payload": {
        "url": "https://example.com/hook", "secret_headers": {"authorization": "Bearer s3cret"}}});
    let (status, sealed) = app.post_keyed("/v1/jobs", "k-http", http.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sealed}");
    let (status, resealed) = app.post_keyed("/v1/jobs", "k-http", http).await;
    assert_eq!(status, StatusCode::OK, "{resealed}");
    assert_eq!(resealed["job_id"], sealed["job_id"]);
    let token = json!({"kind": "http", "payload": {
        "url": "https://example.com/hook", "secret_headers": {"authorization": "Bearer other"}}});
    let (status, err) = app.post_keyed("/v1/jobs", "k-http", token).await;
    assert_reused(status, &err, "Idempotency-Key");

    assert_eq!(app.job_count().await, 2);
}

async fn a_batch_reusing_a_key_for_another_job_records_nothing(app: &TestApp) {
    let job = |key: &str, sleep_ms: u64| json!({"kind": "noop", "payload": {"sleep_ms": sleep_ms}, "idempotency_key": key});
    let batch = json!({"jobs": [job("a", 1), job("b", 2)]});
    let (status, first) = app.post("/v1/jobs/batch", batch.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    let (status, again) = app.post("/v1/jobs/batch", batch).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["jobs"][1]["duplicate"], true);
    assert_eq!(again["jobs"][1]["job_id"], first["jobs"][1]["job_id"]);

    let reusing = json!({"jobs": [job("c", 3), job("b", 20)]});
    let (status, err) = app.post("/v1/jobs/batch", reusing).await;
    assert_reused(status, &err, "jobs[1].idempotency_key");
    assert_eq!(
        app.job_count().await,
        2,
        "job c of the refused batch is not recorded"
    );

    // A single POST under a batch's key is held to the batch's request.
    let (status, err) = app.post_keyed("/v1/jobs", "a", job("a", 30)).await;
    assert_reused(status, &err, "Idempotency-Key");
}

/// Jobs sent at once may be recorded together: each is still answered on
/// its own, as if sent alone.
async fn concurrent_jobs_under_one_key_make_one_job(app: &TestApp) {
    let job = json!({"kind": "noop", "payload": {"sleep_ms": 7}});
    let keyed = (0..20).map(|_| app.post_keyed("/v1/jobs", "shared", job.clone()));
    let unkeyed = (0..20).map(|_| app.post("/v1/jobs", job.clone()));
    let (keyed, unkeyed) = futures::join!(join_all(keyed), join_all(unkeyed));
    let created = keyed.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED);
    assert_eq!(created.count(), 1, "{keyed:?}");
    let first = &keyed[0].1["job_id"];
    for (status, answer) in &keyed {
        assert!(
            matches!(*status, StatusCode::ACCEPTED | StatusCode::OK),
            "{answer}"
        );
        assert_eq!(&answer["job_id"], first);
    }
    for (status, answer) in &unkeyed {
        assert_eq!(*status, StatusCode::ACCEPTED, "{answer}");
        assert_ne!(&answer["job_id"], first);
    }
    let other = json!({"kind": "noop", "payload": {"sleep_ms": 8}});
    let (status, err) = app.post_keyed("/v1/jobs", "shared", other).await;
    assert_reused(status, &err, "Idempotency-Key");
    assert_eq!(app.job_count().await, 21);
}

async fn an_activity_key_sent_with_another_activity_is_refused(app: &TestApp) {
    let activity = |object: &str| {
        json!({"actor_id": "artist", "verb": "publish", "object_type": "track",
               "object_id": object, "occurred_at": "2026-01-01T00:00:00Z"})
    };
    let (status, first) = app
        .post_keyed("/v1/activities", "act", activity("t1"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again) = app
        .post_keyed("/v1/activities", "act", activity("t1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["activity_id"], first["activity_id"]);
    let (status, err) = app
        .post_keyed("/v1/activities", "act", activity("t2"))
        .await;
    assert_reused(status, &err, "Idempotency-Key");
    let (_, page) = app.get("/v1/jobs?kind=fanout").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1, "{page}");
}
