//! Builds the stores a role needs from the settings: the embedded trio for
//! `dev`, the shared fleet stores otherwise.

use anyhow::{Context, bail};
use mixdown_jobs::{
    Stores,
    clock::{Clock, SyncedClock},
    db::Database,
    events::{Events, MemoryEvents, RedisEvents},
    metrics::Metrics,
    objects::{DirStore, ObjectStore, S3Store},
    queue::{EmbeddedQueue, Queue, RedisQueue},
    settings::JobsSettings,
};
use tracing::warn;

/// Whether a role may use the in-process queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One process runs everything: an embedded queue is fine.
    Embedded,
    /// Processes share work: the queue must be Redis.
    Fleet(&'static str),
}

/// The database, migrated.
pub async fn database(settings: &JobsSettings) -> anyhow::Result<Database> {
    let db = match &settings.database_url {
        Some(url) => {
            let db = Database::connect(url.expose(), SyncedClock::new().into())
                .await
                .context("cannot connect to DATABASE_URL")?;
            db.sync_clock()
                .await
                .context("cannot read the time of DATABASE_URL")?;
            db
        }
        None => {
            let dir = &settings.data_dir;
            mixdown_jobs::private_files::create_dir_all(dir)
                .await
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            let path = dir.join("mixdown.db");
            Database::open_sqlite(&path, Clock::System)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?
        }
    };
    db.migrate().await.context("cannot migrate the database")?;
    Ok(db)
}

/// All three stores, and the live events.
pub async fn stores(settings: &JobsSettings, mode: Mode) -> anyhow::Result<Stores> {
    let db = database(settings).await?;
    Ok(Stores {
        queue: queue(settings, mode, db.clock().clone()).await?,
        db,
        objects: objects(settings).await?,
        metrics: Metrics::new(),
        events: events(settings).await?,
    })
}

/// Redis streams beside the Redis queue; in memory beside the embedded one.
async fn events(settings: &JobsSettings) -> anyhow::Result<Events> {
    let retention = settings.events_retention();
    match &settings.redis_url {
        Some(url) => Ok(Events::Redis(
            RedisEvents::connect(url.expose(), &settings.redis_prefix, retention)
                .await
                .context("cannot connect to REDIS_URL")?,
        )),
        None => Ok(Events::Memory(MemoryEvents::new(Clock::System, retention))),
    }
}

/// The queue reads `clock`, the database's: due times and leases are its times.
async fn queue(settings: &JobsSettings, mode: Mode, clock: Clock) -> anyhow::Result<Queue> {
    match (&settings.redis_url, mode) {
        (Some(url), _) => Ok(Queue::Redis(
            RedisQueue::connect(url.expose(), &settings.redis_prefix, clock)
                .await
                .context("cannot connect to REDIS_URL")?
                .with_weights(settings.tenant_weights.clone()),
        )),
        (None, Mode::Embedded) => Ok(Queue::Embedded(
            EmbeddedQueue::new(clock).with_weights(settings.tenant_weights.clone()),
        )),
        (None, Mode::Fleet(role)) => bail!(
            "REDIS_URL is not set: `mixdown {role}` shares work with other processes through \
             Redis (the embedded queue exists only inside `mixdown dev`)"
        ),
    }
}

async fn objects(settings: &JobsSettings) -> anyhow::Result<ObjectStore> {
    match settings.s3()? {
        Some(s3) => {
            let store = S3Store::connect(&s3).await;
            if let Err(err) = store.ensure_bucket().await {
                warn!(bucket = %s3.bucket, error = %err, "bucket not reachable yet");
            }
            Ok(ObjectStore::S3(store))
        }
        None => {
            let root = settings.data_dir.join("objects");
            let dir = DirStore::open(&root)
                .await
                .with_context(|| format!("cannot create {}", root.display()))?;
            Ok(ObjectStore::Dir(dir))
        }
    }
}
