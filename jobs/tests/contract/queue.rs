//! The queue contract, on Redis and embedded.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    ids::{JobId, TenantId},
    model::Priority,
    queue::{EmbeddedQueue, Queue, QueueEntry, RedisQueue, TenantWeights},
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
        mod cluster {
            $(
                #[tokio::test]
                async fn $case() {
                    let clock = mixdown_jobs::clock::ManualClock::new();
                    let url = mixdown_testkit::redis_cluster_url();
                    super::$case(&super::redis_queue_at(&url, &clock).await, &clock).await;
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
    every_lease_of_a_big_pop_returns_unacknowledged,
    a_tenants_backlog_does_not_hold_another_tenants_job_behind_it,
    a_tenant_back_from_idling_has_earned_no_turns,
    a_returned_lease_waits_for_its_tenants_turn,
);

/// Both backends with `weights`.
async fn weighted_queues(clock: &ManualClock, weights: &str) -> [Queue; 2] {
    let weights = <TenantWeights as mixdown_settings::Value>::parse(weights).unwrap();
    let Queue::Redis(redis) = redis_queue(clock).await else {
        unreachable!("redis_queue makes a Redis queue")
    };
    let embedded = EmbeddedQueue::new(clock.clone().into());
    [
        Queue::Redis(redis.with_weights(weights.clone())),
        Queue::Embedded(embedded.with_weights(weights)),
    ]
}

async fn redis_queue(clock: &ManualClock) -> Queue {
    redis_queue_at(&mixdown_testkit::redis_url(), clock).await
}

/// A queue in a fresh namespace of the Redis server or cluster at `url`.
async fn redis_queue_at(url: &str, clock: &ManualClock) -> Queue {
    let prefix = format!("mixdown-test-{}", mixdown_testkit::unique());
    let q = RedisQueue::connect(url, &prefix, clock.clone().into()).await;
    Queue::Redis(q.expect("connect to test Redis"))
}

const LEASE: Duration = Duration::from_secs(30);

/// The tenant of the entries that do not name one.
const TENANT: &str = "00000000-0000-4000-8000-000000000001";

fn entry(priority: i64, run_at: Timestamp) -> QueueEntry {
    tenant_entry(TenantId::parse(TENANT).unwrap(), priority, run_at)
}

fn tenant_entry(tenant: TenantId, priority: i64, run_at: Timestamp) -> QueueEntry {
    QueueEntry {
        id: JobId::new(),
        tenant,
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

/// A pop larger than one write of leases (the Redis script records them a
/// thousand at a time) records every one: all come back once they expire.
async fn every_lease_of_a_big_pop_returns_unacknowledged(q: &Queue, clock: &ManualClock) {
    let entries: Vec<QueueEntry> = (0..2500).map(|_| entry(0, clock.now())).collect();
    q.push(&entries).await.unwrap();
    let short = Duration::from_millis(200);
    assert_eq!(q.pop("noop", 5000, short).await.unwrap().len(), 2500);
    assert!(q.pop("noop", 5000, short).await.unwrap().is_empty());
    clock.advance(Duration::from_millis(250));
    let mut back = Vec::new();
    loop {
        let leases = q.pop("noop", 5000, LEASE).await.unwrap();
        if leases.is_empty() {
            break;
        }
        back.extend(leases.iter().map(|l| l.id));
    }
    back.sort();
    let mut ids: Vec<JobId> = entries.iter().map(|e| e.id).collect();
    ids.sort();
    assert_eq!(back, ids);
}

/// Pushes `count` due jobs of `tenant`, oldest first; their ids.
async fn backlog(q: &Queue, clock: &ManualClock, tenant: TenantId, count: usize) -> Vec<JobId> {
    let now = clock.now();
    let entries: Vec<QueueEntry> = (0..count)
        .map(|i| {
            tenant_entry(
                tenant,
                0,
                now.minus(Duration::from_millis((count - i) as u64)),
            )
        })
        .collect();
    q.push(&entries).await.unwrap();
    entries.iter().map(|e| e.id).collect()
}

/// Pops one at a time, as a worker of concurrency 1 does.
async fn pop_one_by_one(q: &Queue, n: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.extend(pop_ids(q, 1).await);
    }
    ids
}

async fn a_tenants_backlog_does_not_hold_another_tenants_job_behind_it(
    q: &Queue,
    clock: &ManualClock,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let a_jobs = backlog(q, clock, a, 3000).await;
    let b_job = tenant_entry(b, 0, clock.now());
    q.push(std::slice::from_ref(&b_job)).await.unwrap();
    assert_eq!(q.depth("noop").await.unwrap().ready, 3001);
    let first = pop_one_by_one(q, 3).await;
    assert!(first[..2].contains(&b_job.id), "{first:?}");
    assert_eq!(first.iter().filter(|id| a_jobs.contains(id)).count(), 2);
    // A's own order is kept: oldest first.
    assert_eq!(pop_ids(q, 2).await, a_jobs[2..4]);
    // A batch takes turns too: a fresh pair of tenants share one fetch.
    let c_jobs = backlog(q, clock, TenantId::new(), 10).await;
    let batch = pop_ids(q, 10).await;
    assert_eq!(
        batch.iter().filter(|id| c_jobs.contains(id)).count(),
        5,
        "{batch:?}"
    );
    assert_eq!(q.depth("noop").await.unwrap().ready, 3011 - 15);
}

async fn a_tenant_back_from_idling_has_earned_no_turns(q: &Queue, clock: &ManualClock) {
    let (a, b) = (TenantId::new(), TenantId::new());
    backlog(q, clock, b, 1).await;
    let a_jobs = backlog(q, clock, a, 100).await;
    // B idles while A alone runs 50 jobs.
    assert_eq!(pop_ids(q, 51).await.len(), 51);
    let b_jobs = backlog(q, clock, b, 20).await;
    let next = pop_one_by_one(q, 20).await;
    let b_taken = next.iter().filter(|id| b_jobs.contains(id)).count();
    assert!(
        (9..=11).contains(&b_taken),
        "B took {b_taken} of 20: {next:?}"
    );
    assert!(
        next.iter()
            .all(|id| a_jobs.contains(id) || b_jobs.contains(id))
    );
}

async fn a_returned_lease_waits_for_its_tenants_turn(q: &Queue, clock: &ManualClock) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let a_jobs = backlog(q, clock, a, 3).await;
    let short = Duration::from_millis(200);
    let lost = q.pop("noop", 1, short).await.unwrap();
    assert_eq!(lost[0].id, a_jobs[0]);
    let b_jobs = backlog(q, clock, b, 3).await;
    clock.advance(Duration::from_millis(250));
    // A's lost job returns to the head of A's jobs; turns go on alternating.
    let order = pop_one_by_one(q, 6).await;
    let tenants: Vec<char> = order
        .iter()
        .map(|id| if a_jobs.contains(id) { 'a' } else { 'b' })
        .collect();
    assert_eq!(
        tenants.iter().filter(|t| **t == 'a').count(),
        3,
        "{order:?}"
    );
    assert!(tenants.windows(2).all(|w| w[0] != w[1]), "{tenants:?}");
    assert_eq!(
        order.iter().find(|id| a_jobs.contains(id)),
        Some(&a_jobs[0])
    );
    assert!(b_jobs.iter().all(|id| order.contains(id)));
}

#[tokio::test]
async fn a_heavier_tenant_gets_its_weight_in_turns_on_both_backends() {
    let clock = ManualClock::new();
    let (heavy, light) = (TenantId::new(), TenantId::new());
    let weights = format!("{heavy}=3");
    for q in weighted_queues(&clock, &weights).await {
        let heavy_jobs = backlog(&q, &clock, heavy, 300).await;
        backlog(&q, &clock, light, 300).await;
        let first = pop_one_by_one(&q, 100).await;
        let heavy_taken = first.iter().filter(|id| heavy_jobs.contains(id)).count();
        assert!((74..=76).contains(&heavy_taken), "{heavy_taken} of 100");
        let batch = pop_ids(&q, 100).await;
        let heavy_taken = batch.iter().filter(|id| heavy_jobs.contains(id)).count();
        assert!(
            (74..=76).contains(&heavy_taken),
            "{heavy_taken} of 100 in one batch"
        );
    }
}

/// A ready entry's score in the layout, as the queue computes it.
fn ready_score(priority: i64, run_at: Timestamp) -> i64 {
    (i64::from(Priority::MAX) - priority) * (1 << 42) + run_at.millis()
}

#[tokio::test]
async fn entries_an_older_version_left_untagged_are_moved_in_and_keep_their_order() {
    let clock = ManualClock::new();
    let Queue::Redis(redis) = redis_queue(&clock).await else {
        unreachable!("redis_queue makes a Redis queue")
    };
    let (mut conn, prefix) = redis.connection();
    let old = format!("{prefix}:noop:");
    let now = clock.now();
    let [low, high, returning, scheduled] = [(); 4].map(|()| JobId::new());
    let older = now.minus(Duration::from_secs(20));
    let () = ::redis::pipe()
        .zadd(
            format!("{old}ready:{TENANT}"),
            low.to_string(),
            ready_score(0, now),
        )
        .zadd(
            format!("{old}ready:{TENANT}"),
            high.to_string(),
            ready_score(50, now),
        )
        .zadd(format!("{old}turns"), TENANT, 0)
        .set(format!("{old}ready_count"), 2)
        .set(format!("{old}clock"), 0)
        .zadd(
            format!("{old}held"),
            format!("{}:{TENANT}:{returning}", ready_score(0, older)),
            now.millis() - 1,
        )
        .zadd(
            format!("{old}later"),
            format!("0:{TENANT}:{scheduled}"),
            now.plus(Duration::from_millis(300)).millis(),
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    let q = Queue::Redis(redis);
    assert_eq!(q.adopt_untagged("noop").await.unwrap(), 4);
    assert_eq!(q.adopt_untagged("noop").await.unwrap(), 0);
    let depth = q.depth("noop").await.unwrap();
    assert_eq!((depth.ready, depth.scheduled), (3, 1));
    assert_eq!(pop_ids(&q, 10).await, vec![high, returning, low]);
    clock.advance(Duration::from_millis(350));
    assert_eq!(pop_ids(&q, 10).await, vec![scheduled]);
    let left: usize = ::redis::cmd("KEYS")
        .arg(format!("{old}*"))
        .query_async::<Vec<String>>(&mut conn)
        .await
        .unwrap()
        .len();
    assert_eq!(left, 0, "the untagged keys are gone");
}

#[tokio::test]
async fn a_queue_whose_keys_were_lost_takes_the_redrive_mark_with_them() {
    let clock = ManualClock::new();
    for url in [
        mixdown_testkit::redis_url(),
        mixdown_testkit::redis_cluster_url(),
    ] {
        let Queue::Redis(redis) = redis_queue_at(&url, &clock).await else {
            unreachable!("redis_queue_at makes a Redis queue")
        };
        let (mut conn, prefix) = redis.connection();
        let lost = format!("{{{prefix}:transcode}}:redrive_from");
        let q = Queue::Redis(redis);
        q.set_redrive_mark(clock.now()).await.unwrap();
        assert_eq!(q.redrive_mark().await.unwrap(), Some(clock.now()));
        // What a node restarted empty does to the queues it held.
        let () = ::redis::cmd("DEL")
            .arg(&lost)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .unwrap();
        assert_eq!(q.redrive_mark().await.unwrap(), None, "{url}");
    }
}
