//! The roles as users start them: the embedded default with no
//! configuration, a fleet of separate API and worker processes, and the
//! errors of a bad start.

use std::{
    collections::{HashMap, HashSet},
    process::Command,
    time::Duration,
};

use serde_json::json;

use crate::harness::{BIN, Client, Fleet, FleetOptions, Proc, base_env, fetch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_one_api_and_two_workers_runs_every_job_exactly_once() {
    let fleet = Fleet::start(FleetOptions::default()).await;
    let client = fleet.client();
    assert_eq!(fetch(&format!("{}/readyz", client.base)).await.0, 200);
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(
            client
                .submit(json!({"kind": "noop", "payload": {"sleep_ms": 20}}))
                .await,
        );
    }
    let jobs = client.wait_all(&ids, Duration::from_secs(60)).await;
    let mut by_worker: HashMap<String, usize> = HashMap::new();
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "ran more than once: {job}");
        let worker = job["result"]["worker_id"].as_str().unwrap().to_owned();
        *by_worker.entry(worker).or_default() += 1;
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200);
    assert_eq!(by_worker.len(), 2, "both workers took work: {by_worker:?}");
    let workers = client.workers().await;
    assert_eq!(workers.len(), 2, "{workers:?}");
    for w in &workers {
        assert!(by_worker.contains_key(w["worker_id"].as_str().unwrap()));
        let mut all: Vec<&str> = mixdown_jobs::kind::JobKind::ALL
            .iter()
            .map(|k| k.queue())
            .collect();
        // Kinds that share a queue (a fan-out's chunks) list it once.
        all.dedup();
        assert_eq!(
            w["queues"],
            json!(all),
            "a worker without --queues serves every queue"
        );
        assert_eq!(w["in_flight"], 0);
    }
    for w in &fleet.workers {
        let (_, metrics) = fetch(&format!("{}/metrics", w.ops)).await;
        assert!(
            metrics.contains("mixdown_jobs_finished_total{kind=\"noop\",outcome=\"succeeded\"}")
        );
        assert_eq!(fetch(&format!("{}/healthz", w.ops)).await.0, 200);
        assert_eq!(fetch(&format!("{}/readyz", w.ops)).await.0, 200);
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_with_no_configuration_and_keeps_its_key_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut dev = Proc::start(&args, &base_env());
    let base = dev.url();
    let key = dev.line().split_whitespace().last().unwrap().to_owned();
    let client = Client::new(base, key.clone());
    let id = client.submit(json!({"kind": "noop"})).await;
    let job = client
        .wait_state(&id, "succeeded", Duration::from_secs(30))
        .await;
    assert_eq!(job["attempts"], 1);
    assert!(dev.terminate().success());
    assert!(data.join("mixdown.db").exists() && data.join("objects").is_dir());
    assert!(data.join("voice-key").is_file() && data.join("secrets-key").is_file());
    assert_owner_only(&data);

    let mut again = Proc::start(&args, &base_env());
    let client = Client::new(again.url(), key.clone());
    assert_eq!(again.line().split_whitespace().last(), Some(key.as_str()));
    assert_eq!(client.job(&id).await["state"], "succeeded");
    assert!(again.terminate().success());
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line_naming_it() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    let err = run(&["dev"], &[("MIXDOWN_LISTEN", "nowhere")]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("MIXDOWN_LISTEN=\"nowhere\""), "{err}");
    let err = run(&["worker", "--concurrency", "0"], &[]);
    assert!(err.contains("concurrency"), "{err}");
    let err = run(&["worker", "--queues", "noop,bogus"], &[]);
    assert!(err.contains("bogus"), "{err}");
    let err = run(&["dev"], &[("MIXDOWN_JOB_TIMEOUTS", "noop=5")]);
    assert!(err.contains("MIXDOWN_JOB_TIMEOUTS"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = run(&["api", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert!(err.contains("REDIS_URL"), "{err}");
    let err = run(&["worker", "--queues", "voice_verify"], &[]);
    assert!(err.contains("MIXDOWN_VOICE_KEY"), "{err}");
    let err = run(&["worker", "--queues", "http"], &[]);
    assert!(err.contains("MIXDOWN_SECRETS_KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let db = mixdown_testkit::TestDatabase::create().await;
    let mut env = base_env();
    env.insert("DATABASE_URL".into(), db.url.clone());
    let migrate = || {
        Command::new(BIN)
            .arg("migrate")
            .env_clear()
            .envs(&env)
            .output()
            .unwrap()
    };
    assert!(migrate().status.success());
    // Migrating again logs Postgres's notice that the table is there.
    let again = migrate();
    assert!(again.status.success());
    let logs = String::from_utf8_lossy(&again.stderr);
    assert!(logs.contains("INFO"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
    db.drop_database().await;
}

/// Everything under `dir` (the data directory: database, keys, objects) is
/// its owner's alone: files `0600`, directories `0700`.
fn assert_owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir).unwrap();
    let expected = if meta.is_dir() { 0o700 } else { 0o600 };
    assert_eq!(
        meta.permissions().mode() & 0o777,
        expected,
        "{}",
        dir.display()
    );
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            assert_owner_only(&entry.unwrap().path());
        }
    }
}
