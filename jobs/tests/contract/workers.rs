//! The workers repository contract, on Postgres and on SQLite.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    db::{Database, WorkerRecord},
    ids::WorkerId,
};

use crate::tenant;

contract!(
    workers_are_live_while_they_beat,
    a_second_handle_reaches_the_same_database,
);

fn record(clock: &ManualClock) -> WorkerRecord {
    WorkerRecord {
        id: WorkerId::generate("contract"),
        queues: vec!["noop".into(), "ingest".into()],
        concurrency: 4,
        hostname: "contract".into(),
        pid: 7,
        started_at: clock.now(),
        last_seen: clock.now(),
    }
}

async fn workers_are_live_while_they_beat(db: &Database, clock: &ManualClock) {
    let (steady, silent) = (record(clock), record(clock));
    db.workers.heartbeat(&steady).await.unwrap();
    db.workers.heartbeat(&silent).await.unwrap();
    let window = Duration::from_secs(10);
    assert_eq!(db.workers.live(window).await.unwrap().len(), 2);
    clock.advance(Duration::from_secs(11));
    db.workers.heartbeat(&steady).await.unwrap();
    let live = db.workers.live(window).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, steady.id);
    assert_eq!(live[0].queues, steady.queues);
    assert_eq!((live[0].concurrency, live[0].pid), (4, 7));
    assert_eq!(live[0].last_seen, clock.now());
    db.workers.remove(&steady.id).await.unwrap();
    assert!(db.workers.live(window).await.unwrap().is_empty());
}

async fn a_second_handle_reaches_the_same_database(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let id = db
        .jobs
        .insert(&mixdown_jobs::model::NewJob::with_defaults(
            t,
            mixdown_jobs::payload::JobPayload::Noop(Default::default()),
        ))
        .await
        .unwrap()
        .job
        .id;
    let alone = db.reopen_alone().await.unwrap();
    assert!(alone.jobs.get(t, id).await.unwrap().is_some());
    alone.close().await;
}
