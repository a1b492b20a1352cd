//! The queue contract, on Redis and embedded.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    ids::JobId,
    model::Priority,
    queue::{Queue, QueueEntry, RedisQueue},
    time::Timestamp,
};

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    super::$case(&super::redis_queue(&clock).await, &clock).await;
                }
            )*
        }
        mod embedded {
            use mixdown_jobs::queue::{EmbeddedQueue, Queue};

            $(
                #[tokio::test]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let queue = Queue::Embedded(EmbeddedQueue::new(clock.clone().into()));
                    super::$case(&queue, &clock).await;
                }
            )*
        }
    };
}

contract!(
    due_jobs_come_out_by_priority_then_age,
    scheduled_jobs_wait_for_their_time,
    pushing_twice_keeps_one_entry,
    an_unacknowledged_lease_returns_its_id,
    the_redrive_mark_and_lead_are_kept,
    a_million_due_jobs_come_out_in_slices,
);

async fn redis_queue(clock: &ManualClock) -> Queue {
    let prefix = format!("mixdown-test-{}", mixdown_testkit::unique());
    let url = mixdown_testkit::redis_url();
    let q = RedisQueue::connect(&url, &prefix, clock.clone().into()).await;
    Queue::Redis(q.expect("connect to test Redis"))
}

const LEASE: Duration = Duration::from_secs(30);

fn entry(priority: i64, run_at: Timestamp) -> QueueEntry {
    QueueEntry {
        id: JobId::new(),
        queue: "noop".into(),
        priority: Priority::new(priority).unwrap(),
        run_at,
    }
}

async fn pop_ids(q: &Queue, max: usize) -> Vec<JobId> {
    let leases = q.pop("noop", max, LEASE).await.unwrap();
    q.ack("noop", &leases).await.unwrap();
    leases.iter().map(|l| l.id).collect()
}

async fn due_jobs_come_out_by_priority_then_age(q: &Queue, clock: &ManualClock) {
    let now = clock.now();
    let old_low = entry(0, now.minus(Duration::from_secs(10)));
    let new_low = entry(0, now);
    let high = entry(50, now);
    let lowest = entry(-100, now.minus(Duration::from_secs(99)));
    q.push(&[
        new_low.clone(),
        old_low.clone(),
        lowest.clone(),
        high.clone(),
    ])
    .await
    .unwrap();
    assert_eq!(q.depth("noop").await.unwrap().ready, 4);
    assert_eq!(pop_ids(q, 3).await, vec![high.id, old_low.id, new_low.id]);
    assert_eq!(pop_ids(q, 3).await, vec![lowest.id]);
    assert!(pop_ids(q, 3).await.is_empty());
    assert!(q.pop("other", 3, LEASE).await.unwrap().is_empty());
}

async fn scheduled_jobs_wait_for_their_time(q: &Queue, clock: &ManualClock) {
    let soon = entry(100, clock.now().plus(Duration::from_millis(300)));
    q.push(std::slice::from_ref(&soon)).await.unwrap();
    let depth = q.depth("noop").await.unwrap();
    assert_eq!((depth.ready, depth.scheduled), (0, 1));
    assert!(pop_ids(q, 10).await.is_empty());
    clock.advance(Duration::from_millis(350));
    assert_eq!(pop_ids(q, 10).await, vec![soon.id]);
}

async fn pushing_twice_keeps_one_entry(q: &Queue, clock: &ManualClock) {
    let e = entry(0, clock.now());
    q.push(&[e.clone(), e.clone()]).await.unwrap();
    q.push(std::slice::from_ref(&e)).await.unwrap();
    assert_eq!(q.depth("noop").await.unwrap().ready, 1);
    assert_eq!(pop_ids(q, 10).await, vec![e.id]);
}

async fn an_unacknowledged_lease_returns_its_id(q: &Queue, clock: &ManualClock) {
    let e = entry(0, clock.now());
    q.push(std::slice::from_ref(&e)).await.unwrap();
    let short = Duration::from_millis(200);
    let leases = q.pop("noop", 10, short).await.unwrap();
    assert_eq!(leases.len(), 1);
    assert!(q.pop("noop", 10, short).await.unwrap().is_empty());
    clock.advance(Duration::from_millis(250));
    let again = q.pop("noop", 10, short).await.unwrap();
    assert_eq!(again.iter().map(|l| l.id).collect::<Vec<_>>(), vec![e.id]);
    q.ack("noop", &again).await.unwrap();
    clock.advance(Duration::from_millis(250));
    assert!(q.pop("noop", 10, short).await.unwrap().is_empty());
    assert_eq!(q.depth("noop").await.unwrap().ready, 0);
}

async fn the_redrive_mark_and_lead_are_kept(q: &Queue, _clock: &ManualClock) {
    assert_eq!(q.redrive_mark().await.unwrap(), None);
    let mark = Timestamp::from_millis(1_700_000_000_000);
    q.set_redrive_mark(mark).await.unwrap();
    assert_eq!(q.redrive_mark().await.unwrap(), Some(mark));
    assert!(q.lead("a", Duration::from_secs(5)).await.unwrap());
    assert!(q.lead("a", Duration::from_secs(5)).await.unwrap());
    if let Queue::Redis(_) = q {
        assert!(!q.lead("b", Duration::from_secs(5)).await.unwrap());
    }
    q.ping().await.unwrap();
}

/// A million jobs that all fell due between two fetches (a fan-out, a
/// backlog after an outage) come out in bounded slices: no reply grows with
/// the backlog, so no fetch fails or kills its worker.
async fn a_million_due_jobs_come_out_in_slices(q: &Queue, clock: &ManualClock) {
    const JOBS: usize = 1_000_000;
    let due = clock.now().plus(Duration::from_secs(2));
    for _ in 0..JOBS / 50_000 {
        let chunk: Vec<QueueEntry> = (0..50_000).map(|_| entry(0, due)).collect();
        q.push(&chunk).await.unwrap();
    }
    let depth = q.depth("noop").await.unwrap();
    assert_eq!(depth.ready + depth.scheduled, JOBS as u64);
    clock.advance(due.since(clock.now()) + Duration::from_millis(50));
    let mut total = 0;
    loop {
        let leases = q.pop("noop", 1000, LEASE).await.unwrap();
        if leases.is_empty() {
            break;
        }
        assert!(leases.len() <= 1000);
        total += leases.len();
        q.ack("noop", &leases).await.unwrap();
    }
    assert_eq!(total, JOBS);
    assert_eq!(q.depth("noop").await.unwrap(), Default::default());
}
