//! Processes, fleets and an HTTP client for the binary's tests.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use mixdown_testkit::{FleetStores, RedisServer};
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit};

pub const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

/// Fleets running at once: each holds a few database connections per
/// process, and Postgres allows a hundred in all by default.
static FLEETS: Semaphore = Semaphore::const_new(3);

pub type Env = HashMap<String, String>;

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub struct Proc {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Proc {
    pub fn start(args: &[&str], env: &Env) -> Self {
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the process prints.
    pub fn line(&mut self) -> String {
        self.lines.next().expect("process printed nothing").unwrap()
    }

    /// The http://host:port the process printed in its next line.
    pub fn url(&mut self) -> String {
        let line = self.line();
        let start = line.find("http://").expect("an address");
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal_term();
        self.child.wait().unwrap()
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Whether the process has ended (on its own, e.g. aborted).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the process to end, at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mixdown dev` over the data directory `data`: the process, and a
/// client of its tenant "dev" with the key it printed.
pub fn start_dev(data: &str) -> (Proc, Client) {
    start_dev_with(data, &[])
}

/// [`start_dev`] with `settings` added to its environment.
pub fn start_dev_with(data: &str, settings: &[(&str, &str)]) -> (Proc, Client) {
    let args = ["dev", "--listen", "127.0.0.1:0", "--data-dir", data];
    let mut env = base_env();
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut dev = Proc::start(&args, &env);
    let base = dev.url();
    let key = dev.line().split_whitespace().last().unwrap().to_owned();
    (dev, Client::new(base, key))
}

/// The voiceprint key of test fleets (32 bytes of 0x2a).
const FLEET_VOICE_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
/// The key of test fleets sealing http jobs' secret headers (32 bytes of 0x2b).
const FLEET_SECRETS_KEY: &str = "KysrKysrKysrKysrKysrKysrKysrKysrKysrKysrKys=";

pub fn base_env() -> Env {
    let mut env = HashMap::new();
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    // Processes of tests running at once each need ops endpoints of their own.
    env.insert("MIXDOWN_OPS_LISTEN".into(), "127.0.0.1:0".into());
    env
}

pub fn create_key(env: &Env, tenant: &str) -> String {
    create_key_with(env, tenant, &[])
}

/// A key of `tenant` made with extra `keys create` options.
pub fn create_key_with(env: &Env, tenant: &str, options: &[&str]) -> String {
    keys_create(env, &[&["--tenant", tenant][..], options].concat())
}

/// Runs `mixdown keys create` with `args`; the key it printed.
pub fn keys_create(env: &Env, args: &[&str]) -> String {
    let text = keys(env, &[&["create"][..], args].concat());
    text.split_whitespace().last().unwrap().to_owned()
}

/// Runs `mixdown keys` with `args`, which must succeed; what it printed.
pub fn keys(env: &Env, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("keys")
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// How quickly the fleet notices trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timings {
    /// The shipped defaults.
    Default,
    /// Tightened so a test takes seconds, not minutes.
    Fast,
}

/// What fleet to start.
pub struct FleetOptions {
    pub apis: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub timings: Timings,
    /// A Redis server of the fleet's own, so the test may restart it.
    pub own_redis: bool,
    /// Extra settings for every process.
    pub env: Vec<(&'static str, String)>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            apis: 1,
            workers: 2,
            concurrency: 8,
            timings: Timings::Fast,
            own_redis: false,
            env: Vec::new(),
        }
    }
}

/// A worker process and the address of its ops endpoints.
pub struct Worker {
    pub proc: Proc,
    pub ops: String,
}

/// API and worker processes of one test over its own database, Redis
/// namespace and bucket.
pub struct Fleet {
    pub stores: FleetStores,
    pub redis: Option<RedisServer>,
    pub env: Env,
    pub key: String,
    pub apis: Vec<(Proc, Client)>,
    /// The ops address (`/metrics`, `/readyz` with details) of each API.
    pub api_ops: Vec<String>,
    pub workers: Vec<Worker>,
    _permit: SemaphorePermit<'static>,
}

impl Fleet {
    pub async fn start(options: FleetOptions) -> Self {
        let permit = FLEETS.acquire().await.unwrap();
        let stores = FleetStores::create().await;
        let redis = options.own_redis.then(RedisServer::start);
        let redis_url = redis
            .as_ref()
            .map_or_else(mixdown_testkit::redis_url, RedisServer::url);
        let mut env = base_env();
        let (id, secret) = stores.s3.credentials.clone().unwrap();
        let mut settings = vec![
            ("DATABASE_URL", stores.database.url.clone()),
            ("REDIS_URL", redis_url),
            ("MIXDOWN_REDIS_PREFIX", stores.redis_prefix.clone()),
            ("S3_ENDPOINT", stores.s3.endpoint.clone().unwrap()),
            ("S3_BUCKET", stores.s3.bucket.clone()),
            ("AWS_ACCESS_KEY_ID", id),
            ("AWS_SECRET_ACCESS_KEY", secret.expose().clone()),
            ("MIXDOWN_CONCURRENCY", options.concurrency.to_string()),
            ("MIXDOWN_FAULT_INJECTION", "true".into()),
            ("MIXDOWN_VOICE_KEY", FLEET_VOICE_KEY.into()),
            ("MIXDOWN_SECRETS_KEY", FLEET_SECRETS_KEY.into()),
        ];
        if options.timings == Timings::Fast {
            for (k, v) in [
                ("MIXDOWN_POLL_INTERVAL_MS", "20"),
                ("MIXDOWN_HEARTBEAT_INTERVAL_MS", "300"),
                ("MIXDOWN_DEAD_AFTER_MS", "2000"),
                ("MIXDOWN_RECONCILE_INTERVAL_MS", "500"),
                ("MIXDOWN_REDRIVE_GRACE_MS", "1000"),
                ("MIXDOWN_RETRY_BASE_MS", "100"),
                ("MIXDOWN_RETRY_CAP_MS", "400"),
                ("MIXDOWN_DRAIN_TIMEOUT_MS", "5000"),
            ] {
                settings.push((k, v.into()));
            }
        }
        settings.extend(options.env);
        for (k, v) in settings {
            env.insert(k.into(), v);
        }
        let key = create_key(&env, "fleet");
        let mut fleet = Self {
            stores,
            redis,
            env,
            key,
            apis: Vec::new(),
            api_ops: Vec::new(),
            workers: Vec::new(),
            _permit: permit,
        };
        for _ in 0..options.apis {
            fleet.start_api();
        }
        for _ in 0..options.workers {
            fleet.start_worker();
        }
        fleet
    }

    pub fn start_api(&mut self) {
        let mut proc = Proc::start(&["api", "--listen", "127.0.0.1:0"], &self.env);
        let client = Client::new(proc.url(), self.key.clone());
        self.api_ops.push(proc.url());
        self.apis.push((proc, client));
    }

    /// Starts a worker of every queue; returns its index.
    pub fn start_worker(&mut self) -> usize {
        let mut proc = Proc::start(&["worker", "--listen", "127.0.0.1:0"], &self.env);
        let ops = proc.url();
        self.workers.push(Worker { proc, ops });
        self.workers.len() - 1
    }

    /// The client of the first API.
    pub fn client(&self) -> &Client {
        &self.apis[0].1
    }

    /// Takes out the worker whose process id is `pid`.
    pub fn take_worker(&mut self, pid: u32) -> Worker {
        let i = self
            .workers
            .iter()
            .position(|w| w.proc.pid() == pid)
            .expect("a worker of this fleet");
        self.workers.remove(i)
    }

    /// SIGTERMs every process, checks each exits cleanly, drops the database.
    pub async fn stop(self) {
        for w in self.workers {
            assert!(w.proc.terminate().success(), "a worker exits cleanly");
        }
        for (api, _) in self.apis {
            assert!(api.terminate().success(), "an API exits cleanly");
        }
        self.stores.cleanup().await;
    }
}

pub const FINAL: [&str; 3] = ["succeeded", "failed", "cancelled"];

/// Talks to one API process as a tenant.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Client {
    pub fn new(base: String, key: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self { http, base, key }
    }

    /// POSTs `body` (if any) to `path`; the status and the JSON answer.
    pub async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Submits a job; its id.
    pub async fn submit(&self, body: Value) -> String {
        let (status, v) = self.post("/v1/jobs", Some(body)).await;
        assert_eq!(status, 202, "{v}");
        v["job_id"].as_str().unwrap().to_owned()
    }

    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/v1/jobs/{id}")).await
    }

    /// Waits until the job is in `state`, at most `limit`.
    pub async fn wait_state(&self, id: &str, state: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.job(id).await;
            if job["state"] == state {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job did not become {state} in {limit:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every job has ended, at most `limit`, and returns them.
    pub async fn wait_all(&self, ids: &[String], limit: Duration) -> Vec<Value> {
        let (ended, pending) = self.settle(ids, limit).await;
        assert!(
            pending.is_empty(),
            "{} of {} jobs did not end in {limit:?}",
            pending.len(),
            ids.len()
        );
        ended
    }

    /// Waits at most `limit` for the jobs to end: those that ended (in the
    /// order of `ids`) and the ids of those that did not.
    pub async fn settle(&self, ids: &[String], limit: Duration) -> (Vec<Value>, Vec<String>) {
        let deadline = Instant::now() + limit;
        let mut done: HashMap<&str, Value> = HashMap::new();
        loop {
            for id in ids {
                if done.contains_key(id.as_str()) {
                    continue;
                }
                let job = self.job(id).await;
                if FINAL.iter().any(|s| job["state"] == *s) {
                    done.insert(id, job);
                }
            }
            if done.len() == ids.len() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pending = ids
            .iter()
            .filter(|id| !done.contains_key(id.as_str()))
            .cloned()
            .collect();
        let ended = ids
            .iter()
            .filter_map(|id| done.remove(id.as_str()))
            .collect();
        (ended, pending)
    }

    /// The live workers as `GET /v1/workers` lists them.
    pub async fn workers(&self) -> Vec<Value> {
        self.get("/v1/workers").await["workers"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The process id of the worker running job `id`, once it runs.
    pub async fn pid_running(&self, id: &str, limit: Duration) -> u32 {
        let deadline = Instant::now() + limit;
        loop {
            for w in self.workers().await {
                if w["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["job_id"] == id)
                {
                    return w["pid"].as_u64().unwrap() as u32;
                }
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not start in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `GET url` without auth: status and body text.
pub async fn fetch(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}
