//! The social API as a client uses it, on both stores: graph changes over
//! NDJSON (all or nothing), follower lists, activities fanned out to feeds
//! by the workers, blocks and mutes, deletion, and feed paging.

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code, read};

both_modes!(
    an_activity_reaches_every_follower_but_the_blocked_and_muted,
    a_graph_change_with_a_bad_line_applies_nothing,
    followers_and_following_page_with_a_cursor,
    a_deleted_activity_leaves_every_feed,
    a_fanout_submitted_as_a_job_records_its_activity,
);

impl TestApp {
    async fn graph(&self, lines: &str) -> (StatusCode, Value) {
        let req = self
            .client
            .post("/v1/graph")
            .header("Authorization", self.bearer())
            .content_type("application/x-ndjson")
            .body(lines.to_owned());
        read(req.send().await).await
    }

    async fn feed(&self, user: &str) -> Vec<String> {
        let (status, feed) = self.get(&format!("/v1/feeds/{user}?limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{feed}");
        let items = feed["items"].as_array().unwrap();
        items
            .iter()
            .map(|i| i["object_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn edges(pairs: &[(&str, &str, &str)]) -> String {
    pairs
        .iter()
        .map(|(op, from, to)| format!("{}\n", json!({"op": op, "from": from, "to": to})))
        .collect()
}

fn activity(actor: &str, object: &str) -> Value {
    json!({"actor_id": actor, "verb": "publish", "object_type": "track", "object_id": object,
           "occurred_at": "2026-01-02T03:04:05Z", "data": {"title": "Night Drive"}})
}

async fn an_activity_reaches_every_follower_but_the_blocked_and_muted(app: &TestApp) {
    let mut lines: Vec<(&str, &str, &str)> = Vec::new();
    let fans: Vec<String> = (0..30).map(|i| format!("fan{i:02}")).collect();
    for fan in &fans {
        lines.push(("follow", fan, "artist"));
    }
    lines.extend([
        ("block", "fan00", "artist"),
        ("block", "artist", "fan01"),
        ("mute", "fan02", "artist"),
    ]);
    let (status, applied) = app.graph(&edges(&lines)).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["applied"], 33);

    let (status, accepted) = app.post("/v1/activities", activity("artist", "t1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job_id = accepted["job_id"].as_str().unwrap();
    assert_eq!(accepted["status_url"], format!("/v1/jobs/{job_id}"));
    // The same actor, verb and object again: the first activity.
    let (status, again) = app.post("/v1/activities", activity("artist", "t1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["activity_id"], accepted["activity_id"]);

    app.run_due().await;
    let job = app.job(job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "fanout");
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["result"]["recipients"], 30);
    assert_eq!(job["result"]["written"], 27);
    assert_eq!(job["result"]["skipped"], 3);
    for fan in &fans[3..] {
        assert_eq!(app.feed(fan).await, ["t1"], "{fan}");
    }
    for fan in &fans[..3] {
        assert!(app.feed(fan).await.is_empty(), "{fan}");
    }
    let (_, feed) = app.get("/v1/feeds/fan10").await;
    let item = &feed["items"][0];
    assert_eq!(item["activity_id"], accepted["activity_id"]);
    assert_eq!(
        (&item["actor_id"], &item["verb"], &item["object_type"]),
        (&json!("artist"), &json!("publish"), &json!("track"))
    );
    assert_eq!(item["occurred_at"], "2026-01-02T03:04:05Z");
    assert_eq!(item["data"]["title"], "Night Drive");
    // Another tenant sees neither the activity nor the feed.
    let other = app.again().await;
    assert!(other.feed("fan10").await.is_empty());
    let path = format!(
        "/v1/activities/{}",
        accepted["activity_id"].as_str().unwrap()
    );
    assert_eq!(other.get(&path).await.0, StatusCode::NOT_FOUND);
    other.stop().await;
}

async fn a_graph_change_with_a_bad_line_applies_nothing(app: &TestApp) {
    let mut body = edges(&[("follow", "a", "artist"), ("follow", "b", "artist")]);
    body.push_str("{\"op\":\"befriend\",\"from\":\"c\",\"to\":\"artist\"}\n");
    let (status, err) = app.graph(&body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(error_code(&err), "invalid_graph_line");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3:"),
        "{err}"
    );
    let (_, followers) = app.get("/v1/graph/artist/followers").await;
    assert_eq!(
        followers["user_ids"],
        json!([]),
        "nothing of the request was applied"
    );
    for (bad, line) in [
        ("not json\n", 1),
        ("{\"op\":\"follow\",\"from\":\"a\",\"to\":\"a\"}\n", 1),
        ("\n{\"op\":\"follow\",\"from\":\"a b\",\"to\":\"c\"}\n", 2),
    ] {
        let (status, err) = app.graph(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("line {line}:")),
            "{bad}: {message}"
        );
    }
    // Not NDJSON at all, and no key.
    let req = app
        .client
        .post("/v1/graph")
        .header("Authorization", app.bearer());
    let (status, _) = read(req.content_type("application/json").body("{}").send().await).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let req = app
        .client
        .post("/v1/graph")
        .content_type("application/x-ndjson");
    assert_eq!(
        read(req.body("").send().await).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Bad activities name their field.
    for (body, field) in [
        (
            json!({"actor_id": "a b", "verb": "v", "object_type": "t", "object_id": "o"}),
            "actor_id",
        ),
        (
            json!({"actor_id": "a", "verb": "V", "object_type": "t", "object_id": "o"}),
            "verb",
        ),
        (
            json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": "o", "occurred_at": "x"}),
            "occurred_at",
        ),
    ] {
        let (status, err) = app.post("/v1/activities", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
}

async fn followers_and_following_page_with_a_cursor(app: &TestApp) {
    let mut lines = Vec::new();
    let names: Vec<String> = (0..7).map(|i| format!("u{i}")).collect();
    for n in &names {
        lines.push(("follow", n.as_str(), "artist"));
    }
    lines.push(("follow", "u0", "other"));
    app.graph(&edges(&lines)).await;
    let mut seen = Vec::new();
    let mut path = "/v1/graph/artist/followers?limit=3".to_owned();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for u in page["user_ids"].as_array().unwrap() {
            seen.push(u.as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/graph/artist/followers?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, names);
    let (_, following) = app.get("/v1/graph/u0/following").await;
    assert_eq!(following["user_ids"], json!(["artist", "other"]));
    // Any user id is a place to go on from; a space is in none.
    let (status, err) = app.get("/v1/graph/artist/followers?cursor=a%20b").await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
}

async fn a_deleted_activity_leaves_every_feed(app: &TestApp) {
    app.graph(&edges(&[
        ("follow", "fan1", "artist"),
        ("follow", "fan2", "artist"),
    ]))
    .await;
    let (_, kept) = app.post("/v1/activities", activity("artist", "kept")).await;
    let (_, gone) = app.post("/v1/activities", activity("artist", "gone")).await;
    app.run_due().await;
    assert_eq!(app.feed("fan1").await.len(), 2);
    let path = format!("/v1/activities/{}", gone["activity_id"].as_str().unwrap());
    let req = app
        .client
        .delete(&path)
        .header("Authorization", app.bearer());
    let (status, deleted) = read(req.send().await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{deleted}");
    assert_ne!(deleted["job_id"], gone["job_id"]);
    // Gone from feeds before its rows are.
    assert_eq!(app.feed("fan1").await, ["kept"]);
    app.run_due().await;
    let job = app.job(deleted["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["removed"], 2);
    let (status, shown) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown["deleted_at"].is_string());
    assert_eq!(shown["retract_job_id"], deleted["job_id"]);
    let req = app
        .client
        .delete(&path)
        .header("Authorization", app.bearer());
    let (status, again) = read(req.send().await).await;
    assert_eq!(
        (status, &again["job_id"]),
        (StatusCode::OK, &deleted["job_id"])
    );
    let unknown = "/v1/activities/0190e4a2-7c1b-7cc4-9a3e-5d2f00000001";
    let req = app
        .client
        .delete(unknown)
        .header("Authorization", app.bearer());
    assert_eq!(read(req.send().await).await.0, StatusCode::NOT_FOUND);
    assert_eq!(kept["state"], Value::Null);
}

async fn a_fanout_submitted_as_a_job_records_its_activity(app: &TestApp) {
    app.graph(&edges(&[("follow", "fan", "artist")])).await;
    let body = json!({"kind": "fanout", "payload": activity("artist", "t9")});
    let (status, accepted) = app.post("/v1/jobs", body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let (status, again) = app.post("/v1/jobs", body).await;
    assert_eq!(
        (status, &again["job_id"]),
        (StatusCode::OK, &accepted["job_id"])
    );
    app.run_due().await;
    assert_eq!(app.feed("fan").await, ["t9"]);
    let bad = json!({"kind": "fanout", "payload": {"actor_id": "artist"}});
    let (status, err) = app.post("/v1/jobs", bad).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload")
    );
    let chunk = json!({"kind": "fanout_chunk", "payload": {}});
    let (status, err) = app.post("/v1/jobs", chunk).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "kind_not_submittable")
    );
}
