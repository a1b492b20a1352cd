//! A claimed row that does not parse, on Postgres and on SQLite: that job
//! ends `failed` at once and the rest of its batch runs. The row is written
//! straight through SQL, as a bad migration or a hand edit would leave it.

use mixdown_jobs::{
    clock::Clock,
    codes::ErrorCode,
    db::Database,
    ids::{JobId, WorkerId},
    model::JobState,
};
use sqlx::AnyPool;

#[tokio::test]
async fn an_unreadable_row_fails_alone_and_its_batch_runs_on_postgres() {
    let pg = mixdown_testkit::TestDatabase::create().await;
    let db = Database::connect(&pg.url, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    an_unreadable_row_fails_alone_and_its_batch_runs(&db, &pg.url).await;
    db.close().await;
    pg.drop_database().await;
}

#[tokio::test]
async fn an_unreadable_row_fails_alone_and_its_batch_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let db = Database::open_sqlite(&path, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    let url = format!("sqlite://{}", path.display());
    an_unreadable_row_fails_alone_and_its_batch_runs(&db, &url).await;
}

async fn an_unreadable_row_fails_alone_and_its_batch_runs(db: &Database, url: &str) {
    let tenant = crate::tenant(db).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let new = crate::jobs::noop(tenant, 0);
        ids.push(db.jobs.insert(&new).await.unwrap().job.id);
    }
    let bad = ids[1];
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.unwrap();
    sqlx::query("UPDATE jobs SET payload = $1 WHERE id = $2")
        .bind(r#"{"sleep_ms": "soon"}"#)
        .bind(bad.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let claim = db
        .jobs
        .claim_batch(&ids, &WorkerId::generate("contract"))
        .await
        .unwrap();
    let mut claimed: Vec<JobId> = claim.jobs.iter().map(|j| j.id).collect();
    claimed.sort();
    assert_eq!(claimed, vec![ids[0], ids[2]]);
    assert_eq!(claim.failed, vec![bad]);
    let job = db.jobs.get(tenant, bad).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Failed, 1));
    let error = job.error.unwrap();
    assert_eq!(error.code, ErrorCode::InvalidPayload);
    assert!(error.message.contains("sleep_ms"), "{}", error.message);
    for id in [ids[0], ids[2]] {
        let job = db.jobs.get(tenant, id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Running);
    }
}
