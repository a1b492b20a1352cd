//! Schedules in a real fleet: two API replicas and two workers, each worker
//! passing over the due schedules on its own. A schedule ticking every 2 s
//! for 20 s makes one job per tick: none missing, none twice.

use std::{collections::HashSet, time::Duration};

use mixdown_jobs::time::Timestamp;
use serde_json::{Value, json};

use crate::harness::{Client, Fleet, FleetOptions};

const PERIOD_MS: i64 = 2000;

fn instant(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().unwrap_or_default()).unwrap_or_else(|| panic!("{v}"))
}

fn wall_now() -> Timestamp {
    mixdown_jobs::clock::Clock::System.now()
}

async fn patch(client: &Client, path: &str, body: Value) -> Value {
    let url = format!("{}{path}", client.base);
    let resp = client.http.patch(url).bearer_auth(&client.key).json(&body);
    let resp = resp.send().await.unwrap();
    assert!(
        resp.status().is_success(),
        "PATCH {path}: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

/// Every job schedule `id` made, through the API.
async fn jobs_of(client: &Client, id: &str) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut path = format!("/v1/jobs?schedule_id={id}&limit=500");
    loop {
        let page = client.get(&path).await;
        jobs.extend(page["jobs"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/jobs?schedule_id={id}&limit=500&cursor={c}"),
            None => return jobs,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_every_two_seconds_makes_one_job_per_tick_across_the_fleet() {
    let options = FleetOptions {
        apis: 2,
        workers: 2,
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let (creator, reader) = (&fleet.apis[0].1, &fleet.apis[1].1);
    let body = json!({"name": "every two seconds", "cron": "*/2 * * * * *",
                      "timezone": "Europe/Berlin", "job": {"kind": "noop"}});
    let (status, schedule) = creator.post("/v1/schedules", Some(body)).await;
    assert_eq!(status, 201, "{schedule}");
    let id = schedule["schedule_id"].as_str().unwrap().to_owned();
    let first = instant(&schedule["next_run_at"]);

    tokio::time::sleep(Duration::from_secs(20)).await;
    let asked = wall_now();
    let path = format!("/v1/schedules/{id}");
    let paused = patch(reader, &path, json!({"paused": true})).await;
    assert_eq!(paused["paused"], true);
    let stopped = wall_now();

    let ids: Vec<String> = jobs_of(reader, &id)
        .await
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_owned())
        .collect();
    let ended = reader.wait_all(&ids, Duration::from_secs(30)).await;
    let mut ticks: Vec<i64> = Vec::new();
    let mut lags: Vec<i64> = Vec::new();
    for job in &ended {
        assert_eq!(
            (&job["state"], &job["schedule_id"]),
            (&json!("succeeded"), &json!(id)),
            "{job}"
        );
        let tick = instant(&job["schedule_tick"]);
        ticks.push(tick.millis());
        lags.push(instant(&job["created_at"]).millis() - tick.millis());
    }
    ticks.sort_unstable();
    assert_eq!(
        ticks.iter().collect::<HashSet<_>>().len(),
        ticks.len(),
        "a tick made two jobs: {ticks:?}"
    );
    assert_eq!(
        ticks.first(),
        Some(&first.millis()),
        "the first tick after creation"
    );
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], PERIOD_MS, "a tick is missing: {ticks:?}");
    }
    let last = *ticks.last().unwrap();
    // Every tick up to a pass interval and some before the pause has its
    // job; none after the pause does.
    let settled = asked.millis() - 1500;
    let due_by_then = first.millis() + (settled - first.millis()).div_euclid(PERIOD_MS) * PERIOD_MS;
    assert!(
        last >= due_by_then,
        "ticks stopped early: {last} vs {due_by_then} (pause asked at {asked:?})"
    );
    assert!(
        last <= stopped.millis(),
        "a tick after the pause: {last} vs {stopped:?}"
    );
    assert!(ticks.len() >= 9, "{} ticks in 20 s", ticks.len());

    lags.sort_unstable();
    let (median, worst) = (lags[lags.len() / 2], lags[lags.len() - 1]);
    eprintln!(
        "{} ticks; job made after its tick: median {median} ms, worst {worst} ms",
        ticks.len()
    );
    assert!(
        worst < PERIOD_MS,
        "a tick's job came after the next tick: {lags:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        jobs_of(reader, &id).await.len(),
        ended.len(),
        "a paused schedule made a job"
    );
    fleet.stop().await;
}
