//! Dead-letter replay as a client uses it, on both stores: every failed job
//! of a filter retried in one request (10,000 of them), bulk cancel, and a
//! job's end reported again with a new delivery id.

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code, receiver::Receiver};

both_modes!(
    ten_thousand_failed_jobs_run_again_in_one_request,
    a_filter_narrows_what_is_retried_and_cancelled,
    an_end_is_reported_again_with_a_new_delivery_id,
);

/// Jobs of the big replay.
const DEAD: usize = 10_000;

impl TestApp {
    /// `n` jobs submitted in batches of 1,000, each `job`.
    async fn submit_batches(&self, n: usize, job: Value) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for start in (0..n).step_by(1000) {
            let jobs = vec![job.clone(); (n - start).min(1000)];
            let (status, answer) = self.post("/v1/jobs/batch", json!({ "jobs": jobs })).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            let accepted = answer["jobs"].as_array().unwrap();
            ids.extend(
                accepted
                    .iter()
                    .map(|j| j["job_id"].as_str().unwrap().to_owned()),
            );
        }
        ids
    }

    async fn matched(&self, path: &str, filter: Value) -> u64 {
        let (status, answer) = self.post(path, filter).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["matched"].as_u64().unwrap()
    }

    /// How many of the tenant's jobs are in `state`, read page by page.
    async fn count(&self, state: &str) -> usize {
        let (mut count, mut cursor) = (0, String::new());
        loop {
            let path = format!("/v1/jobs?state={state}&limit=500&cursor={cursor}");
            let path = if cursor.is_empty() {
                path.replace("&cursor=", "")
            } else {
                path
            };
            let (status, page) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            count += page["jobs"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return count,
            }
        }
    }
}

fn failing() -> Value {
    json!({"kind": "noop", "payload": {"fail_permanently": true, "fail_attempts": 1}, "max_attempts": 1})
}

async fn ten_thousand_failed_jobs_run_again_in_one_request(app: &TestApp) {
    let ids = app.submit_batches(DEAD, failing()).await;
    app.run_due().await;
    assert_eq!(app.count("failed").await, DEAD);
    let other = app.again().await;
    let theirs = other.submit(failing()).await;
    other.run_due().await;

    assert_eq!(
        app.matched("/v1/jobs/retry", json!({"state": "failed"}))
            .await,
        DEAD as u64
    );
    assert_eq!(app.count("failed").await, 0);
    assert_eq!(app.count("queued").await, DEAD);
    let job = app.job(&ids[DEAD / 2]).await;
    assert_eq!(
        (job["state"].as_str(), job["error"].as_null()),
        (Some("queued"), Some(())),
        "{job}"
    );
    assert_eq!(job["max_attempts"], 2, "a fresh budget: {job}");
    let depth = app.stores.queue.depth("noop").await.unwrap();
    assert!(
        depth.ready as usize >= DEAD,
        "every retried job was pushed: {depth:?}"
    );
    assert_eq!(
        other.job(&theirs).await["state"],
        "failed",
        "another tenant's job is not theirs to retry"
    );

    other.stop().await;
}

async fn a_filter_narrows_what_is_retried_and_cancelled(app: &TestApp) {
    let early = app.submit_batches(3, failing()).await;
    app.advance(std::time::Duration::from_secs(60));
    let cut = app
        .stores
        .clock()
        .now()
        .minus(std::time::Duration::from_secs(30))
        .to_rfc3339();
    let late = app.submit_batches(4, failing()).await;
    app.run_due().await;

    let retry = |filter: Value| app.matched("/v1/jobs/retry", filter);
    assert_eq!(retry(json!({"kind": "callback"})).await, 0);
    assert_eq!(retry(json!({"created_before": cut})).await, 3);
    assert_eq!(retry(json!({"created_after": cut, "limit": 2})).await, 2);
    assert_eq!(app.count("queued").await, 5);
    for id in &early {
        assert_eq!(app.job(id).await["state"], "queued");
    }

    // Cancel what is queued: those five; then retry the cancelled ones.
    assert_eq!(
        app.matched("/v1/jobs/cancel", json!({"state": "queued"}))
            .await,
        5
    );
    assert_eq!(app.count("cancelled").await, 5);
    assert_eq!(
        app.matched("/v1/jobs/retry", json!({})).await,
        2,
        "failed by default"
    );
    assert_eq!(
        app.matched("/v1/jobs/retry", json!({"state": "cancelled"}))
            .await,
        5
    );
    assert_eq!(app.count("queued").await, late.len() + early.len());

    for (filter, field) in [
        (json!({"state": "ready"}), "state"),
        (json!({"kind": "nope"}), "kind"),
        (json!({"limit": 0}), "limit"),
        (json!({"created_after": "yesterday"}), "created_after"),
        (json!({"stat": "failed"}), "stat"),
    ] {
        let (status, err) = app.post("/v1/jobs/retry", filter).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let field_named = err["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(field_named == field || message.contains(field), "{err}");
    }
    // A state the action cannot act on matches nothing.
    assert_eq!(
        app.matched("/v1/jobs/retry", json!({"state": "queued"}))
            .await,
        0
    );
    assert_eq!(
        app.matched("/v1/jobs/cancel", json!({"state": "failed"}))
            .await,
        0
    );
}

async fn an_end_is_reported_again_with_a_new_delivery_id(app: &TestApp) {
    let receiver = Receiver::start(0).await;
    let id = app
        .submit(json!({"kind": "noop", "payload": {"fail_attempts": 1, "fail_permanently": true}, "callback_url": receiver.url}))
        .await;
    let (status, err) = app
        .post(&format!("/v1/jobs/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::CONFLICT, "not_redeliverable"),
        "{err}"
    );
    app.run_due().await;
    assert_eq!(receiver.posts().len(), 1);

    let (status, report) = app
        .post(&format!("/v1/jobs/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{report}");
    let report = report["job_id"].as_str().unwrap().to_owned();
    app.run_due().await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2, "delivered again");
    assert_ne!(
        posts[0].delivery, posts[1].delivery,
        "with a new delivery id"
    );
    assert_eq!(posts[1].delivery, report);
    assert_eq!(posts[1].json()["event"], "job.failed");
    let job = app.job(&id).await;
    assert_eq!(
        job["callback_job_id"],
        report.as_str(),
        "the job names its latest report"
    );
    app.run_due().await;
    assert_eq!(receiver.posts().len(), 2, "and only once");

    let silent = app.submit(json!({"kind": "noop"})).await;
    app.run_due().await;
    let (status, err) = app
        .post(&format!("/v1/jobs/{silent}/redeliver"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::CONFLICT, "not_redeliverable"),
        "{err}"
    );
    let other = app.again().await;
    let (status, err) = other
        .post(&format!("/v1/jobs/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{err}"
    );
    other.stop().await;
}
