//! Keys revoked with the real CLI while two API replicas serve them: each
//! replica refuses a revoked key within seconds, a live-events stream opened
//! with it ends, and an operator's revoked key no longer opens the dashboard.

use std::time::{Duration, Instant};

use crate::harness::{Client, Fleet, FleetOptions, keys, keys_create};

/// The status of `GET path` with `key`.
async fn status(base: &str, key: &str, path: &str) -> u16 {
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// Waits, at most 10 s, until `GET path` with `key` answers `expected`;
/// how long it took.
async fn until_status(base: &str, key: &str, path: &str, expected: u16) -> Duration {
    let started = Instant::now();
    loop {
        if status(base, key, path).await == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{base}{path} did not answer {expected} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The line of `keys list` output naming key `id`, split into columns.
fn listed(text: &str, id: &str) -> Vec<String> {
    let line = text.lines().find(|l| l.starts_with(id));
    let line = line.unwrap_or_else(|| panic!("{id} is not listed:\n{text}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_every_replica_within_seconds() {
    let fleet = Fleet::start(FleetOptions {
        apis: 2,
        workers: 0,
        ..FleetOptions::default()
    })
    .await;
    let tenant = format!("leaky-{}", mixdown_testkit::unique());
    let created = keys(&fleet.env, &["create", "--tenant", &tenant]);
    let key = created.split_whitespace().last().unwrap().to_owned();
    let bases: Vec<String> = fleet.apis.iter().map(|(_, c)| c.base.clone()).collect();
    for base in &bases {
        assert_eq!(status(base, &key, "/v1/jobs").await, 200);
    }
    let list = keys(&fleet.env, &["list", "--tenant", &tenant]);
    assert!(!list.contains(&key), "a listing never shows a key:\n{list}");
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        created.contains(id),
        "the id is printed at creation: {created}"
    );
    let columns = listed(&list, id);
    assert_eq!(columns[1], format!("tenant {tenant:?}"));
    assert_ne!(columns[3], "-", "the key was used: {columns:?}");
    assert_eq!(columns[4], "-", "not revoked: {columns:?}");

    let mut stream = reqwest::Client::new()
        .get(format!("{}/v1/events?topics=feed:fan", bases[0]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let revoked = keys(&fleet.env, &["revoke", id]);
    assert!(revoked.contains("Revoked"), "{revoked}");
    for base in &bases {
        let took = until_status(base, &key, "/v1/jobs", 401).await;
        println!("{base} refused the revoked key after {took:?}");
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while stream.chunk().await.unwrap().is_some() {}
    });
    ended.await.expect("the event stream of a revoked key ends");
    let columns = listed(&keys(&fleet.env, &["list", "--tenant", &tenant]), id);
    assert_ne!(columns[4], "-", "listed as revoked: {columns:?}");
    let again = keys(&fleet.env, &["revoke", &key]);
    assert!(
        again.contains("revoked before"),
        "by the key itself: {again}"
    );

    // The fleet's other tenant keeps its key.
    assert_eq!(
        status(&bases[1], &fleet.key, "/v1/jobs").await,
        200,
        "other keys still open"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_operator_key_no_longer_opens_the_dashboard() {
    let fleet = Fleet::start(FleetOptions {
        apis: 2,
        workers: 0,
        ..FleetOptions::default()
    })
    .await;
    let name = format!("ops-{}", mixdown_testkit::unique());
    let key = keys_create(&fleet.env, &["--operator", &name]);
    let bases: Vec<String> = fleet.apis.iter().map(|(_, c)| c.base.clone()).collect();
    for base in &bases {
        assert_eq!(status(base, &key, "/dashboard").await, 200);
    }
    let list = keys(&fleet.env, &["list", "--operators"]);
    let id = list
        .lines()
        .find(|l| l.contains(&name))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{name} is not listed:\n{list}"));
    keys(&fleet.env, &["revoke", id]);
    for base in &bases {
        until_status(base, &key, "/dashboard", 401).await;
    }
    let client = Client::new(bases[0].clone(), fleet.key.clone());
    assert!(
        client.workers().await.is_empty(),
        "tenants' keys still open /v1"
    );
    fleet.stop().await;
}
