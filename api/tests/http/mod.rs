//! `http` jobs end to end on both store trios: a request made on a tenant's
//! behalf to a receiver on the loopback, retried and signed like a callback,
//! its secret headers sealed at rest and never shown, its answer kept in part;
//! and the per-destination limit that puts a job off instead of letting it
//! hold a worker's slot.

use std::time::Duration;

use mixdown_api::ApiSettings;
use mixdown_jobs::{
    events::EventId,
    seal::{OldSealKeys, SealKey},
    settings::JobsSettings,
};
use mixdown_worker::{Concurrency, WorkerSettings};
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{
    RETRY_CAP, SECRETS_KEY, TestApp, api_settings, error_code, fleet_settings,
    receiver::{Answers, Receiver},
    worker_settings,
};

both_modes!(
    an_http_job_is_retried_signed_and_never_shows_its_secret,
    a_refusing_receiver_fails_an_http_job_for_good,
    an_http_result_keeps_status_headers_and_the_first_64_kib,
    bad_http_payloads_name_their_field_and_write_nothing,
    a_job_sealed_under_an_old_key_still_runs,
    a_private_destination_is_refused_unless_allowed,
    a_busy_destination_puts_jobs_off_instead_of_holding_slots,
);

/// The secret the cases send, and the part of it that must never show.
const SECRET: &str = "Bearer tok-7f3a9c1e5b";
const TOKEN: &str = "tok-7f3a9c1e5b";

/// A fresh key.
fn key() -> SealKey {
    SealKey::from_base64(&SealKey::generate_base64()).unwrap()
}

/// The fleet's settings with `current` sealing and `old` still opening.
fn keyed(current: SealKey, old: Vec<SealKey>) -> JobsSettings {
    JobsSettings {
        secrets_key: Some(current),
        secrets_old_keys: OldSealKeys(old),
        ..fleet_settings()
    }
}

/// An `http` job to `url` carrying the secret.
fn secret_job(url: &str) -> Value {
    json!({"kind": "http", "payload": {"url": url, "secret_headers": {"Authorization": SECRET}}})
}

/// Every live event of the app's tenant so far, as text.
async fn events_so_far(app: &TestApp) -> String {
    let mut sub = app
        .stores
        .events
        .subscribe(app.tenant, Some(EventId::ZERO))
        .await
        .unwrap();
    let mut text = String::new();
    while let Ok(Some(entries)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await
    {
        entries.iter().for_each(|e| text.push_str(&e.data));
    }
    text
}

async fn an_http_job_is_retried_signed_and_never_shows_its_secret(app: &TestApp) {
    let target = Receiver::answering(Answers {
        refuse: 1,
        status: StatusCode::OK,
        headers: vec![("x-kind", "pong".into())],
        body: b"pong ".to_vec(),
        echo: Some("authorization"),
        ..Answers::default()
    })
    .await;
    let reports = Receiver::start(0).await;
    let id = app
        .submit(
            json!({"kind": "http", "callback_url": reports.url, "payload": {
                "url": target.url,
                "method": "PUT",
                "headers": {"Content-Type": "application/json", "X-Trace": "t-1"},
                "body": "{\"n\": 1}",
                "secret_headers": {"Authorization": SECRET},
                "timeout_ms": 5000,
            }}),
        )
        .await;
    let queued = app.job(&id).await;
    assert_eq!(
        queued["payload"]["secret_headers"],
        json!({"Authorization": "***"})
    );
    assert_eq!(queued["payload"]["headers"]["X-Trace"], "t-1");
    assert_eq!(queued["max_attempts"], 5, "{queued}");

    app.run_due().await;
    let retrying = app.job(&id).await;
    assert_eq!(
        (retrying["state"].as_str(), retrying["attempts"].as_u64()),
        (Some("queued"), Some(1)),
        "{retrying}"
    );
    assert_eq!(retrying["error"]["code"], "http_refused");
    app.advance(RETRY_CAP);
    app.run_due().await;
    let job = app.job(&id).await;
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{job}"
    );

    let posts = target.posts();
    assert_eq!(posts.len(), 2, "503, then 200");
    let (_, secret) = app.get("/v1/callbacks/secret").await;
    let secret = secret["secret"].as_str().unwrap();
    for post in &posts {
        assert_eq!(post.method, "PUT");
        assert_eq!(post.delivery, id, "one delivery id: the job's");
        assert!(post.signed_with(secret), "{post:?}");
        assert_eq!(post.header("authorization"), Some(SECRET));
        assert_eq!(post.header("x-trace"), Some("t-1"));
        assert_eq!(post.header("content-type"), Some("application/json"));
        assert_eq!(post.json(), json!({"n": 1}));
    }

    let result = &job["result"];
    assert_eq!(result["status"], 200);
    assert_eq!(result["headers"]["x-kind"], "pong");
    assert_eq!(
        result["headers"]["x-echo"], "***",
        "an echoed secret is cut out"
    );
    assert_eq!(result["body"], "pong echo: ***");
    assert_eq!(
        (
            result["body_encoding"].as_str(),
            result["body_truncated"].as_bool()
        ),
        (Some("utf-8"), Some(false))
    );

    let reported = reports.posts();
    assert_eq!(reported.len(), 1, "the end is reported");
    assert_eq!(reported[0].json()["result"]["status"], 200);
    let (_, list) = app.get("/v1/jobs?kind=http").await;
    assert_eq!(
        list["jobs"][0]["payload"]["secret_headers"]["Authorization"],
        "***"
    );
    let table = app.jobs_table().await;
    assert!(
        table.contains(&id) && table.contains("Authorization"),
        "{table}"
    );
    let events = events_so_far(app).await;
    assert!(events.contains(&id), "{events}");
    let report = String::from_utf8_lossy(&reported[0].body).into_owned();
    for (place, text) in [
        ("the job", job.to_string()),
        ("the list", list.to_string()),
        ("the report", report),
        ("the live events", events),
        ("the jobs table", table),
    ] {
        assert!(!text.contains(TOKEN), "the secret shows in {place}: {text}");
    }
}

async fn a_refusing_receiver_fails_an_http_job_for_good(app: &TestApp) {
    let target = Receiver::answering(Answers {
        status: StatusCode::NOT_FOUND,
        ..Answers::default()
    })
    .await;
    let id = app.submit(secret_job(&target.url)).await;
    app.run_due().await;
    let job = app.job(&id).await;
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{job}"
    );
    assert_eq!(job["error"]["code"], "http_refused");
    assert!(
        job["error"]["message"].as_str().unwrap().contains("404"),
        "{job}"
    );
    app.advance(RETRY_CAP);
    app.run_due().await;
    assert_eq!(target.posts().len(), 1, "never sent again");
}

async fn an_http_result_keeps_status_headers_and_the_first_64_kib(app: &TestApp) {
    let long = "0123456789abcdef".repeat(100 * 1024 / 16);
    let big = Receiver::answering(Answers {
        status: StatusCode::OK,
        headers: vec![("x-custom", "a".into())],
        body: long.clone().into_bytes(),
        ..Answers::default()
    })
    .await;
    let id = app
        .submit(json!({"kind": "http", "payload": {"url": big.url, "body": "ping"}}))
        .await;
    let binary = Receiver::answering(Answers {
        status: StatusCode::ACCEPTED,
        body: vec![0xff, 0xfe, 0x00],
        ..Answers::default()
    })
    .await;
    let got = app
        .submit(json!({"kind": "http", "payload": {"url": binary.url, "method": "GET"}}))
        .await;
    app.run_due().await;

    let result = app.job(&id).await["result"].clone();
    assert_eq!(result["status"], 200);
    assert_eq!(result["headers"]["x-custom"], "a");
    assert_eq!(result["headers"]["content-length"], "102400");
    let body = result["body"].as_str().unwrap();
    assert_eq!(body.len(), 64 * 1024);
    assert!(long.starts_with(body));
    assert_eq!(
        (
            result["body_encoding"].as_str(),
            result["body_truncated"].as_bool()
        ),
        (Some("utf-8"), Some(true))
    );

    let result = app.job(&got).await["result"].clone();
    assert_eq!(result["status"], 202);
    assert_eq!(
        (result["body"].as_str(), result["body_encoding"].as_str()),
        (Some("//4A"), Some("base64")),
        "{result}"
    );
    let sent = binary.posts();
    assert_eq!((sent[0].method.as_str(), sent[0].body.len()), ("GET", 0));
}

async fn bad_http_payloads_name_their_field_and_write_nothing(app: &TestApp) {
    let api = ApiSettings {
        max_json_bytes: 1 << 20,
        ..api_settings()
    };
    let app = app.like(api, fleet_settings(), worker_settings()).await;
    let url = "https://hooks.example.com/x";
    let with = |payload: Value| json!({"kind": "http", "payload": payload});
    let cases = [
        (json!({"kind": "http"}), "payload"),
        (with(json!({"url": "ftp://x.test/"})), "payload.url"),
        (with(json!({"url": "https://u:p@x.test/"})), "payload.url"),
        (
            with(json!({"url": url, "method": "BREW"})),
            "payload.method",
        ),
        (
            with(json!({"url": url, "headers": {"Host": "evil.test"}})),
            "payload.headers.Host",
        ),
        (
            with(json!({"url": url, "headers": {"Content-Length": "1"}})),
            "payload.headers.Content-Length",
        ),
        (
            with(json!({"url": url, "headers": {"Mixdown-Delivery": "forged"}})),
            "payload.headers.Mixdown-Delivery",
        ),
        (
            with(json!({"url": url, "headers": {"X-A": "a\r\nX-B: b"}})),
            "payload.headers.X-A",
        ),
        (
            with(json!({"url": url, "secret_headers": {"Transfer-Encoding": "chunked"}})),
            "payload.secret_headers.Transfer-Encoding",
        ),
        (
            with(json!({"url": url, "headers": {"x-key": "1"}, "secret_headers": {"X-Key": "2"}})),
            "payload.secret_headers.X-Key",
        ),
        (
            with(json!({"url": url, "method": "GET", "body": "x"})),
            "payload.body",
        ),
        (
            with(json!({"url": url, "body": "b".repeat(256 * 1024 + 1)})),
            "payload.body",
        ),
        (
            with(json!({"url": url, "timeout_ms": 50})),
            "payload.timeout_ms",
        ),
        (
            with(json!({"url": url, "timeout_ms": 60_001})),
            "payload.timeout_ms",
        ),
        (with(json!({"url": url, "colour": "red"})), "payload.colour"),
    ];
    for (body, field) in cases {
        let (status, v) = app.post("/v1/jobs", body.clone()).await;
        let mut shown = body.to_string();
        shown.truncate(300);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{shown} → {v}");
        assert_eq!(error_code(&v), "invalid_payload", "{shown} → {v}");
        assert_eq!(v["error"]["field"].as_str(), Some(field), "{shown} → {v}");
    }
    let (_, page) = app.get("/v1/jobs").await;
    assert_eq!(page["jobs"], json!([]), "no bad request may leave a row");
}

async fn a_job_sealed_under_an_old_key_still_runs(app: &TestApp) {
    let target = Receiver::start(0).await;
    let old = SealKey::from_base64(SECRETS_KEY).unwrap();
    let sealed_before = app.submit(secret_job(&target.url)).await;
    let new = key();
    let rotated = app
        .like(
            api_settings(),
            keyed(new.clone(), vec![old]),
            worker_settings(),
        )
        .await;
    let sealed_after = rotated.submit(secret_job(&target.url)).await;
    rotated.run_due().await;
    for (owner, id) in [(app, &sealed_before), (&rotated, &sealed_after)] {
        assert_eq!(owner.job(id).await["state"], "succeeded", "{id}");
    }
    let posts = target.posts();
    assert_eq!(posts.len(), 2);
    assert!(
        posts
            .iter()
            .all(|p| p.header("authorization") == Some(SECRET))
    );
    let table = app.jobs_table().await;
    assert!(
        table.contains(new.id()),
        "new jobs are sealed under the new key"
    );

    // Without the old key, what it sealed does not open: the job fails for good.
    let forgotten = app.submit(secret_job(&target.url)).await;
    let forgetful = app
        .like(api_settings(), keyed(key(), Vec::new()), worker_settings())
        .await;
    forgetful.run_due().await;
    let job = app.job(&forgotten).await;
    assert_eq!(
        (job["state"].as_str(), job["error"]["code"].as_str()),
        (Some("failed"), Some("secret_headers_unreadable")),
        "{job}"
    );
    assert_eq!(target.posts().len(), 2, "nothing sent without its secret");
}

async fn a_private_destination_is_refused_unless_allowed(app: &TestApp) {
    let target = Receiver::start(0).await;
    let worker = WorkerSettings {
        callback_allow_private: false,
        ..worker_settings()
    };
    let public_only = app.like(api_settings(), fleet_settings(), worker).await;
    let id = public_only.submit(secret_job(&target.url)).await;
    public_only.run_due().await;
    let job = public_only.job(&id).await;
    assert_eq!(
        (job["state"].as_str(), job["error"]["code"].as_str()),
        (Some("failed"), Some("http_address_refused")),
        "{job}"
    );
    assert!(target.posts().is_empty());
}

async fn a_busy_destination_puts_jobs_off_instead_of_holding_slots(app: &TestApp) {
    let slow = Receiver::answering(Answers {
        held: true,
        ..Answers::default()
    })
    .await;
    let fast = Receiver::start(0).await;
    // Two slots, one request at a time per destination.
    let worker = WorkerSettings {
        concurrency: Concurrency::new(2).unwrap(),
        http_per_destination: mixdown_settings::Value::parse("1").unwrap(),
        http_defer_ms: Duration::from_millis(1000).into(),
        ..worker_settings()
    };
    let app = app
        .like(api_settings(), fleet_settings(), worker)
        .await
        .run_worker();
    // Held requests wait for the test, not for a timeout.
    let patient = || json!({"kind": "http", "payload": {"url": slow.url, "timeout_ms": 60_000}});
    let first = app.submit(patient()).await;
    slow.wait_for(1).await;
    let second = app.submit(patient()).await;
    let third = app.submit(secret_job(&fast.url)).await;

    // Held in a slot, the second job would leave the third none.
    let (_, done) = app.get(&format!("/v1/jobs/{third}?wait=10")).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(app.job(&first).await["state"], "running");
    let put_off = app.job(&second).await;
    assert_eq!(
        (
            put_off["state"].as_str(),
            put_off["attempts"].as_u64(),
            put_off["max_attempts"].as_u64()
        ),
        (Some("queued"), Some(1), Some(6)),
        "put off without spending an attempt: {put_off}"
    );
    assert!(put_off["error"].is_null(), "{put_off}");
    assert_eq!(slow.posts().len(), 1, "the second request was never sent");

    slow.let_through(2);
    let (_, done) = app.get(&format!("/v1/jobs/{first}?wait=10")).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    app.advance(Duration::from_secs(1));
    let (_, done) = app.get(&format!("/v1/jobs/{second}?wait=10")).await;
    assert_eq!(
        (done["state"].as_str(), done["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{done}"
    );
    assert_eq!(slow.posts().len(), 2);
    app.stop().await;
}
