//! The `mixdown` binary as users run it: the embedded default with no
//! configuration, a fleet of separate API and worker processes over Redis,
//! Postgres and S3, and the errors of a bad start.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use mixdown_testkit::FleetStores;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

/// A child process killed when dropped, so a failing test leaves nothing behind.
struct Proc {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Proc {
    fn start(args: &[&str], env: &HashMap<String, String>) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mixdown");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next line the process prints.
    fn line(&mut self) -> String {
        self.lines.next().expect("process printed nothing").unwrap()
    }

    /// The http://host:port the process printed in its next line.
    fn url(&mut self) -> String {
        let line = self.line();
        let start = line.find("http://").expect("an address");
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_env() -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    env
}

fn fleet_env(fleet: &FleetStores) -> HashMap<String, String> {
    let mut env = base_env();
    let (id, secret) = fleet.s3.credentials.clone().unwrap();
    for (k, v) in [
        ("DATABASE_URL", fleet.database.url.clone()),
        ("REDIS_URL", mixdown_testkit::redis_url()),
        ("MIXDOWN_REDIS_PREFIX", fleet.redis_prefix.clone()),
        ("S3_ENDPOINT", fleet.s3.endpoint.clone().unwrap()),
        ("S3_BUCKET", fleet.s3.bucket.clone()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("MIXDOWN_HEARTBEAT_INTERVAL_MS", "500".into()),
    ] {
        env.insert(k.into(), v);
    }
    env
}

fn create_key(env: &HashMap<String, String>, tenant: &str) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--tenant", tenant])
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().last().unwrap().to_owned()
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn submit(&self, body: Value) -> String {
        let resp = self
            .http
            .post(format!("{}/v1/jobs", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        v["job_id"].as_str().unwrap().to_owned()
    }

    async fn job(&self, id: &str) -> Value {
        let url = format!("{}/v1/jobs/{id}", self.base);
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    }

    /// Waits until every job has ended (60 s at most) and returns them.
    async fn wait_all(&self, ids: &[String]) -> Vec<Value> {
        for _ in 0..600 {
            let mut jobs = Vec::new();
            for id in ids {
                jobs.push(self.job(id).await);
            }
            if jobs
                .iter()
                .all(|j| j["state"] == "succeeded" || j["state"] == "failed")
            {
                return jobs;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("jobs did not finish in time");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_one_api_and_two_workers_runs_every_job_exactly_once() {
    let fleet = FleetStores::create().await;
    let env = fleet_env(&fleet);
    let key = create_key(&env, "fleet");
    let mut api = Proc::start(&["api", "--listen", "127.0.0.1:0"], &env);
    let base = api.url();
    let worker_args = [
        "worker",
        "--queues",
        "noop",
        "--concurrency",
        "8",
        "--listen",
        "127.0.0.1:0",
    ];
    let mut workers = [
        Proc::start(&worker_args, &env),
        Proc::start(&worker_args, &env),
    ];
    let ops: Vec<String> = workers.iter_mut().map(Proc::url).collect();
    let client = Client {
        http: reqwest::Client::new(),
        base,
        key,
    };
    let ready = client
        .http
        .get(format!("{}/readyz", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(
            client
                .submit(json!({"kind": "noop", "payload": {"sleep_ms": 20}}))
                .await,
        );
    }
    let jobs = client.wait_all(&ids).await;
    let mut by_worker: HashMap<String, usize> = HashMap::new();
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "ran more than once: {job}");
        let worker = job["result"]["worker_id"].as_str().unwrap().to_owned();
        *by_worker.entry(worker).or_default() += 1;
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200);
    assert_eq!(by_worker.len(), 2, "both workers took work: {by_worker:?}");
    for url in &ops {
        let metrics = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("mixdown_jobs_finished_total{kind=\"noop\",outcome=\"succeeded\"}")
        );
        assert_eq!(
            reqwest::get(format!("{url}/healthz"))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    for w in workers {
        assert!(
            w.terminate().success(),
            "a worker drains and exits cleanly on SIGTERM"
        );
    }
    assert!(api.terminate().success());
    fleet.cleanup().await;
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
    let client = Client {
        http: reqwest::Client::new(),
        base,
        key: key.clone(),
    };
    let id = client.submit(json!({"kind": "noop"})).await;
    let job = &client.wait_all(std::slice::from_ref(&id)).await[0];
    assert_eq!(job["state"], "succeeded");
    assert!(dev.terminate().success());
    assert!(data.join("mixdown.db").exists() && data.join("objects").is_dir());

    let mut again = Proc::start(&args, &base_env());
    let client = Client {
        base: again.url(),
        ..client
    };
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
    let dir = tempfile::tempdir().unwrap();
    let err = run(&["api", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert!(err.contains("REDIS_URL"), "{err}");
}
