//! The runtime's promise, proven with real processes: an accepted job
//! reaches one final state whatever crashes, restarts or drains in between,
//! and its row tells the truth.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use mixdown_jobs::{
    kind::JobKind,
    model::{MaxAttempts, NewJob, Priority},
    payload::JobPayload,
};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::harness::{Fleet, FleetOptions, fetch};

const MINUTE: Duration = Duration::from_secs(60);

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a timestamp"), &Rfc3339).unwrap()
}

/// A time `d` from now, in the whole milliseconds the API keeps: a finer
/// one would compare later than a start in the same millisecond.
fn in_future(d: Duration) -> String {
    let at = OffsetDateTime::now_utc() + d;
    let at = at
        .replace_nanosecond(u32::from(at.millisecond()) * 1_000_000)
        .unwrap();
    at.format(&Rfc3339).unwrap()
}

pub(crate) fn noop(payload: Value) -> Value {
    json!({"kind": "noop", "payload": payload})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_permanent_failures_stop_and_failed_jobs_stay_retryable() {
    let fleet = Fleet::start(FleetOptions::default()).await;
    let client = fleet.client();
    let flaky = client.submit(noop(json!({"fail_attempts": 2}))).await;
    let permanent = client
        .submit(noop(json!({"fail_attempts": 1, "fail_permanently": true})))
        .await;
    let exhausted = client
        .submit(json!({"kind": "noop", "payload": {"fail_attempts": 3}, "max_attempts": 2}))
        .await;
    let ids = [flaky.clone(), permanent.clone(), exhausted.clone()];
    let jobs = client.wait_all(&ids, MINUTE).await;
    assert_eq!(
        (&jobs[0]["state"], &jobs[0]["attempts"]),
        (&json!("succeeded"), &json!(3))
    );
    // Two backoffs of at least half of 100 ms and 200 ms each.
    let waited = at(&jobs[0]["finished_at"]) - at(&jobs[0]["created_at"]);
    assert!(waited.whole_milliseconds() >= 150, "{waited}");
    assert_eq!(
        (&jobs[1]["state"], &jobs[1]["attempts"]),
        (&json!("failed"), &json!(1)),
        "a permanent failure is not retried"
    );
    assert_eq!(jobs[1]["error"]["code"], "noop_failure");
    assert_eq!(
        (&jobs[2]["state"], &jobs[2]["attempts"]),
        (&json!("failed"), &json!(2))
    );
    let failed = client.get("/v1/jobs?state=failed").await;
    let listed: HashSet<&str> = failed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        HashSet::from([permanent.as_str(), exhausted.as_str()])
    );
    let (status, _) = client
        .post(&format!("/v1/jobs/{exhausted}/retry"), None)
        .await;
    assert_eq!(status, 200);
    let job = client.wait_state(&exhausted, "succeeded", MINUTE).await;
    assert_eq!(
        (&job["attempts"], &job["max_attempts"]),
        (&json!(4), &json!(4))
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_crashes_its_worker_counts_each_crash_and_ends_failed() {
    let mut fleet = Fleet::start(FleetOptions::default()).await;
    let client = fleet.client().clone();
    let poison = client
        .submit(json!({"kind": "noop", "payload": {"abort_attempts": 100}, "max_attempts": 2}))
        .await;
    let healthy = client.submit(noop(json!({"sleep_ms": 10}))).await;
    // Play the supervisor: replace workers that died.
    let deadline = Instant::now() + MINUTE;
    let mut crashes = 0;
    loop {
        let job = client.job(&poison).await;
        if job["state"] == "failed" {
            assert_eq!(job["attempts"], 2, "{job}");
            assert_eq!(job["error"]["code"], "worker_lost", "{job}");
            break;
        }
        assert!(Instant::now() < deadline, "poison job still {job}");
        let before = fleet.workers.len();
        fleet.workers.retain_mut(|w| !w.proc.has_exited());
        for _ in fleet.workers.len()..before {
            crashes += 1;
            fleet.start_worker();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(crashes >= 2, "each attempt crashed a worker ({crashes})");
    // A job that shared a crashed worker with the poison runs again.
    client.wait_state(&healthy, "succeeded", MINUTE).await;
    fleet.workers.retain_mut(|w| !w.proc.has_exited());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_recorded_but_never_pushed_still_runs() {
    let fleet = Fleet::start(FleetOptions::default()).await;
    let db = &fleet.stores.stores.db;
    let tenant = db
        .tenants
        .tenant_for_key(&fleet.key)
        .await
        .unwrap()
        .unwrap();
    // What a crash between the row and the push leaves behind.
    let new = NewJob {
        tenant_id: tenant,
        payload: JobPayload::parse(JobKind::Noop, None).unwrap(),
        priority: Priority::default(),
        max_attempts: MaxAttempts::new(3).unwrap(),
        run_at: None,
        parent_id: None,
        callback_url: None,
        idempotency_key: None,
        request_digest: None,
    };
    let id = db.jobs.insert(&new).await.unwrap().job.id.to_string();
    let job = fleet
        .client()
        .wait_state(&id, "succeeded", Duration::from_secs(20))
        .await;
    assert_eq!(job["attempts"], 1);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_loses_no_waiting_or_running_job() {
    let options = FleetOptions {
        workers: 0,
        own_redis: true,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let mut ids = Vec::new();
    for i in 0..40 {
        let mut body = noop(json!({"sleep_ms": 10}));
        if i % 4 == 0 {
            body["run_at"] = json!(in_future(Duration::from_secs(2)));
        }
        ids.push(client.submit(body).await);
    }
    fleet.redis.as_mut().unwrap().restart_empty();
    fleet.start_worker();
    fleet.start_worker();
    for _ in 0..60 {
        ids.push(client.submit(noop(json!({"sleep_ms": 200}))).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet.redis.as_mut().unwrap().restart_empty();
    for _ in 0..20 {
        ids.push(client.submit(noop(json!({"sleep_ms": 10}))).await);
    }
    for job in client.wait_all(&ids, MINUTE).await {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_attempt_is_stopped_at_its_kinds_timeout_and_retried() {
    let options = FleetOptions {
        env: vec![("MIXDOWN_JOB_TIMEOUTS", "noop=1s".into())],
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let client = fleet.client();
    let started = Instant::now();
    let hung = client
        .submit(json!({"kind": "noop", "payload": {"sleep_ms": 600000}, "max_attempts": 2}))
        .await;
    let job = client.wait_state(&hung, "failed", MINUTE).await;
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["error"]["code"], "timeout", "{job}");
    assert!(started.elapsed() < Duration::from_secs(20));
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_threads_are_hogged_keeps_beating_and_its_jobs() {
    let options = FleetOptions {
        workers: 1,
        concurrency: 4,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    // Every executor thread of the worker blocked for 2.5× the time after
    // which a silent worker counts as dead.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(client.submit(noop(json!({"block_ms": 5000}))).await);
    }
    let pid = client.pid_running(&ids[0], MINUTE).await;
    // A healthy worker whose reconciler would take the jobs if the first
    // one went silent.
    fleet.start_worker();
    for job in client.wait_all(&ids, MINUTE).await {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "taken for dead and run twice: {job}");
    }
    assert!(client.workers().await.iter().any(|w| w["pid"] == pid));
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_through_any_api_replica_stops_queued_and_running_jobs() {
    let options = FleetOptions {
        apis: 2,
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let (a, b) = (&fleet.apis[0].1, &fleet.apis[1].1);
    let mut later = noop(json!({}));
    later["run_at"] = json!(in_future(Duration::from_secs(2)));
    let queued = a.submit(later).await;
    let (status, job) = b.post(&format!("/v1/jobs/{queued}/cancel"), None).await;
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")));
    let running = a.submit(noop(json!({"sleep_ms": 600000}))).await;
    a.wait_state(&running, "running", MINUTE).await;
    let (status, job) = b.post(&format!("/v1/jobs/{running}/cancel"), None).await;
    assert_eq!((status, &job["cancel_requested"]), (200, &json!(true)));
    let job = a
        .wait_state(&running, "cancelled", Duration::from_secs(10))
        .await;
    assert_eq!(job["attempts"], 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let job = a.job(&queued).await;
    assert_eq!(
        (&job["state"], &job["attempts"], &job["started_at"]),
        (&json!("cancelled"), &json!(0), &Value::Null),
        "a cancelled queued job never starts"
    );
    let (status, _) = b.post(&format!("/v1/jobs/{running}/cancel"), None).await;
    assert_eq!(status, 409);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_wait_for_their_time_and_high_priority_overtakes_a_backlog() {
    let options = FleetOptions {
        workers: 0,
        concurrency: 1,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let mut scheduled = noop(json!({}));
    let run_at = in_future(Duration::from_secs(2));
    scheduled["run_at"] = json!(run_at);
    let scheduled = client.submit(scheduled).await;
    let mut low = Vec::new();
    for _ in 0..60 {
        let body = json!({"kind": "noop", "payload": {"sleep_ms": 20}, "priority": -10});
        low.push(client.submit(body).await);
    }
    fleet.start_worker();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let high = json!({"kind": "noop", "payload": {}, "priority": 50});
    let high = client.submit(high).await;
    let high = &client.wait_all(&[high], MINUTE).await[0];
    let lows = client.wait_all(&low, MINUTE).await;
    let overtaken = lows
        .iter()
        .filter(|j| at(&j["started_at"]) > at(&high["started_at"]))
        .count();
    assert!(
        overtaken >= 40,
        "high priority overtook only {overtaken} of 60"
    );
    let job = client.wait_state(&scheduled, "succeeded", MINUTE).await;
    assert!(at(&job["started_at"]) >= at(&json!(run_at)), "{job}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_finishing_short_attempts_and_handing_back_long_ones() {
    let options = FleetOptions {
        workers: 1,
        env: vec![("MIXDOWN_DRAIN_TIMEOUT_MS", "1500".into())],
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let short = client.submit(noop(json!({"sleep_ms": 700}))).await;
    let long = client.submit(noop(json!({"sleep_ms": 4000}))).await;
    client.wait_state(&short, "running", MINUTE).await;
    client.wait_state(&long, "running", MINUTE).await;
    let mut draining = fleet.workers.remove(0);
    draining.proc.signal_term();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = fetch(&format!("{}/readyz", draining.ops)).await;
    assert_eq!(status, 503);
    assert!(body.contains("draining"), "{body}");
    let submitted_while_draining = client.submit(noop(json!({}))).await;
    let exit = draining.proc.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.success(), "{exit}");
    let job = client.job(&short).await;
    assert_eq!(
        (&job["state"], &job["attempts"]),
        (&json!("succeeded"), &json!(1))
    );
    let job = client.job(&long).await;
    assert_eq!(job["state"], "queued", "handed back: {job}");
    assert_eq!(
        job["max_attempts"], 4,
        "the handed-back attempt is not counted"
    );
    assert_eq!(client.job(&submitted_while_draining).await["attempts"], 0);
    fleet.start_worker();
    let job = client.wait_state(&long, "succeeded", MINUTE).await;
    assert_eq!(job["attempts"], 2);
    client
        .wait_state(&submitted_while_draining, "succeeded", MINUTE)
        .await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing() {
    let options = FleetOptions {
        concurrency: 4,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let submitter = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let until = Instant::now() + Duration::from_secs(8);
            while Instant::now() < until {
                ids.push(client.submit(noop(json!({"sleep_ms": 50}))).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ids
        })
    };
    for _ in 0..2 {
        for _ in 0..fleet.workers.len() {
            tokio::time::sleep(Duration::from_millis(800)).await;
            fleet.start_worker();
            let old = fleet.workers.remove(0);
            assert!(old.proc.terminate().success());
        }
    }
    let ids = submitter.await.unwrap();
    let jobs = client.wait_all(&ids, MINUTE).await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "drained attempts finish: {job}");
    }
    eprintln!("rolling restart: {} jobs, all succeeded once", jobs.len());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_backlog_oldest_age_in_flight_and_outcomes_per_queue() {
    let options = FleetOptions {
        workers: 0,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(client.submit(noop(json!({"sleep_ms": 10}))).await);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let api_ops = fleet.api_ops[0].clone();
    let (_, metrics) = fetch(&format!("{api_ops}/metrics")).await;
    assert!(
        metrics.contains("mixdown_queue_ready{queue=\"noop\"} 5"),
        "{metrics}"
    );
    let age: f64 = metric(
        &metrics,
        "mixdown_queue_oldest_ready_age_seconds{queue=\"noop\"}",
    );
    assert!(age >= 1.0, "{age}");
    fleet.start_worker();
    client.wait_all(&ids, MINUTE).await;
    let ops = fleet.workers[0].ops.clone();
    let (_, metrics) = fetch(&format!("{ops}/metrics")).await;
    for (name, value) in [
        (
            "mixdown_jobs_finished_total{kind=\"noop\",outcome=\"succeeded\"}",
            5.0,
        ),
        ("mixdown_job_wait_seconds_count{kind=\"noop\"}", 5.0),
        ("mixdown_job_duration_seconds_count{kind=\"noop\"}", 5.0),
        ("mixdown_jobs_in_flight{queue=\"noop\"}", 0.0),
    ] {
        assert_eq!(metric(&metrics, name), value, "{name}");
    }
    let (_, metrics) = fetch(&format!("{api_ops}/metrics")).await;
    assert_eq!(
        metric(
            &metrics,
            "mixdown_queue_oldest_ready_age_seconds{queue=\"noop\"}"
        ),
        0.0
    );
    fleet.stop().await;
}

pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}
