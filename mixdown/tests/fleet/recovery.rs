//! How fast the fleet takes back the work of a worker that died, and that a
//! worker only paused is not left running what was taken from it: with the
//! shipped timings, over real processes.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    harness::{Client, Fleet, FleetOptions, Timings, fetch},
    runtime::{metric, noop},
};

const MINUTE: Duration = Duration::from_secs(60);
/// What the defaults promise: a killed worker's job runs again elsewhere
/// within this long.
const RECOVERY: Duration = Duration::from_secs(10);
const KILLS: usize = 10;

/// Waits until `id` runs (or ran) its second attempt; the job then.
async fn second_attempt(client: &Client, id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let job = client.job(id).await;
        if job["attempts"] == 2 && (job["state"] == "running" || job["state"] == "succeeded") {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "no second attempt in {limit:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn worker_id_of(client: &Client, pid: u32) -> Value {
    let listed = client.workers().await;
    listed.iter().find(|w| w["pid"] == pid).unwrap()["worker_id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_the_job_run_again_elsewhere_within_10_s() {
    let options = FleetOptions {
        timings: Timings::Default,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let mut took = Vec::new();
    for _ in 0..KILLS {
        let id = client.submit(noop(json!({"sleep_ms": 3000}))).await;
        let pid = client.pid_running(&id, MINUTE).await;
        let victim = worker_id_of(&client, pid).await;
        fleet.take_worker(pid).proc.kill();
        let killed = Instant::now();
        second_attempt(&client, &id, MINUTE).await;
        took.push(killed.elapsed());
        fleet.start_worker();
        let job = client.wait_state(&id, "succeeded", MINUTE).await;
        assert_eq!(job["attempts"], 2, "the lost run counts: {job}");
        assert_ne!(job["result"]["worker_id"], victim);
        let live = client.workers().await;
        assert!(live.iter().all(|w| w["worker_id"] != victim), "{live:?}");
    }
    took.sort();
    eprintln!(
        "a killed worker's job ran again after: min {:?}, median {:?}, max {:?} ({KILLS} kills)",
        took[0],
        took[KILLS / 2],
        took[KILLS - 1]
    );
    assert!(took[KILLS - 1] < RECOVERY, "{took:?}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_past_the_recovery_time_stops_the_attempt_taken_from_it() {
    let options = FleetOptions {
        timings: Timings::Default,
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let id = client.submit(noop(json!({"sleep_ms": 15_000}))).await;
    let pid = client.pid_running(&id, MINUTE).await;
    let victim = worker_id_of(&client, pid).await;
    let ops = fleet
        .workers
        .iter()
        .find(|w| w.proc.pid() == pid)
        .unwrap()
        .ops
        .clone();
    signal("-STOP", pid);
    let paused = Instant::now();
    second_attempt(&client, &id, MINUTE).await;
    eprintln!(
        "the paused worker's job ran again after {:?}",
        paused.elapsed()
    );
    tokio::time::sleep((paused + RECOVERY + Duration::from_secs(2)) - Instant::now()).await;
    signal("-CONT", pid);
    let resumed = Instant::now();
    let in_flight = "mixdown_jobs_in_flight{queue=\"noop\"}";
    while metric(&fetch(&format!("{ops}/metrics")).await.1, in_flight) > 0.0 {
        assert!(
            resumed.elapsed() < Duration::from_secs(5),
            "the resumed worker still runs the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "the resumed worker stopped its attempt {:?} after SIGCONT",
        resumed.elapsed()
    );
    let job = client.job(&id).await;
    assert_eq!(
        (&job["state"], &job["attempts"]),
        (&json!("running"), &json!(2)),
        "{job}"
    );
    let job = client.wait_state(&id, "succeeded", MINUTE).await;
    assert_eq!(job["attempts"], 2, "{job}");
    assert_ne!(job["result"]["worker_id"], victim, "{job}");
    fleet.stop().await;
}

fn signal(which: &str, pid: u32) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status();
    assert!(status.unwrap().success());
}
