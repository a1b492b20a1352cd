//! The job store, the system of record: one SQL dialect that runs on Postgres
//! (fleet) and SQLite (embedded) through sqlx's `Any` driver.

mod callbacks;
mod jobs;
mod rows;
mod tenants;
mod tracks;
mod voice;
mod workers;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

pub use jobs::{CancelOutcome, ClaimedJob, Finish, Inserted, RetryOutcome};
pub use tenants::NewApiKey;
pub use tracks::{CompleteOutcome, NewTrack, TrackRecord, random_secret};
pub use voice::{ScoredAttempt, StoredVoiceprint};
pub use workers::{RunningJob, WorkerRecord};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A failure of the job store.
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
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// PostgreSQL: the fleet's shared database.
    Postgres,
    /// SQLite: one file, for the embedded mode.
    Sqlite,
}

/// Handle to the job database; cheap to clone.
#[derive(Debug, Clone)]
pub struct JobStore {
    pool: AnyPool,
    url: Arc<str>,
}

impl JobStore {
    /// Connects to a `postgres://` or `sqlite:` URL (without migrating).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, None).await
    }

    async fn open(url: &str, max_connections: Option<u32>) -> Result<Self, StoreError> {
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
        let pool = pool.connect_with(options).await?;
        Ok(Self {
            pool,
            url: url.into(),
        })
    }

    /// A second handle to the same database over one connection of its own,
    /// opened on the calling runtime: for work that must go on while the
    /// runtime of the first handle is busy (a worker's heartbeat).
    pub async fn reopen_alone(&self) -> Result<Self, StoreError> {
        Self::open(&self.url, Some(1)).await
    }

    /// Opens (creating if needed) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Applies pending migrations; safe to call from every process at start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn pool_options(engine: Engine) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
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
