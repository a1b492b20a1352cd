//! The database, the system of record: one pool over Postgres (fleet) or
//! SQLite (embedded) through sqlx's `Any` driver, one SQL dialect for both,
//! and a repository per aggregate over that pool: jobs, tracks, voice,
//! tenants and their keys, workers, shared secrets, schedules.

mod bulk;
mod feeds;
mod graph;
mod jobs;
mod keys;
mod operators;
mod overview;
mod retry;
mod rows;
mod schedules;
mod secrets;
mod tenants;
mod tracks;
mod tus;
mod voice;
mod workers;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use mixdown_settings::Secret;
use sqlx::{
    AnyPool, Connection, Executor, Row, SqlSafeStr,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{Migration, Migrator},
};

pub use self::{
    bulk::{BulkPage, Requeued},
    feeds::{ChunkWritten, FeedCursor, FeedPage, FeedRepo, FollowerRange, Published},
    graph::{GraphRepo, ImportError, Side},
    jobs::{
        CancelOutcome, Claim, ClaimedJob, Finish, Inserted, JobRepo, RecordedEnds, Redelivery,
        RetryOutcome, RunningJob, due_callbacks_sql,
    },
    keys::{KeyId, KeyOwner, KeyRecord, KeyRepo, Revocation},
    operators::{NewOperatorKey, OPERATOR_KEY_PREFIX, OperatorRepo},
    overview::{ErrorGroup, MinuteOutcomes, QueueStats},
    schedules::ScheduleRepo,
    secrets::{SecretRepo, random_secret},
    tenants::{NewApiKey, TENANT_KEY_PREFIX, TenantRepo},
    tracks::{AddedOutputs, CompleteOutcome, Started, TrackRepo},
    tus::{Recorded, TusRepo},
    voice::{ScoredAttempt, StoredVoiceprint, VoiceRepo},
    workers::{WorkerRecord, WorkerRepo},
};
use crate::{
    clock::{Clock, SyncedClock},
    time::Timestamp,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Migrations whose Postgres form differs from the shared one, by version:
/// what only Postgres can say (declarative partitioning) or needs (no
/// foreign key locks on the hottest insert).
const POSTGRES_FORMS: [(i64, &str); 2] = [
    (
        9,
        include_str!("../../../migrations/postgres/0009_feeds.sql"),
    ),
    (
        23,
        include_str!("../../../migrations/postgres/0023_jobs_tenant_check.sql"),
    ),
];

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row does not parse: written by a newer or broken version.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// An idempotency key names an earlier, different request: another
    /// body, or another sort of request.
    #[error("the idempotency key of request {index} was used for another request")]
    KeyReused {
        /// The position of the refused request among those sent together.
        index: usize,
    },
    /// A row kept changing under a compare-and-set; a later try may land.
    #[error("contended row: {0}")]
    Contended(String),
}

/// Which engine a database runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// PostgreSQL: the fleet's shared database.
    Postgres,
    /// SQLite: one file, for the embedded mode.
    Sqlite,
}

/// What every repository holds: the shared pool, the clock it reads, and
/// which engine it is (for the few statements only one engine has).
#[derive(Debug, Clone)]
struct Conn {
    pool: AnyPool,
    clock: Clock,
    engine: Engine,
    /// Its URL may carry a password.
    url: Secret<Arc<str>>,
}

impl Conn {
    /// Begins a transaction that writes. SQLite's is `BEGIN IMMEDIATE`: a
    /// deferred one that reads first fails at once (`database is locked`)
    /// when another writer committed since, where an immediate one waits its
    /// turn for the write lock.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }
}

/// Handle to the database and its repositories; cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    /// Jobs: accepted, claimed, finished, recovered.
    pub jobs: JobRepo,
    /// Tracks and their presigned uploads.
    pub tracks: TrackRepo,
    /// Voiceprints, verification history and waiting samples.
    pub voice: VoiceRepo,
    /// Tenants and their API keys.
    pub tenants: TenantRepo,
    /// Operators' keys, which open the dashboard.
    pub operators: OperatorRepo,
    /// Every key of tenants and operators, listed and revoked.
    pub keys: KeyRepo,
    /// Worker processes and their heartbeats.
    pub workers: WorkerRepo,
    /// Follows, blocks and mutes.
    pub graph: GraphRepo,
    /// Activities and feeds.
    pub feeds: FeedRepo,
    /// Secrets every process sharing the database shares.
    pub secrets: SecretRepo,
    /// Schedules, and the jobs their ticks make.
    pub schedules: ScheduleRepo,
    /// Resumable uploads and their stored parts.
    pub tus: TusRepo,
    conn: Conn,
}

impl Database {
    /// Connects to a `postgres://` or `sqlite:` URL (without migrating);
    /// every repository reads time from `clock`.
    pub async fn connect(url: &str, clock: Clock) -> Result<Self, StoreError> {
        Self::open(url, clock, None).await
    }

    /// Opens (creating if needed, `0600`: it holds the shared secrets) the
    /// SQLite file at `path`. SQLite gives its journal files the rights of
    /// the database file.
    pub async fn open_sqlite(path: &Path, clock: Clock) -> Result<Self, StoreError> {
        crate::private_files::ensure_file(path)
            .await
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display()), clock).await
    }

    async fn open(
        url: &str,
        clock: Clock,
        max_connections: Option<u32>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        let options = AnyConnectOptions::from_str(url)?;
        let mut pool = pool_options(engine);
        if let Some(max) = max_connections {
            pool = pool.max_connections(max);
        }
        let conn = Conn {
            pool: pool.connect_with(options).await?,
            clock,
            engine,
            url: Secret::new(url.into()),
        };
        Ok(Self {
            jobs: JobRepo::new(conn.clone()),
            tracks: TrackRepo::new(conn.clone()),
            voice: VoiceRepo::new(conn.clone()),
            tenants: TenantRepo::new(conn.clone()),
            operators: OperatorRepo::new(conn.clone()),
            keys: KeyRepo::new(conn.clone()),
            workers: WorkerRepo::new(conn.clone()),
            graph: GraphRepo::new(conn.clone()),
            feeds: FeedRepo::new(conn.clone())?,
            secrets: SecretRepo::new(conn.clone()),
            schedules: ScheduleRepo::new(conn.clone()),
            tus: TusRepo::new(conn.clone()),
            conn,
        })
    }

    /// A second handle to the same database over one connection of its own,
    /// opened on the calling runtime: for work that must go on while the
    /// runtime of the first handle is busy (a worker's heartbeat).
    pub async fn reopen_alone(&self) -> Result<Self, StoreError> {
        Self::open(self.conn.url.expose(), self.conn.clock.clone(), Some(1)).await
    }

    /// The clock the repositories read.
    pub fn clock(&self) -> &Clock {
        &self.conn.clock
    }

    /// Sets a synced clock to the database server's: every host of a fleet
    /// then writes and compares times on one clock, so a host whose clock is
    /// off neither takes a live worker for dead nor misses a queued job. A
    /// no-op for other clocks, and on SQLite (one host).
    pub async fn sync_clock(&self) -> Result<(), StoreError> {
        let (Clock::Synced(synced), Engine::Postgres) = (&self.conn.clock, self.conn.engine) else {
            return Ok(());
        };
        let sent = SyncedClock::system_now();
        let row = sqlx::query(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS now",
        )
        .fetch_one(&self.conn.pool)
        .await?;
        let theirs = Timestamp::from_millis(row.try_get("now")?);
        synced.sync(sent, theirs, SyncedClock::system_now());
        Ok(())
    }

    /// Applies pending migrations; safe to call from every process at start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.conn.engine {
            Engine::Sqlite => MIGRATOR.run(&self.conn.pool).await?,
            Engine::Postgres => postgres_migrator().run(&self.conn.pool).await?,
        }
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.conn.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.feeds.close().await;
        self.conn.pool.close().await;
    }
}

/// The shared migrations with Postgres's own forms put in their place.
fn postgres_migrator() -> Migrator {
    let migrations = MIGRATOR
        .iter()
        .map(
            |m| match POSTGRES_FORMS.iter().find(|(v, _)| *v == m.version) {
                Some((_, sql)) => Migration::new(
                    m.version,
                    m.description.clone(),
                    m.migration_type,
                    sql.into_sql_str(),
                    m.no_tx,
                ),
                None => m.clone(),
            },
        )
        .collect();
    Migrator::with_migrations(migrations)
}

/// A pooled connection idle for longer than this is pinged before it is
/// handed out again.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

fn pool_options(engine: Engine) -> AnyPoolOptions {
    // The pool pings each connection as it comes back, so a ping on the way
    // out as well (sqlx's default) only costs another round trip for every
    // transaction; after a second idle, the server may have gone meanwhile.
    let options = AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        });
    match engine {
        Engine::Postgres => options.max_connections(16),
        // One writer at a time in SQLite: more connections only add lock waits.
        Engine::Sqlite => options.max_connections(4).after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        }),
    }
}
