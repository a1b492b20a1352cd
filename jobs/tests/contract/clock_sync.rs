//! Hosts whose clocks disagree, on Postgres: each process sets its clock to
//! the database's, so a worker on a host running 30 s behind is not taken
//! for dead by a reconciler on a host with the right time.

use std::time::Duration;

use mixdown_jobs::{
    clock::{Clock, SyncedClock},
    db::{Database, WorkerRecord},
    ids::WorkerId,
    time::Timestamp,
};

const SKEW: i64 = 30_000;

/// A database handle on a host whose clock runs `SKEW` behind, not yet synced.
async fn behind(url: &str) -> (Database, SyncedClock) {
    let clock = SyncedClock::new();
    let now = SyncedClock::system_now();
    clock.sync(now, Timestamp::from_millis(now.millis() - SKEW), now);
    let db = Database::connect(url, clock.clone().into()).await.unwrap();
    (db, clock)
}

#[tokio::test]
async fn a_worker_on_a_host_running_behind_is_not_taken_for_dead() {
    let pg = mixdown_testkit::TestDatabase::create().await;
    let reconciler = Database::connect(&pg.url, Clock::from(SyncedClock::new()))
        .await
        .unwrap();
    reconciler.migrate().await.unwrap();
    reconciler.sync_clock().await.unwrap();
    let (worker_db, clock) = behind(&pg.url).await;
    let skewed = worker_db.clock().now().millis() - reconciler.clock().now().millis();
    assert!((-SKEW - 1000..=-SKEW + 1000).contains(&skewed), "{skewed}");
    worker_db.sync_clock().await.unwrap();
    assert!(clock.offset_ms().abs() < 1000, "{}", clock.offset_ms());

    let tenant = crate::tenant(&reconciler).await;
    let new = crate::jobs::noop(tenant, 0);
    let job = reconciler.jobs.insert(&new).await.unwrap().job;
    // Each host's sync is off by up to half a round trip, so the worker may
    // see the job due a few milliseconds after the reconciler queued it; its
    // queue hands the job out only then, and so does this test.
    while worker_db.clock().now() < job.run_at {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let worker = WorkerId::generate("behind");
    let now = worker_db.clock().now();
    let record = WorkerRecord {
        id: worker.clone(),
        queues: vec!["noop".into()],
        concurrency: 1,
        hostname: "behind".into(),
        pid: 1,
        started_at: now,
        last_seen: now,
    };
    worker_db.workers.heartbeat(&record).await.unwrap();
    assert_eq!(
        worker_db
            .jobs
            .claim(&[job.id], &worker)
            .await
            .unwrap()
            .len(),
        1
    );
    let recovered = reconciler
        .jobs
        .recover_orphans(Duration::from_secs(6))
        .await
        .unwrap();
    assert!(
        recovered.is_empty(),
        "a live worker's job taken back: {recovered:?}"
    );
    worker_db.close().await;
    reconciler.close().await;
    pg.drop_database().await;
}
