//! The live events contract, on Redis streams and in memory.

use std::{sync::Arc, time::Duration};

use mixdown_jobs::{
    events::{Entry, EntryKind, Event, EventId, Events, Subscription},
    ids::{JobId, TenantId},
};

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let prefix = format!("mixdown-test-{}", mixdown_testkit::unique());
                    let url = mixdown_testkit::redis_url();
                    super::$case(&mixdown_testkit::redis_events(&url, &prefix).await).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $case() {
                    let prefix = format!("mixdown-test-{}", mixdown_testkit::unique());
                    let url = mixdown_testkit::redis_cluster_url();
                    super::$case(&mixdown_testkit::redis_events(&url, &prefix).await).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let (stores, _dir) = mixdown_testkit::embedded_stores().await;
                    super::$case(&stores.events).await;
                }
            )*
        }
    };
}

contract!(
    published_events_come_in_order_with_increasing_ids,
    a_subscription_after_an_id_replays_exactly_what_followed,
    tenants_never_hear_each_other,
    a_subscriber_far_behind_catches_up_in_pages,
    an_id_beyond_the_newest_counts_as_the_newest,
);

/// How long a case waits for an event it expects.
const PATIENCE: Duration = Duration::from_secs(10);

fn progress(job_id: JobId, progress: f64) -> Event {
    Event::JobProgress { job_id, progress }
}

/// The next `n` entries of `sub`, however they are batched.
async fn take(sub: &mut Subscription, n: usize) -> Vec<Arc<Entry>> {
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(PATIENCE, sub.next()).await;
        got.extend(next.expect("events in time").expect("the log is there"));
    }
    assert_eq!(got.len(), n, "more events than expected");
    got
}

fn progress_of(entry: &Entry) -> f64 {
    let data: serde_json::Value = serde_json::from_str(&entry.data).unwrap();
    data["progress"].as_f64().unwrap()
}

async fn published_events_come_in_order_with_increasing_ids(events: &Events) {
    let (tenant, job) = (TenantId::new(), JobId::new());
    let mut sub = events.subscribe(tenant, None).await.unwrap();
    events
        .publish(tenant, &[progress(job, 0.1), progress(job, 0.2)])
        .await;
    events.post(&[(tenant, progress(job, 0.3))]);
    let got = take(&mut sub, 3).await;
    let seen: Vec<f64> = got.iter().map(|e| progress_of(e)).collect();
    assert_eq!(seen, [0.1, 0.2, 0.3]);
    assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    assert!(got.iter().all(|e| e.kind == EntryKind::JobProgress));
    assert_eq!(sub.last_id(), got[2].id);
    let id = got[0].id.to_string();
    assert_eq!(EventId::parse(&id), Some(got[0].id), "{id}");
}

async fn a_subscription_after_an_id_replays_exactly_what_followed(events: &Events) {
    let (tenant, job) = (TenantId::new(), JobId::new());
    let mut first = events.subscribe(tenant, None).await.unwrap();
    for step in 1..=4 {
        events
            .publish(tenant, &[progress(job, f64::from(step) / 10.0)])
            .await;
    }
    let all = take(&mut first, 4).await;
    let mut again = events.subscribe(tenant, Some(all[1].id)).await.unwrap();
    let missed = take(&mut again, 2).await;
    assert_eq!(missed, all[2..].to_vec());
}

async fn tenants_never_hear_each_other(events: &Events) {
    let (mine, theirs, job) = (TenantId::new(), TenantId::new(), JobId::new());
    let mut sub = events.subscribe(mine, Some(EventId::ZERO)).await.unwrap();
    events.publish(theirs, &[progress(job, 0.5)]).await;
    events.publish(mine, &[progress(job, 0.7)]).await;
    let got = take(&mut sub, 1).await;
    assert_eq!(progress_of(&got[0]), 0.7);
}

async fn a_subscriber_far_behind_catches_up_in_pages(events: &Events) {
    let (tenant, job) = (TenantId::new(), JobId::new());
    for chunk in 0..12 {
        let batch: Vec<Event> = (0..100)
            .map(|i| progress(job, f64::from(chunk * 100 + i) / 2000.0))
            .collect();
        events.publish(tenant, &batch).await;
    }
    let mut sub = events.subscribe(tenant, Some(EventId::ZERO)).await.unwrap();
    let got = take(&mut sub, 1200).await;
    assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(progress_of(&got[1199]), 1199.0 / 2000.0);
}

async fn an_id_beyond_the_newest_counts_as_the_newest(events: &Events) {
    let (tenant, job) = (TenantId::new(), JobId::new());
    events.publish(tenant, &[progress(job, 0.1)]).await;
    let future = EventId::parse(&format!("{}-0", u64::MAX / 2)).unwrap();
    let mut sub = events.subscribe(tenant, Some(future)).await.unwrap();
    events.publish(tenant, &[progress(job, 0.2)]).await;
    assert_eq!(progress_of(&take(&mut sub, 1).await[0]), 0.2);
}

/// Redis restarts empty under a subscriber: its reader reconnects and it
/// hears what is published after, instead of going silently deaf.
#[tokio::test]
async fn a_redis_restart_does_not_leave_a_subscriber_deaf() {
    let mut server = mixdown_testkit::RedisServer::start();
    let prefix = format!("mixdown-test-{}", mixdown_testkit::unique());
    let events = mixdown_testkit::redis_events(&server.url(), &prefix).await;
    let (tenant, job) = (TenantId::new(), JobId::new());
    let mut sub = events.subscribe(tenant, None).await.unwrap();
    events.publish(tenant, &[progress(job, 0.1)]).await;
    assert_eq!(progress_of(&take(&mut sub, 1).await[0]), 0.1);
    server.restart_empty();
    // What is published while the writer's connection comes back may be
    // lost (Redis lost its data anyway): publish until it is heard.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        events.publish(tenant, &[progress(job, 0.2)]).await;
        let heard = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        if let Ok(Some(entries)) = heard {
            assert_eq!(progress_of(&entries[0]), 0.2);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deaf after the restart"
        );
    }
}
