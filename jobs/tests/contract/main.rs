//! One contract for every backend: the job store (Postgres, SQLite), the
//! queue (Redis, embedded) and the object store (S3, directory), each run
//! against the real service.

/// Runs each case against a fresh, migrated Postgres database and a
/// fresh SQLite file.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = mixdown_testkit::TestDatabase::create().await;
                    let store = crate::migrated(&db.url).await;
                    super::$case(&store).await;
                    store.close().await;
                    db.drop_database().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (stores, _dir) = mixdown_testkit::embedded_stores().await;
                    super::$case(&stores.jobs).await;
                }
            )*
        }
    };
}

mod jobs;
mod objects;
mod queue;
mod tracks;
mod voice;

use mixdown_jobs::{ids::TenantId, store::JobStore};

/// A store over `url`, migrated (twice: every process migrates at start).
async fn migrated(url: &str) -> JobStore {
    let store = JobStore::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    // Migrating twice is harmless: every process does it at start.
    store.migrate().await.unwrap();
    store
}

/// A fresh tenant.
async fn tenant(store: &JobStore) -> TenantId {
    let name = format!("tenant-{}", mixdown_testkit::unique());
    store.create_api_key(&name).await.unwrap().tenant_id
}
