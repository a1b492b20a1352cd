//! One contract for every backend: each repository of the database
//! (Postgres, SQLite), the queue (Redis, embedded) and the object store (S3,
//! directory), each run against the real service. Time is a manual clock the
//! cases move, so nothing here waits for time to pass.

/// Runs each case against a fresh, migrated Postgres database and a
/// fresh SQLite file, both reading time from a manual clock.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let pg = mixdown_testkit::TestDatabase::create().await;
                    let db = crate::migrated(&pg.url, &clock).await;
                    super::$case(&db, &clock).await;
                    db.close().await;
                    pg.drop_database().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let (stores, _dir) =
                        mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
                    super::$case(&stores.db, &clock).await;
                }
            )*
        }
    };
}

mod clock_sync;
mod events;
mod family;
mod jobs;
mod keys;
mod migration;
mod objects;
mod outbox_index;
mod overview;
mod private_files;
mod queue;
mod schedules;
mod secrets;
mod social;
mod tenants;
mod tracks;
mod unreadable;
mod voice;
mod workers;

use mixdown_jobs::{clock::ManualClock, db::Database, ids::TenantId};

/// A database over `url`, migrated (twice: every process migrates at start).
async fn migrated(url: &str, clock: &ManualClock) -> Database {
    let db = Database::connect(url, clock.clone().into()).await.unwrap();
    db.migrate().await.unwrap();
    // Migrating twice is harmless: every process does it at start.
    db.migrate().await.unwrap();
    db
}

/// A fresh tenant.
async fn tenant(db: &Database) -> TenantId {
    let name = format!("tenant-{}", mixdown_testkit::unique());
    db.tenants.create_key(&name).await.unwrap().tenant_id
}
