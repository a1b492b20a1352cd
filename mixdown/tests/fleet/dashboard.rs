//! The operators' dashboard in a headless Chromium, against real processes:
//! `mixdown dev`, and a fleet of an API and two workers. An operator signs
//! in, reads the queues, finds a job that really failed and retries it from
//! the page; a tenant's key is refused; a payload made to inject script
//! shows as text; the browser's console stays free of errors (a refused
//! inline script or style would be one).

use std::time::Duration;

use mixdown_testkit::browser::Browser;
use serde_json::{Value, json};

use crate::harness::{Env, Fleet, FleetOptions, base_env, keys_create, start_dev};

/// Makes an operator's key in the database `args` and `env` name.
fn operator_key(args: &[&str], env: &Env) -> String {
    let owner = ["--operator", "ops on call"];
    keys_create(env, &[&owner[..], args].concat())
}

/// Opens the dashboard and signs in with `key`.
async fn sign_in(browser: &Browser, base: &str, key: &str) {
    browser.goto(&format!("{base}/dashboard")).await;
    browser.find("#key").await.type_text(key).await;
    browser.find("form.sign-in button").await.click().await;
}

/// A job that fails on its only attempt and succeeds when run again.
fn failing_once() -> Value {
    json!({"kind": "noop", "payload": {"fail_attempts": 1}, "max_attempts": 1})
}

/// An `http` job whose payload tries to inject markup and script, with a
/// secret header; it fails at once, its address being no public one.
fn hostile() -> Value {
    json!({"kind": "http", "max_attempts": 1, "payload": {
        "url": "http://127.0.0.1:9/<script>window.injected=1</script>",
        "method": "POST",
        "body": "</pre><img src=x onerror=\"window.injected=2\"><script>window.injected=3</script>",
        "headers": {"x-note": "<b onmouseover=alert(1)>bold</b>"},
        "secret_headers": {"authorization": "Bearer hunter2"},
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_retries_a_failed_job_from_the_dashboard_of_mixdown_dev() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let operator = operator_key(&["--data-dir", data], &base_env());
    let (dev, client) = start_dev(data);
    let (base, tenant_key) = (client.base.clone(), client.key.clone());
    let failed = client.submit(failing_once()).await;
    let hostile = client.submit(hostile()).await;
    let limit = Duration::from_secs(30);
    client.wait_state(&failed, "failed", limit).await;
    let refused = client.wait_state(&hostile, "failed", limit).await;
    assert_eq!(refused["error"]["code"], "http_address_refused");

    let browser = Browser::start().await;
    sign_in(&browser, &base, &operator).await;
    browser.wait_text("h1", "Overview").await;
    browser.wait_text("header .who", "ops on call").await;
    let noop = browser
        .find("#queues tr[data-queue=noop]")
        .await
        .text()
        .await;
    assert!(noop.starts_with("noop"), "{noop}");
    browser.wait_text("#failures", "noop_failure").await;
    browser.wait_text("#failures", "http_address_refused").await;
    browser.resize(1280, 1900).await;
    browser.screenshot("dashboard-overview").await;

    browser
        .find(&format!("#failed a[href='/dashboard/jobs/{failed}']"))
        .await
        .click()
        .await;
    browser.wait_text("h1", &failed).await;
    assert_eq!(browser.find("dd.attempts").await.text().await, "1 of 1");
    browser.wait_text("#job-error", "noop_failure").await;
    let retry = format!("form[action='/dashboard/jobs/{failed}/retry'] button");
    browser.find(&retry).await.click().await;
    browser.wait_text(".notice", "queued again").await;
    // The page updates itself as the job runs again.
    browser.wait_text(".state", "succeeded").await;
    assert_eq!(client.job(&failed).await["state"], "succeeded");

    browser
        .goto(&format!("{base}/dashboard/jobs/{hostile}"))
        .await;
    let payload = browser.find("#payload").await.text().await;
    assert!(
        payload.contains("<script>window.injected=3</script>"),
        "{payload}"
    );
    assert!(
        payload.contains("<b onmouseover=alert(1)>bold</b>"),
        "{payload}"
    );
    assert!(
        !payload.contains("hunter2"),
        "secret headers are masked: {payload}"
    );
    let effects = browser
        .execute(
            "return [window.injected === undefined, \
             document.querySelectorAll('#payload *, #job-error *:not(code)').length, \
             document.querySelectorAll('img, b').length];",
            vec![],
        )
        .await;
    assert_eq!(effects, json!([true, 0, 0]), "the payload stayed text");
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // A tenant's key opens /v1 but not the dashboard.
    browser.find("header form button").await.click().await;
    sign_in(&browser, &base, &tenant_key).await;
    browser.wait_text("p.error", "operator_key_required").await;
    browser.console_errors().await;
    dev_answers_only_operators(&base, &operator, &tenant_key).await;

    browser.quit().await;
    assert!(dev.terminate().success());
}

/// What the dashboard and `/v1` answer each kind of key, and the headers
/// every dashboard answer carries.
async fn dev_answers_only_operators(base: &str, operator: &str, tenant: &str) {
    let http = reqwest::Client::new();
    let get = |path: &str, key: &str| http.get(format!("{base}{path}")).bearer_auth(key).send();
    let page = get("/dashboard", operator).await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains(" style=") && !html.contains("<script>"),
        "nothing inline"
    );

    let refused = get("/dashboard", tenant).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("operator_key_required")
    );
    assert_eq!(get("/dashboard", "mdo_nobody").await.unwrap().status(), 401);
    let v1 = get("/v1/jobs", operator).await.unwrap();
    assert_eq!(v1.status(), 401);
    let body: Value = v1.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(get("/v1/jobs", tenant).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_of_a_fleet_shows_its_workers_and_cancels_what_they_run() {
    let fleet = Fleet::start(FleetOptions::default()).await;
    let operator = operator_key(&[], &fleet.env);
    let client = fleet.client();
    let long = json!({"kind": "noop", "payload": {"sleep_ms": 60000}});
    let running = client.submit(long).await;
    client
        .wait_state(&running, "running", Duration::from_secs(30))
        .await;

    let browser = Browser::start().await;
    sign_in(&browser, &client.base, &operator).await;
    browser.wait_text("#running", &running).await;
    assert_eq!(browser.all("#running .worker").await.len(), 2);
    browser.screenshot("dashboard-fleet").await;
    let cancel = format!("form[action='/dashboard/jobs/{running}/cancel'] button");
    browser.find(&cancel).await.click().await;
    browser.wait_text(".notice", "cancelled").await;
    client
        .wait_state(&running, "cancelled", Duration::from_secs(30))
        .await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
    fleet.stop().await;
}
