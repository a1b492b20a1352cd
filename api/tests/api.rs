//! The jobs API of the contract, end to end against the real stores: the
//! fleet trio (Postgres, Redis, S3) and the embedded one (SQLite, in-memory
//! queue, directory). A worker driven step by step runs what a test needs
//! run; a real worker runs in the background where a test is about
//! attempts running beside requests.

use std::time::Duration;

use mixdown_api::{ApiSettings, AppState, app};
use mixdown_jobs::{
    Stores, clock::ManualClock, ids::TenantId, kind::JobKind, seal::SealKey, settings::JobsSettings,
};
use mixdown_worker::{Concurrency, Stepper, WorkerPlan, WorkerSettings, run_worker};
use poem::{
    EndpointExt,
    endpoint::BoxEndpoint,
    http::StatusCode,
    test::{TestClient, TestResponse},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs each case against the fleet trio (Postgres, Redis, S3) and the
/// embedded one (SQLite, in-memory queue, directory), both on a manual
/// clock: what a case waits for, it runs (`TestApp::run_due`) or the time
/// it moves (`TestApp::advance`).
macro_rules! both_modes {
    ($($case:ident),* $(,)?) => {
        mod fleet {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let fleet = mixdown_testkit::FleetStores::with_clock(clock.clone().into()).await;
                    let mut app = super::TestApp::new(fleet.stores.clone(), clock).await;
                    app.database_url = Some(fleet.database.url.clone());
                    super::$case(&app).await;
                    app.stop().await;
                    fleet.cleanup().await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let (stores, dir) =
                        mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
                    let mut app = super::TestApp::new(stores, clock).await;
                    let file = dir.path().join("mixdown.db");
                    app.database_url = Some(format!("sqlite://{}", file.display()));
                    super::$case(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

both_modes!(
    a_submitted_job_runs_and_its_result_can_be_read,
    keys_and_tenants_guard_every_job,
    an_idempotency_key_returns_the_first_job,
    bad_requests_get_precise_errors_and_write_nothing,
    listing_filters_and_pages_with_a_cursor,
    a_queued_job_cancelled_never_runs_and_a_running_one_stops,
    a_failed_job_backs_off_then_is_retried_by_hand,
    operations_endpoints_answer,
    a_client_can_wait_for_a_job_to_end,
    a_job_end_is_reported_by_a_signed_post_retried_until_taken,
    a_rotated_callback_secret_signs_beside_the_old_one_until_its_grace_ends,
);

// After the macro, which the track, voice and events cases use too.
mod batch;
mod dead_letters;
mod events;
mod files;
mod fleet_faults;
mod http;
mod idempotency;
mod receiver;
mod schedules;
mod social;
mod tracks;
mod voice;

fn ms(n: u64) -> mixdown_settings::Millis {
    Duration::from_millis(n).into()
}

/// The API's settings in tests: small bodies, so limits are cheap to reach.
fn api_settings() -> ApiSettings {
    ApiSettings {
        max_json_bytes: 4096,
        ..ApiSettings::default()
    }
}

/// The key sealing http jobs' secret headers in tests (32 bytes of 0x2b).
const SECRETS_KEY: &str = "KysrKysrKysrKysrKysrKysrKysrKysrKysrKysrKys=";

/// The fleet's settings in tests: quick heartbeats and deaths, a key for
/// secret headers.
fn fleet_settings() -> JobsSettings {
    JobsSettings {
        heartbeat_interval_ms: ms(200),
        dead_after_ms: ms(5000),
        secrets_key: Some(SealKey::from_base64(SECRETS_KEY).unwrap()),
        ..JobsSettings::default()
    }
}

/// A worker's settings in tests: short waits, quick retries, receivers on
/// the loopback, the voice model from the cache.
fn worker_settings() -> WorkerSettings {
    WorkerSettings {
        concurrency: Concurrency::new(4).unwrap(),
        poll_interval_ms: ms(20),
        lease_ms: ms(5000),
        reconcile_interval_ms: ms(500),
        redrive_grace_ms: ms(2000),
        drain_timeout_ms: ms(5000),
        retry_base_ms: ms(50),
        retry_cap_ms: ms(200),
        callback_allow_private: true,
        voice_model: mixdown_testkit::voice_model(),
        ..WorkerSettings::default()
    }
}

/// The longest a retry of the test worker waits.
const RETRY_CAP: Duration = Duration::from_millis(200);

struct TestApp {
    client: TestClient<BoxEndpoint<'static>>,
    key: String,
    tenant: TenantId,
    stores: Stores,
    clock: ManualClock,
    plan: WorkerPlan,
    stepper: Stepper,
    stop: CancellationToken,
    worker: Option<JoinHandle<()>>,
    /// Where the database is, for a case that reads rows as stored.
    database_url: Option<String>,
}

impl TestApp {
    async fn new(stores: Stores, clock: ManualClock) -> Self {
        Self::with(
            stores,
            clock,
            api_settings(),
            fleet_settings(),
            worker_settings(),
        )
        .await
    }

    /// An app with a tenant of its own over `stores`; its workers run every
    /// queue, the voice ones when the fleet has a voice key, `http` when it
    /// has a secrets key.
    async fn with(
        stores: Stores,
        clock: ManualClock,
        api: ApiSettings,
        fleet: JobsSettings,
        worker: WorkerSettings,
    ) -> Self {
        let tenant = format!("t-{}", mixdown_testkit::unique());
        let key = stores.db.tenants.create_key(&tenant).await.unwrap();
        let queues = JobKind::ALL
            .into_iter()
            .filter(|k| fleet.voice_key.is_some() || !k.is_voice())
            .filter(|k| fleet.secrets_key.is_some() || *k != JobKind::Http)
            .collect();
        let plan = WorkerPlan {
            queues,
            settings: worker,
            fleet: fleet.clone(),
        };
        let stepper = Stepper::new(stores.clone(), plan.clone()).await.unwrap();
        let ep = app(AppState::new(stores.clone(), api, fleet))
            .map_to_response()
            .boxed();
        Self {
            client: TestClient::new(ep),
            key: key.key,
            tenant: key.tenant_id,
            stores,
            clock,
            plan,
            stepper,
            stop: CancellationToken::new(),
            worker: None,
            database_url: None,
        }
    }

    /// Another tenant's app over the same stores and clock.
    async fn again(&self) -> Self {
        self.like(api_settings(), fleet_settings(), worker_settings())
            .await
    }

    /// Another tenant's app over the same stores, clock and database, with
    /// these settings.
    async fn like(&self, api: ApiSettings, fleet: JobsSettings, worker: WorkerSettings) -> Self {
        let mut app = Self::with(self.stores.clone(), self.clock.clone(), api, fleet, worker).await;
        app.database_url = self.database_url.clone();
        app
    }

    /// Every row of the jobs table, each column as text: what the database
    /// holds, as a dump would show it.
    async fn jobs_table(&self) -> String {
        use sqlx::{Row, any::AnyRow};
        sqlx::any::install_default_drivers();
        let url = self.database_url.as_deref().expect("the case's database");
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let rows: Vec<AnyRow> = sqlx::query("SELECT * FROM jobs")
            .fetch_all(&pool)
            .await
            .unwrap();
        let cell = |row: &AnyRow, i: usize| {
            let text = row.try_get::<Option<String>, _>(i).ok().flatten();
            let int = || {
                row.try_get::<Option<i64>, _>(i)
                    .ok()
                    .flatten()
                    .map(|n| n.to_string())
            };
            let float = || {
                row.try_get::<Option<f64>, _>(i)
                    .ok()
                    .flatten()
                    .map(|n| n.to_string())
            };
            text.or_else(int).or_else(float).unwrap_or_default()
        };
        let lines: Vec<String> = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| cell(row, i))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        pool.close().await;
        lines.join("\n")
    }

    /// Runs every job due now, and what follows from them, until none is due.
    async fn run_due(&self) -> usize {
        self.stepper.run_due().await
    }

    /// Moves the stores' clock.
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Starts a real worker of every queue in the background, as a fleet
    /// runs them.
    fn run_worker(mut self) -> Self {
        let (stores, stop, plan) = (self.stores.clone(), self.stop.clone(), self.plan.clone());
        self.worker = Some(tokio::spawn(async move {
            run_worker(stores, plan, stop).await.unwrap();
        }));
        self
    }

    async fn stop(self) {
        self.stop.cancel();
        if let Some(w) = self.worker {
            w.await.unwrap();
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = self
            .client
            .post(path)
            .header("Authorization", self.bearer());
        read(req.body_json(&body).send().await).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let req = self.client.get(path).header("Authorization", self.bearer());
        read(req.send().await).await
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.key)
    }

    async fn submit(&self, body: Value) -> String {
        let (status, v) = self.post("/v1/jobs", body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
        v["job_id"].as_str().unwrap().to_owned()
    }

    async fn job(&self, id: &str) -> Value {
        let (status, job) = self.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        job
    }

    /// Waits, at most 10 s, until a background worker has claimed job `id`:
    /// what a test of a running attempt has to wait for.
    async fn wait_running(&self, id: &str) -> Value {
        for _ in 0..1000 {
            let job = self.job(id).await;
            if job["state"] == "running" {
                return job;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} never started");
    }
}

async fn read(resp: TestResponse) -> (StatusCode, Value) {
    let status = resp.0.status();
    let bytes = resp.0.into_body().into_bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn a_submitted_job_runs_and_its_result_can_be_read(app: &TestApp) {
    let (status, accepted) = app
        .post(
            "/v1/jobs",
            json!({"kind": "noop", "payload": {"sleep_ms": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(accepted["state"], "queued");
    let id = accepted["job_id"].as_str().unwrap();
    assert_eq!(accepted["status_url"], format!("/v1/jobs/{id}"));
    assert_eq!(app.run_due().await, 1);
    let job = app.job(id).await;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["kind"], "noop");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["result"]["slept_ms"], 10);
    assert!(job["error"].is_null() && job["parent_id"].is_null());
    for field in ["created_at", "started_at", "finished_at", "run_at"] {
        assert!(
            job[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{field}: {job}"
        );
    }
}

async fn keys_and_tenants_guard_every_job(app: &TestApp) {
    let id = app.submit(json!({"kind": "noop"})).await;
    let path = format!("/v1/jobs/{id}");
    let anonymous = read(app.client.get(&path).send().await).await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&anonymous.1), "unauthorized");
    let wrong = app
        .client
        .get(&path)
        .header("Authorization", "Bearer mdk_wrong");
    assert_eq!(read(wrong.send().await).await.0, StatusCode::UNAUTHORIZED);
    let other = app
        .stores
        .db
        .tenants
        .create_key("someone-else")
        .await
        .unwrap()
        .key;
    let theirs = app
        .client
        .get(&path)
        .header("Authorization", format!("Bearer {other}"));
    let (status, body) = read(theirs.send().await).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for probe in [
        "/v1/jobs/not-an-id",
        "/v1/jobs/01970000-0000-7000-8000-000000000000",
    ] {
        assert_eq!(app.get(probe).await.0, StatusCode::NOT_FOUND);
    }
    let cancel = app
        .client
        .post(format!("{path}/cancel"))
        .header("Authorization", format!("Bearer {other}"));
    assert_eq!(read(cancel.send().await).await.0, StatusCode::NOT_FOUND);
}

async fn an_idempotency_key_returns_the_first_job(app: &TestApp) {
    let send = |key: &str, bearer: String| {
        app.client
            .post("/v1/jobs")
            .header("Authorization", bearer)
            .header("Idempotency-Key", key)
            .body_json(&json!({"kind": "noop"}))
            .send()
    };
    let (s1, first) = read(send("k-1", app.bearer()).await).await;
    let (s2, again) = read(send("k-1", app.bearer()).await).await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::OK));
    assert_eq!(first["job_id"], again["job_id"]);
    let other = app
        .stores
        .db
        .tenants
        .create_key("idem-other")
        .await
        .unwrap()
        .key;
    let (s3, theirs) = read(send("k-1", format!("Bearer {other}")).await).await;
    assert_eq!(s3, StatusCode::ACCEPTED);
    assert_ne!(theirs["job_id"], first["job_id"]);
    let (_, page) = app.get("/v1/jobs").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
}

async fn bad_requests_get_precise_errors_and_write_nothing(app: &TestApp) {
    let cases = [
        (
            json!({"kind": "transmogrify"}),
            "unknown_kind",
            Some("kind"),
        ),
        (json!({"payload": {}}), "invalid_field", Some("body")),
        (
            json!({"kind": "noop", "payload": {"sleep_ms": "long"}}),
            "invalid_payload",
            Some("payload.sleep_ms"),
        ),
        (
            json!({"kind": "noop", "payload": {"sleep_ms": -5}}),
            "invalid_payload",
            Some("payload.sleep_ms"),
        ),
        (
            json!({"kind": "noop", "payload": {"fail_attempts": 1_000_000}}),
            "invalid_payload",
            Some("payload.fail_attempts"),
        ),
        (
            json!({"kind": "noop", "payload": [1, 2]}),
            "invalid_payload",
            Some("payload"),
        ),
        (
            json!({"kind": "noop", "priority": 1000}),
            "invalid_field",
            Some("priority"),
        ),
        (
            json!({"kind": "noop", "max_attempts": 0}),
            "invalid_field",
            Some("max_attempts"),
        ),
        (
            json!({"kind": "noop", "run_at": "tomorrow"}),
            "invalid_field",
            Some("run_at"),
        ),
        (
            json!({"kind": "noop", "run_at": "2999-01-01T00:00:00Z"}),
            "invalid_field",
            Some("run_at"),
        ),
        (
            json!({"kind": "noop", "callback_url": "ftp://x"}),
            "invalid_field",
            Some("callback_url"),
        ),
        (
            json!({"kind": "noop", "colour": "red"}),
            "invalid_field",
            Some("colour"),
        ),
        (json!({"kind": 5}), "invalid_field", Some("kind")),
    ];
    for (body, code, field) in cases {
        let (status, v) = app.post("/v1/jobs", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(error_code(&v), code, "{body} → {v}");
        assert_eq!(v["error"]["field"].as_str(), field, "{body} → {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post("/v1/jobs")
            .header("Authorization", app.bearer())
            .content_type(content_type)
            .body(body)
            .send()
    };
    let (status, v) = read(raw("{\"kind\": \"noop\"", "application/json").await).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let (status, v) = read(raw("", "application/json").await).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let (status, v) = read(raw("kind=noop", "application/x-www-form-urlencoded").await).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let huge = format!(
        "{{\"kind\": \"noop\", \"payload\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(10_000)
    );
    let resp = app
        .client
        .post("/v1/jobs")
        .header("Authorization", app.bearer())
        .content_type("application/json")
        .body(huge)
        .send()
        .await;
    let (status, v) = read(resp).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let long_key = "k".repeat(300);
    let resp = app
        .client
        .post("/v1/jobs")
        .header("Authorization", app.bearer())
        .header("Idempotency-Key", long_key)
        .body_json(&json!({"kind": "noop"}))
        .send()
        .await;
    assert_eq!(read(resp).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, page) = app.get("/v1/jobs").await;
    assert_eq!(page["jobs"], json!([]), "no bad request may leave a row");
    let (status, v) = read(
        app.client
            .delete("/v1/jobs")
            .header("Authorization", app.bearer())
            .send()
            .await,
    )
    .await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

async fn listing_filters_and_pages_with_a_cursor(app: &TestApp) {
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.submit(json!({"kind": "noop"})).await);
    }
    app.post(&format!("/v1/jobs/{}/cancel", ids[0]), json!({}))
        .await;
    let mut seen = Vec::new();
    let mut path = "/v1/jobs?limit=2".to_owned();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["job_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/jobs?limit=2&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let (_, cancelled) = app.get("/v1/jobs?state=cancelled&kind=noop").await;
    assert_eq!(cancelled["jobs"].as_array().unwrap().len(), 1);
    for (query, field) in [
        ("state=lost", "state"),
        ("kind=nope", "kind"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=zzz", "cursor"),
    ] {
        let (status, v) = app.get(&format!("/v1/jobs?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(v["error"]["field"], field, "{query}");
    }
    // Not a number at all: the same 422 naming the parameter.
    let (status, v) = app.get("/v1/jobs?limit=abc").await;
    assert_eq!(
        (status, error_code(&v), v["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("limit")
        )
    );
}

async fn a_queued_job_cancelled_never_runs_and_a_running_one_stops(app: &TestApp) {
    let id = app.submit(json!({"kind": "noop"})).await;
    let (status, job) = app.post(&format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(
        (status, job["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, v) = app.post(&format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::CONFLICT, "not_cancellable")
    );
    let busy = app.again().await.run_worker();
    let long = busy
        .submit(json!({"kind": "noop", "payload": {"sleep_ms": 60000}}))
        .await;
    busy.wait_running(&long).await;
    let (status, job) = busy
        .post(&format!("/v1/jobs/{long}/cancel"), json!({}))
        .await;
    assert_eq!(
        (status, job["cancel_requested"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (_, job) = busy.get(&format!("/v1/jobs/{long}?wait=10")).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(job["finished_at"].is_string());
    busy.stop().await;
    let (_, job) = app.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_u64()),
        (Some("cancelled"), Some(0))
    );
}

async fn a_failed_job_backs_off_then_is_retried_by_hand(app: &TestApp) {
    let id = app
        .submit(json!({"kind": "noop", "payload": {"fail_attempts": 3}, "max_attempts": 2}))
        .await;
    assert_eq!(app.run_due().await, 1);
    let backing_off = app.job(&id).await;
    assert_eq!(
        (
            backing_off["state"].as_str(),
            backing_off["attempts"].as_u64()
        ),
        (Some("queued"), Some(1)),
        "{backing_off}"
    );
    assert_eq!(
        app.run_due().await,
        0,
        "not due before its backoff has passed"
    );
    app.advance(RETRY_CAP);
    assert_eq!(app.run_due().await, 1);
    let failed = app.job(&id).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["error"]["code"], "noop_failure");
    let (_, listed) = app.get("/v1/jobs?state=failed").await;
    assert_eq!(listed["jobs"][0]["job_id"].as_str(), Some(id.as_str()));
    let (status, job) = app.post(&format!("/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!(
        (status, job["state"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    app.run_due().await;
    app.advance(RETRY_CAP);
    app.run_due().await;
    let done = app.job(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 4);
    assert_eq!(done["result"]["attempt"], 4);
    let (status, v) = app.post(&format!("/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::CONFLICT, "not_retryable")
    );
}

async fn operations_endpoints_answer(app: &TestApp) {
    let (status, v) = read(app.client.get("/healthz").send().await).await;
    assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    // The public listener says ready or not, and nothing of what is down.
    let (status, v) = read(app.client.get("/readyz").send().await).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"status": "ready"})));
    let (status, _) = read(app.client.get("/metrics").send().await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let ops = TestClient::new(mixdown_api::ops_app(
        app.stores.clone(),
        CancellationToken::new(),
    ));
    let (status, v) = read(ops.get("/readyz").send().await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["checks"],
        json!({"database": "ok", "queue": "ok", "objects": "ok"})
    );
    app.submit(json!({"kind": "noop"})).await;
    let metrics = ops
        .get("/metrics")
        .send()
        .await
        .0
        .into_body()
        .into_string()
        .await
        .unwrap();
    for name in [
        "mixdown_queue_ready{queue=\"noop\"} 1",
        "mixdown_jobs_enqueued_total{kind=\"noop\"} 1",
        "mixdown_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"202\"} 1",
        "mixdown_http_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    let (status, spec) = read(app.client.get("/openapi.json").send().await).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/retry",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        app.client.get("/docs").send().await.0.status(),
        StatusCode::OK
    );
    let (status, v) = read(app.client.get("/nowhere").send().await).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

async fn a_client_can_wait_for_a_job_to_end(app: &TestApp) {
    let app = app.again().await.run_worker();
    let quick = app
        .submit(json!({"kind": "noop", "payload": {"sleep_ms": 300}}))
        .await;
    let started = std::time::Instant::now();
    let (status, job) = app.get(&format!("/v1/jobs/{quick}?wait=20")).await;
    assert_eq!(
        (status, &job["state"]),
        (StatusCode::OK, &json!("succeeded"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at the end, not at the wait"
    );
    let slow = app
        .submit(json!({"kind": "noop", "payload": {"sleep_ms": 5000}}))
        .await;
    let started = std::time::Instant::now();
    let (status, job) = app.get(&format!("/v1/jobs/{slow}?wait=0.5")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(["queued", "running"].contains(&job["state"].as_str().unwrap()));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    for bad in ["61", "-1", "NaN"] {
        let (status, err) = app.get(&format!("/v1/jobs/{slow}?wait={bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert_eq!(err["error"]["field"], "wait");
    }
    app.post(&format!("/v1/jobs/{slow}/cancel"), json!({}))
        .await;
    app.stop().await;
}

async fn a_job_end_is_reported_by_a_signed_post_retried_until_taken(app: &TestApp) {
    let receiver = receiver::Receiver::start(1).await;
    let id = app
        .submit(json!({"kind": "noop", "callback_url": receiver.url}))
        .await;
    app.run_due().await;
    assert_eq!(app.job(&id).await["state"], "succeeded");
    assert_eq!(receiver.posts().len(), 1, "the first delivery was refused");
    app.advance(RETRY_CAP);
    app.run_due().await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2, "and the second taken");
    let (_, secret) = app.get("/v1/callbacks/secret").await;
    let secret = secret["secret"].as_str().unwrap();
    for post in &posts {
        assert!(post.signed_with(secret), "{post:?}");
        assert!(!post.signed_with("another secret"));
        let event = post.json();
        assert_eq!(
            (event["event"].as_str(), event["job_id"].as_str()),
            (Some("job.succeeded"), Some(id.as_str())),
            "{event}"
        );
        assert_eq!(event["status_url"], format!("/v1/jobs/{id}"));
    }
    assert_eq!(
        posts[0].delivery, posts[1].delivery,
        "one delivery id per report"
    );

    // The report is a job of its own: the delivery log.
    let job = app.job(&id).await;
    let report = job["callback_job_id"].as_str().unwrap();
    assert_eq!(report, posts[0].delivery);
    let log = app.job(report).await;
    assert_eq!(
        (
            log["kind"].as_str(),
            log["state"].as_str(),
            log["attempts"].as_u64()
        ),
        (Some("callback"), Some("succeeded"), Some(2))
    );
    assert_eq!(log["result"]["status"], 204);
    assert_eq!(log["parent_id"], id);
    app.run_due().await;
    assert_eq!(receiver.posts().len(), 2, "an end is reported once");

    // Another tenant has another secret.
    let name = format!("o-{}", mixdown_testkit::unique());
    let other = app.stores.db.tenants.create_key(&name).await.unwrap();
    let theirs = app
        .stores
        .db
        .secrets
        .callback_secrets(other.tenant_id)
        .await;
    let theirs = theirs.unwrap().current.expose().clone();
    assert_ne!(theirs, secret);
}

async fn a_rotated_callback_secret_signs_beside_the_old_one_until_its_grace_ends(app: &TestApp) {
    let receiver = receiver::Receiver::start(0).await;
    let (_, before) = app.get("/v1/callbacks/secret").await;
    assert_eq!(before["previous_secret"], Value::Null);
    let old = before["secret"].as_str().unwrap().to_owned();
    let rotate = "/v1/callbacks/secret/rotate";
    let (status, rotated) = app
        .post(&format!("{rotate}?grace_secs=3600"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["previous_secret"], old.as_str());
    assert!(rotated["previous_expires_at"].is_string(), "{rotated}");
    assert_eq!(app.get("/v1/callbacks/secret").await.1, rotated);

    let deliver = || async {
        let before = receiver.posts().len();
        app.submit(json!({"kind": "noop", "callback_url": receiver.url}))
            .await;
        app.run_due().await;
        receiver.wait_for(before + 1).await;
        receiver.posts().pop().unwrap()
    };
    let during = deliver().await;
    assert!(
        during.signed_with(&new) && during.signed_with(&old),
        "{during:?}"
    );
    assert_eq!(during.signature.matches(",v1=").count(), 2);
    app.advance(Duration::from_secs(3600));
    let after = deliver().await;
    assert!(
        after.signed_with(&new) && !after.signed_with(&old),
        "{after:?}"
    );
    assert_eq!(after.signature.matches(",v1=").count(), 1);

    // No grace: the replaced secret stops at once.
    let (_, now) = app
        .post(&format!("{rotate}?grace_secs=0"), Value::Null)
        .await;
    assert_eq!(now["previous_secret"], Value::Null, "{now}");
    let newest = now["secret"].as_str().unwrap();
    let last = deliver().await;
    assert!(
        last.signed_with(newest) && !last.signed_with(&new),
        "{last:?}"
    );

    let (status, err) = app
        .post(&format!("{rotate}?grace_secs=604801"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["field"], "grace_secs");
    let (_, unchanged) = app.get("/v1/callbacks/secret").await;
    assert_eq!(
        unchanged["secret"], newest,
        "a refused rotation changes nothing"
    );
}
