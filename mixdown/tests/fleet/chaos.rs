//! The chaos run: a fleet under a steady stream of jobs while workers are
//! killed at random, Redis restarts empty and every worker is restarted in
//! turn; then a ledger check that every accepted job reached one final state
//! in the database, with re-executions counted and reported.
//!
//! `MIXDOWN_CHAOS_SECS` sets how long the chaos lasts (default 30 s) and
//! `MIXDOWN_CHAOS_SEED` its random choices; `bench/chaos.sh` runs a long one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use crate::harness::{Client, Fleet, FleetOptions};

/// What a job was asked to do, hence how it must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Expect {
    /// Succeeds on its first attempt that is not lost.
    Succeed,
    /// Fails its first attempt, then succeeds.
    SucceedSecond,
    /// Fails permanently on its first attempt.
    Fail,
    /// Cancelled while it waits or runs; may have finished first.
    Cancel,
}

impl Expect {
    fn body(self, rng: &mut StdRng) -> Value {
        let payload = match self {
            Expect::Succeed => json!({"sleep_ms": rng.random_range(0..200)}),
            Expect::SucceedSecond => json!({"fail_attempts": 1}),
            Expect::Fail => json!({"fail_attempts": 1, "fail_permanently": true}),
            Expect::Cancel => json!({"sleep_ms": 3000}),
        };
        json!({"kind": "noop", "payload": payload, "max_attempts": 10})
    }

    fn accepts(self, job: &Value) -> bool {
        let state = job["state"].as_str().unwrap_or_default();
        match self {
            Expect::Succeed | Expect::SucceedSecond => state == "succeeded",
            // Only attempt 1 fails; if a crash or a drain took that attempt,
            // the next one succeeds.
            Expect::Fail => {
                (state == "failed" && job["error"]["code"] == "noop_failure")
                    || (state == "succeeded" && job["attempts"].as_u64() > Some(1))
            }
            Expect::Cancel => state == "cancelled" || state == "succeeded",
        }
    }

    /// Attempts a run without crashes needs.
    fn attempts(self) -> u64 {
        match self {
            Expect::SucceedSecond => 2,
            _ => 1,
        }
    }
}

type Ledger = Arc<Mutex<Vec<(String, Expect)>>>;

/// Submits about 40 jobs a second through both APIs until `until`, cancelling
/// some of them through the other API a little later.
async fn submit_stream(apis: [Client; 2], ledger: Ledger, seed: u64, until: Instant) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut refused = 0;
    let mut n = 0usize;
    while Instant::now() < until {
        let expect = match rng.random_range(0..10) {
            0 => Expect::SucceedSecond,
            1 => Expect::Fail,
            2 => Expect::Cancel,
            _ => Expect::Succeed,
        };
        let (via, other) = (&apis[n % 2], apis[(n + 1) % 2].clone());
        n += 1;
        let (status, answer) = via.post("/v1/jobs", Some(expect.body(&mut rng))).await;
        if status != 202 {
            refused += 1;
            continue;
        }
        let id = answer["job_id"].as_str().unwrap().to_owned();
        ledger.lock().unwrap().push((id.clone(), expect));
        if expect == Expect::Cancel {
            let delay = Duration::from_millis(rng.random_range(0..2000));
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                other.post(&format!("/v1/jobs/{id}/cancel"), None).await;
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_accepted_job_reaches_one_final_state() {
    let secs: u64 = std::env::var("MIXDOWN_CHAOS_SECS").map_or(30, |s| s.parse().unwrap());
    let seed: u64 = std::env::var("MIXDOWN_CHAOS_SEED")
        .map_or_else(|_| rand::rng().random(), |s| s.parse().unwrap());
    let options = FleetOptions {
        apis: 2,
        workers: 3,
        concurrency: 4,
        own_redis: true,
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let apis = [fleet.apis[0].1.clone(), fleet.apis[1].1.clone()];
    let ledger = Ledger::default();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let stream = tokio::spawn(submit_stream(apis.clone(), ledger.clone(), seed, until));

    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut actions: HashMap<&str, usize> = HashMap::new();
    // The first three rounds do one of each; then chance decides.
    let mut round = 0;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1500..3500))).await;
        let action = match round {
            0 => 0,
            1 => 1,
            2 => 2,
            _ => rng.random_range(0..10),
        };
        round += 1;
        match action {
            1 => {
                fleet.redis.as_mut().unwrap().restart_empty();
                *actions.entry("redis restarted empty").or_default() += 1;
            }
            2 => {
                for _ in 0..fleet.workers.len() {
                    fleet.start_worker();
                    let old = fleet.workers.remove(0);
                    assert!(old.proc.terminate().success(), "a drained worker exits 0");
                }
                *actions.entry("rolling restarts").or_default() += 1;
            }
            _ => {
                let victim = rng.random_range(0..fleet.workers.len());
                fleet.workers.remove(victim).proc.kill();
                fleet.start_worker();
                *actions.entry("workers SIGKILLed").or_default() += 1;
            }
        }
    }
    let refused = stream.await.unwrap();
    let chaos_ended = Instant::now();

    let ledger = ledger.lock().unwrap().clone();
    let ids: Vec<String> = ledger.iter().map(|(id, _)| id.clone()).collect();
    let (jobs, pending) = apis[0].settle(&ids, Duration::from_secs(120)).await;
    let settled_in = chaos_ended.elapsed();
    let expected: HashMap<&str, Expect> = ledger.iter().map(|(id, e)| (id.as_str(), *e)).collect();
    let ended: Vec<(Value, Expect)> = jobs
        .into_iter()
        .map(|job| {
            let expect = expected[job["job_id"].as_str().unwrap()];
            (job, expect)
        })
        .collect();

    let wrong: Vec<&(Value, Expect)> = ended.iter().filter(|(j, e)| !e.accepts(j)).collect();
    let mut by_state: HashMap<String, usize> = HashMap::new();
    let (mut rerun_jobs, mut extra_runs) = (0, 0);
    for (job, expect) in &ended {
        *by_state
            .entry(job["state"].as_str().unwrap().to_owned())
            .or_default() += 1;
        let attempts = job["attempts"].as_u64().unwrap();
        if job["state"] != "cancelled" && attempts > expect.attempts() {
            rerun_jobs += 1;
            extra_runs += attempts - expect.attempts();
        }
    }
    eprintln!(
        "chaos run (seed {seed}, {secs} s of chaos): {} jobs accepted, {refused} refused; \
         actions {actions:?}; final states {by_state:?}; {} not final {settled_in:?} after the \
         chaos; {} in an unexpected state; {rerun_jobs} jobs ran again after a lost attempt \
         ({extra_runs} extra executions)",
        ledger.len(),
        pending.len(),
        wrong.len(),
    );
    assert!(
        pending.is_empty(),
        "jobs never reached a final state: {pending:?}"
    );
    assert!(wrong.is_empty(), "jobs ended wrongly: {wrong:?}");
    assert!(ledger.len() > 100, "the stream kept going");
    fleet.stop().await;
}
