//! Fan-out in a real fleet: a graph imported by `mixdown graph import`
//! (a bad file refused whole), and a fan-out whose worker is SIGKILLed
//! half-way: another worker finishes it, and every follower holds the item
//! exactly once.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use serde_json::json;
use sqlx::{AnyPool, Row};

use crate::harness::{BIN, Fleet, FleetOptions};

const FOLLOWERS: usize = 60_000;

fn import(fleet: &Fleet, file: &std::path::Path) -> std::process::Output {
    let file = file.to_str().unwrap();
    Command::new(BIN)
        .args(["graph", "import", file, "--tenant", "fleet"])
        .env_clear()
        .envs(&fleet.env)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanout_whose_worker_is_killed_half_way_reaches_every_follower_once() {
    let options = FleetOptions {
        workers: 2,
        concurrency: 2,
        env: vec![("MIXDOWN_FANOUT_CHUNK_SIZE", "500".into())],
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let dir = tempfile::tempdir().unwrap();

    // A file with a bad line is refused whole.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "op,from,to\nfollow,a,artist\nfollow,b\n").unwrap();
    let out = import(&fleet, &bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");

    let mut csv = String::from("op,from,to\n");
    for i in 0..FOLLOWERS {
        csv.push_str(&format!("follow,fan{i:06},artist\n"));
    }
    csv.push_str("block,fan000007,artist\nmute,fan000008,artist\nblock,artist,fan000009\n");
    let file = dir.path().join("graph.csv");
    std::fs::write(&file, csv).unwrap();
    let out = import(&fleet, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pool = AnyPool::connect(&fleet.stores.database.url).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM follows").await,
        FOLLOWERS as i64
    );
    assert_eq!(count("SELECT COUNT(*) FROM blocks").await, 2);

    let client = fleet.client().clone();
    let body =
        json!({"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"});
    let (status, accepted) = client.post("/v1/activities", Some(body)).await;
    assert_eq!(status, 202, "{accepted}");
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();

    // Kill a worker once the fan-out is under way, while chunks still run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let progress = loop {
        let job = client.job(&job_id).await;
        let progress = job["progress"].as_f64().unwrap_or(0.0);
        if progress > 0.1 {
            break progress;
        }
        assert!(
            Instant::now() < deadline,
            "the fan-out never got going: {job}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let victim = fleet.workers.remove(0);
    victim.proc.kill();
    eprintln!("killed a worker at fan-out progress {progress:.2}");
    fleet.start_worker();

    let job = client
        .wait_state(&job_id, "succeeded", Duration::from_secs(120))
        .await;
    let expected = (FOLLOWERS - 3) as i64;
    assert_eq!(job["result"]["recipients"], FOLLOWERS, "{job}");
    assert_eq!(job["result"]["written"], expected);
    assert_eq!(job["result"]["skipped"], 3);
    assert_eq!(count("SELECT COUNT(*) FROM feed_items").await, expected);
    assert_eq!(
        count("SELECT COUNT(DISTINCT user_id) FROM feed_items").await,
        expected
    );
    let feed = client.get("/v1/feeds/fan000010").await;
    assert_eq!(feed["items"][0]["object_id"], "t1");
    let blocked = client.get("/v1/feeds/fan000007").await;
    assert_eq!(blocked["items"], json!([]));
    pool.close().await;
    fleet.stop().await;
}
