//! Test helpers: every test gets its own database, Redis namespace, bucket
//! and directory on the real services the test script starts.

use std::path::Path;

use mixdown_jobs::{
    Stores,
    clock::Clock,
    db::Database,
    events::{Events, MemoryEvents, RedisEvents},
    metrics::Metrics,
    objects::{DirStore, ObjectStore, S3Settings, S3Store},
    queue::{EmbeddedQueue, Queue, RedisQueue},
    settings::{JobsSettings, Secret},
};
use sqlx::{AnyPool, AssertSqlSafe};
use tempfile::TempDir;

#[cfg(feature = "browser")]
pub mod browser;
mod voice_files;
pub use voice_files::{voice_calibration_data, voice_data, voice_model};

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Writes a WAV of a 330 Hz sine lasting `seconds` (16-bit stereo,
/// 44.1 kHz) to `path` with sox.
pub fn sox_tone(path: &Path, seconds: f64) {
    let status = std::process::Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2", "-b", "16"])
        .arg(path)
        .args(["synth", &seconds.to_string(), "sine", "330", "vol", "0.5"])
        .status()
        .expect("sox runs");
    assert!(status.success(), "sox made no tone");
}

/// URL of the test Postgres server's admin database.
pub fn postgres_admin_url() -> String {
    var(
        "MIXDOWN_TEST_POSTGRES_URL",
        "postgres://root@%2Fvar%2Frun%2Fpostgresql/postgres",
    )
}

/// URL of the test Redis server.
pub fn redis_url() -> String {
    var("MIXDOWN_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// URL of the test Redis Cluster (three masters, see scripts/services.sh).
pub fn redis_cluster_url() -> String {
    var(
        "MIXDOWN_TEST_REDIS_CLUSTER_URL",
        "redis+cluster://127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003",
    )
}

/// Where the test S3 server is, with a fresh bucket name.
pub fn s3_settings() -> S3Settings {
    S3Settings {
        endpoint: Some(var("MIXDOWN_TEST_S3_ENDPOINT", "http://127.0.0.1:9001")),
        bucket: format!("mixdown-test-{}", unique()),
        region: "us-east-1".into(),
        credentials: Some((
            var("MIXDOWN_TEST_S3_ACCESS_KEY", "testing"),
            Secret::new(var("MIXDOWN_TEST_S3_SECRET_KEY", "testing-secret")),
        )),
    }
}

/// A short unique name part.
pub fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A fresh Postgres database, dropped by `drop_database`.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database on the test server.
    pub async fn create() -> Self {
        let admin = postgres_admin_url();
        let name = format!("mixdown_test_{}", unique());
        let pool = admin_pool(&admin).await;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
        let (server, _) = base.rsplit_once('/').expect("database URL has a path");
        let url = if query.is_empty() {
            format!("{server}/{name}")
        } else {
            format!("{server}/{name}?{query}")
        };
        Self { url, name }
    }

    /// Drops the database (closing whatever still uses it).
    pub async fn drop_database(self) {
        let pool = admin_pool(&postgres_admin_url()).await;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = sqlx::query(AssertSqlSafe(sql)).execute(&pool).await;
        pool.close().await;
    }
}

async fn admin_pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url)
        .await
        .expect("connect to test Postgres")
}

/// Stores of the fleet on the real services, with their database to drop.
pub struct FleetStores {
    /// The stores.
    pub stores: Stores,
    /// The database behind them.
    pub database: TestDatabase,
    /// The Redis key prefix of this test.
    pub redis_prefix: String,
    /// The S3 settings, bucket included.
    pub s3: S3Settings,
}

impl FleetStores {
    /// Fresh Postgres database, Redis namespace and bucket, on the system clock.
    pub async fn create() -> Self {
        Self::with_clock(Clock::System).await
    }

    /// Fresh Postgres database, Redis namespace and bucket, reading time from `clock`.
    pub async fn with_clock(clock: Clock) -> Self {
        let database = TestDatabase::create().await;
        let db = Database::connect(&database.url, clock.clone())
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let redis_prefix = format!("mixdown-test-{}", unique());
        let queue = RedisQueue::connect(&redis_url(), &redis_prefix, clock)
            .await
            .expect("connect to test Redis");
        let events = redis_events(&redis_url(), &redis_prefix).await;
        let s3 = s3_settings();
        let bucket = S3Store::connect(&s3).await;
        bucket.ensure_bucket().await.expect("create test bucket");
        let stores = Stores {
            db,
            queue: Queue::Redis(queue),
            objects: ObjectStore::S3(bucket),
            metrics: Metrics::new(),
            events,
        };
        Self {
            stores,
            database,
            redis_prefix,
            s3,
        }
    }

    /// Closes the pool and drops the database.
    pub async fn cleanup(self) {
        self.stores.db.close().await;
        self.database.drop_database().await;
    }
}

/// The embedded stores in a temporary directory (kept alive by the
/// `TempDir`), on the system clock.
pub async fn embedded_stores() -> (Stores, TempDir) {
    embedded_stores_with_clock(Clock::System).await
}

/// The embedded stores in a temporary directory, reading time from `clock`.
pub async fn embedded_stores_with_clock(clock: Clock) -> (Stores, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = embedded_stores_in(dir.path(), clock).await;
    (stores, dir)
}

/// The embedded stores under `dir`, reading time from `clock`.
pub async fn embedded_stores_in(dir: &Path, clock: Clock) -> Stores {
    let db = Database::open_sqlite(&dir.join("mixdown.db"), clock.clone())
        .await
        .expect("open SQLite");
    db.migrate().await.expect("migrate");
    let objects = DirStore::open(&dir.join("objects"))
        .await
        .expect("dir store");
    let retention = JobsSettings::default().events_retention();
    Stores {
        db,
        queue: Queue::Embedded(EmbeddedQueue::new(clock.clone())),
        objects: ObjectStore::Dir(objects),
        metrics: Metrics::new(),
        events: Events::Memory(MemoryEvents::new(clock, retention)),
    }
}

/// Live events in the Redis at `url` under `prefix`, kept as the default
/// settings say: another API replica's view of a fleet's events.
pub async fn redis_events(url: &str, prefix: &str) -> Events {
    let retention = JobsSettings::default().events_retention();
    let events = RedisEvents::connect(url, prefix, retention).await;
    Events::Redis(events.expect("connect to test Redis"))
}

/// A Redis server of the test's own, on a free port, keeping nothing on disk:
/// for tests that restart or stop the queue's server. Killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: std::process::Child,
}

impl RedisServer {
    /// Starts `redis-server` on a free local port and waits until it answers.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self {
            port,
            child: Self::spawn(port),
        }
    }

    fn spawn(port: u16) -> std::process::Child {
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not answer on port {port}");
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port, empty.
    pub fn restart_empty(&mut self) {
        self.stop();
        self.child = Self::spawn(self.port);
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A mono 16-bit PCM WAV file of `samples` (in [−1, 1]) at `rate` Hz.
pub fn wav(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
