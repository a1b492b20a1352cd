//! Schedules as a client uses them, on both stores and a manual clock: the
//! endpoints and their refusals, one job per tick made by the worker's
//! scheduler pass, ticks missed while the fleet was stopped or the schedule
//! paused, and the jobs a schedule made listed by its id.

use std::time::Duration;

use mixdown_jobs::time::Timestamp;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code, read};

both_modes!(
    a_schedule_is_created_read_listed_changed_and_deleted,
    another_tenants_schedule_is_not_found,
    bad_schedules_are_refused_naming_the_field_and_write_nothing,
    a_schedule_makes_one_job_per_tick_and_lists_them,
    ticks_missed_while_the_fleet_was_stopped_are_skipped_or_made_once,
    a_paused_schedule_makes_nothing_and_resumes_as_its_catch_up_says,
);

const TEN_MINUTES: Duration = Duration::from_secs(600);

impl TestApp {
    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = self
            .client
            .patch(path)
            .header("Authorization", self.bearer());
        read(req.body_json(&body).send().await).await
    }

    async fn remove(&self, path: &str) -> (StatusCode, Value) {
        let req = self
            .client
            .delete(path)
            .header("Authorization", self.bearer());
        read(req.send().await).await
    }

    /// Creates a noop schedule of `cron` in UTC; its view.
    async fn schedule(&self, cron: &str, catch_up: &str) -> Value {
        let body = json!({"name": format!("{cron} {catch_up}"), "cron": cron,
                          "job": {"kind": "noop"}, "catch_up": catch_up});
        let (status, schedule) = self.post("/v1/schedules", body).await;
        assert_eq!(status, StatusCode::CREATED, "{schedule}");
        schedule
    }

    /// Moves the clock to `t`.
    fn advance_to(&self, t: Timestamp) {
        self.advance(t.since(self.stores.clock().now()));
    }

    /// The ticks of the jobs schedule `id` made, newest first.
    async fn ticks(&self, id: &Value) -> Vec<Timestamp> {
        let id = id.as_str().unwrap();
        let (status, page) = self.get(&format!("/v1/jobs?schedule_id={id}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let jobs = page["jobs"].as_array().unwrap();
        jobs.iter()
            .inspect(|j| assert_eq!(j["schedule_id"], id))
            .map(|j| instant(&j["schedule_tick"]))
            .collect()
    }
}

fn instant(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().unwrap_or_default()).unwrap_or_else(|| panic!("{v}"))
}

fn plus(t: Timestamp, minutes: u64) -> Timestamp {
    t.plus(Duration::from_secs(minutes * 60))
}

async fn a_schedule_is_created_read_listed_changed_and_deleted(app: &TestApp) {
    let now = app.stores.clock().now();
    let body = json!({"name": "every ten minutes", "cron": "0 */10 * * * *",
                      "timezone": "Europe/Berlin",
                      "job": {"kind": "noop", "payload": {"sleep_ms": 5}, "priority": 3,
                              "max_attempts": 2, "callback_url": "https://example.com/done"}});
    let (status, created) = app.post("/v1/schedules", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["schedule_id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "every ten minutes");
    assert_eq!(
        (&created["cron"], &created["timezone"]),
        (&json!("0 */10 * * * *"), &json!("Europe/Berlin"))
    );
    let job = &created["job"];
    assert_eq!(
        (&job["kind"], &job["payload"]["sleep_ms"], &job["priority"]),
        (&json!("noop"), &json!(5), &json!(3))
    );
    assert_eq!(job["max_attempts"], 2);
    assert_eq!(job["callback_url"], "https://example.com/done");
    assert_eq!(
        (&created["catch_up"], &created["paused"]),
        (&json!("skip"), &json!(false))
    );
    let next = instant(&created["next_run_at"]);
    assert!(next > now && next <= now.plus(TEN_MINUTES), "{created}");
    assert_eq!(next.millis() % 600_000, 0, "on a ten-minute mark");
    assert!(created["last_tick"].is_null());
    let path = format!("/v1/schedules/{id}");
    assert_eq!(app.get(&path).await, (StatusCode::OK, created.clone()));

    let second = app.schedule("0 0 * * *", "once").await;
    let third = app.schedule("@hourly", "skip").await;
    let mut seen = Vec::new();
    let mut page_path = "/v1/schedules?limit=2".to_owned();
    loop {
        let (status, page) = app.get(&page_path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["schedule_id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => page_path = format!("/v1/schedules?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            third["schedule_id"].clone(),
            second["schedule_id"].clone(),
            json!(id)
        ]
    );

    let (status, renamed) = app
        .patch(&path, json!({"name": "ten", "catch_up": "once"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (&renamed["name"], &renamed["catch_up"]),
        (&json!("ten"), &json!("once"))
    );
    assert_eq!(renamed["next_run_at"], created["next_run_at"]);
    assert_eq!(renamed["job"], created["job"]);
    let (_, paused) = app.patch(&path, json!({"paused": true})).await;
    assert_eq!(
        (&paused["paused"], &paused["next_run_at"]),
        (&json!(true), &Value::Null)
    );
    let (_, resumed) = app.patch(&path, json!({"paused": false})).await;
    assert_eq!(
        (&resumed["paused"], &resumed["next_run_at"]),
        (&json!(false), &created["next_run_at"])
    );
    let change = json!({"cron": "0 0 * * * *", "timezone": "UTC",
                        "job": {"kind": "noop", "payload": {"fail_attempts": 1}}});
    let (status, changed) = app.patch(&path, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        instant(&changed["next_run_at"]).millis() % 3_600_000,
        0,
        "{changed}"
    );
    assert_eq!(changed["job"]["payload"]["fail_attempts"], 1);
    assert_eq!(
        (&changed["job"]["priority"], &changed["job"]["max_attempts"]),
        (&json!(0), &json!(3))
    );
    assert_eq!(app.get(&path).await.1, changed);

    assert_eq!(app.remove(&path).await.0, StatusCode::NO_CONTENT);
    for (status, body) in [app.get(&path).await, app.remove(&path).await] {
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
    let (status, _) = app.patch(&path, json!({"name": "gone"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, spec) = read(app.client.get("/openapi.json").send().await).await;
    let one = &spec["paths"]["/v1/schedules/{schedule_id}"];
    for method in ["get", "patch", "delete"] {
        assert!(
            one.get(method).is_some(),
            "{method} missing from the OpenAPI document"
        );
    }
    assert!(spec["paths"]["/v1/schedules"].get("post").is_some());
}

async fn another_tenants_schedule_is_not_found(app: &TestApp) {
    let mine = app.schedule("*/30 * * * * *", "skip").await;
    let id = mine["schedule_id"].as_str().unwrap();
    let path = format!("/v1/schedules/{id}");
    let other = app.again().await;
    assert_eq!(other.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        other.patch(&path, json!({"paused": true})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(other.remove(&path).await.0, StatusCode::NOT_FOUND);
    let (_, theirs) = other.get("/v1/schedules").await;
    assert_eq!(theirs["schedules"], json!([]));
    for probe in [
        "/v1/schedules/not-an-id",
        "/v1/schedules/01970000-0000-7000-8000-000000000000",
    ] {
        assert_eq!(app.get(probe).await.0, StatusCode::NOT_FOUND);
    }
    app.advance_to(instant(&mine["next_run_at"]));
    app.run_due().await;
    assert_eq!(app.ticks(&mine["schedule_id"]).await.len(), 1);
    let (_, listed) = other.get(&format!("/v1/jobs?schedule_id={id}")).await;
    assert_eq!(
        listed["jobs"],
        json!([]),
        "another tenant sees none of its jobs"
    );
    let (status, still) = app.get(&path).await;
    assert_eq!((status, &still["paused"]), (StatusCode::OK, &json!(false)));
}

async fn bad_schedules_are_refused_naming_the_field_and_write_nothing(app: &TestApp) {
    let noop = json!({"kind": "noop"});
    let with = |field: &str, value: Value| {
        let mut body = json!({"name": "n", "cron": "* * * * *", "job": noop});
        body[field] = value;
        body
    };
    let activity =
        json!({"actor_id": "a", "verb": "publish", "object_type": "track", "object_id": "t"});
    let cases = [
        (with("cron", json!("61 * * * *")), "invalid_cron", "cron"),
        (with("cron", json!("* * *")), "invalid_cron", "cron"),
        (
            with("cron", json!("0 0 0 1 1 * 2030")),
            "invalid_cron",
            "cron",
        ),
        (with("cron", json!("0 0 31 2 *")), "invalid_cron", "cron"),
        (
            with("timezone", json!("Mars/Olympus")),
            "unknown_timezone",
            "timezone",
        ),
        (with("name", json!("")), "invalid_field", "name"),
        (
            with("catch_up", json!("always")),
            "invalid_field",
            "catch_up",
        ),
        (
            with(
                "job",
                json!({"kind": "noop", "payload": {"sleep_ms": "long"}}),
            ),
            "invalid_payload",
            "job.payload.sleep_ms",
        ),
        (
            with("job", json!({"kind": "noop", "payload": {"sleep_ms": -5}})),
            "invalid_payload",
            "job.payload.sleep_ms",
        ),
        (
            with("job", json!({"kind": "transmogrify"})),
            "unknown_kind",
            "job.kind",
        ),
        (
            with("job", json!({"kind": "track"})),
            "kind_not_submittable",
            "job.kind",
        ),
        (
            with("job", json!({"kind": "fanout", "payload": activity})),
            "kind_not_schedulable",
            "job.kind",
        ),
        (
            with("job", json!({"kind": "fanout", "payload": {}})),
            "kind_not_schedulable",
            "job.kind",
        ),
        (
            with("job", json!({"kind": "noop", "priority": 1000})),
            "invalid_field",
            "job.priority",
        ),
        (
            with("job", json!({"kind": "noop", "max_attempts": 0})),
            "invalid_field",
            "job.max_attempts",
        ),
        (
            with("job", json!({"kind": "noop", "callback_url": "ftp://x"})),
            "invalid_field",
            "job.callback_url",
        ),
        (
            with(
                "job",
                json!({"kind": "noop", "run_at": "2030-01-01T00:00:00Z"}),
            ),
            "invalid_field",
            "job.run_at",
        ),
        (with("every", json!("day")), "invalid_field", "every"),
        (json!({"name": "n", "job": noop}), "invalid_field", "body"),
    ];
    for (body, code, field) in cases {
        let (status, v) = app.post("/v1/schedules", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(
            (error_code(&v), v["error"]["field"].as_str()),
            (code, Some(field)),
            "{body} → {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (_, page) = app.get("/v1/schedules").await;
    assert_eq!(
        page["schedules"],
        json!([]),
        "no bad request may leave a row"
    );

    let schedule = app.schedule("0 */5 * * * *", "skip").await;
    let path = format!(
        "/v1/schedules/{}",
        schedule["schedule_id"].as_str().unwrap()
    );
    for (body, code, field) in [
        (json!({"cron": "every day"}), "invalid_cron", "cron"),
        (
            json!({"timezone": "Nowhere/Else"}),
            "unknown_timezone",
            "timezone",
        ),
        (
            json!({"job": {"kind": "noop", "payload": {"sleep_ms": -1}}}),
            "invalid_payload",
            "job.payload.sleep_ms",
        ),
        (
            json!({"job": {"kind": "fanout", "payload": activity}}),
            "kind_not_schedulable",
            "job.kind",
        ),
        (json!({"paused": "yes"}), "invalid_field", "paused"),
    ] {
        let (status, v) = app.patch(&path, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(
            (error_code(&v), v["error"]["field"].as_str()),
            (code, Some(field)),
            "{body} → {v}"
        );
    }
    assert_eq!(
        app.get(&path).await.1,
        schedule,
        "a refused change changes nothing"
    );
    let (status, v) = app.get("/v1/jobs?schedule_id=not-an-id").await;
    assert_eq!(
        (status, &v["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("schedule_id"))
    );
    for (query, field) in [("limit=0", "limit"), ("cursor=zzz", "cursor")] {
        let (status, v) = app.get(&format!("/v1/schedules?{query}")).await;
        assert_eq!(
            (status, &v["error"]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!(field))
        );
    }
}

async fn a_schedule_makes_one_job_per_tick_and_lists_them(app: &TestApp) {
    let body = json!({"name": "half-minutely", "cron": "*/30 * * * * *",
                      "job": {"kind": "noop", "payload": {"sleep_ms": 1}, "priority": 7, "max_attempts": 4}});
    let (_, schedule) = app.post("/v1/schedules", body).await;
    let id = &schedule["schedule_id"];
    let first = instant(&schedule["next_run_at"]);
    let other = app.submit(json!({"kind": "noop"})).await;
    assert_eq!(
        app.run_due().await,
        1,
        "only the submitted job: no tick is due"
    );
    let half_minute = Duration::from_secs(30);
    for n in 0..3 {
        app.advance_to(first.plus(half_minute * n));
        assert_eq!(app.run_due().await, 1, "one job at tick {n}");
        assert_eq!(app.run_due().await, 0, "and no second");
    }
    let ticks = app.ticks(id).await;
    let expected: Vec<Timestamp> = (0..3).rev().map(|n| first.plus(half_minute * n)).collect();
    assert_eq!(ticks, expected);
    let (_, page) = app
        .get(&format!(
            "/v1/jobs?schedule_id={}&limit=2",
            id.as_str().unwrap()
        ))
        .await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
    let job = &page["jobs"][0];
    assert_eq!(
        (&job["kind"], &job["state"]),
        (&json!("noop"), &json!("succeeded")),
        "{job}"
    );
    assert_eq!(
        (&job["priority"], &job["max_attempts"]),
        (&json!(7), &json!(4))
    );
    assert_eq!(job["payload"]["sleep_ms"], 1);
    let read = app.job(job["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (&read["schedule_id"], &read["schedule_tick"]),
        (id, &job["schedule_tick"])
    );
    let unscheduled = app.job(&other).await;
    assert!(unscheduled["schedule_id"].is_null() && unscheduled["schedule_tick"].is_null());
    let (_, schedule) = app
        .get(&format!("/v1/schedules/{}", id.as_str().unwrap()))
        .await;
    assert_eq!(instant(&schedule["last_tick"]), expected[0]);
    assert_eq!(
        instant(&schedule["next_run_at"]),
        expected[0].plus(half_minute)
    );
}

async fn ticks_missed_while_the_fleet_was_stopped_are_skipped_or_made_once(app: &TestApp) {
    let skip = app.schedule("0 */10 * * * *", "skip").await;
    let once = app.schedule("0 */10 * * * *", "once").await;
    let first = instant(&skip["next_run_at"]);
    assert_eq!(instant(&once["next_run_at"]), first);
    // Nothing runs over two ticks; then the fleet is back, five minutes
    // after the second: both were missed (the grace is a minute).
    app.advance_to(plus(first, 15));
    assert_eq!(
        app.run_due().await,
        1,
        "one job, for the schedule that catches up"
    );
    assert_eq!(app.ticks(&skip["schedule_id"]).await, []);
    assert_eq!(
        app.ticks(&once["schedule_id"]).await,
        [plus(first, 10)],
        "the latest missed tick"
    );
    for s in [&skip, &once] {
        let (_, now) = app
            .get(&format!(
                "/v1/schedules/{}",
                s["schedule_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(instant(&now["next_run_at"]), plus(first, 20), "{now}");
    }
    // On schedule again.
    app.advance_to(plus(first, 20));
    assert_eq!(app.run_due().await, 2);
    assert_eq!(app.ticks(&skip["schedule_id"]).await, [plus(first, 20)]);
    assert_eq!(
        app.ticks(&once["schedule_id"]).await,
        [plus(first, 20), plus(first, 10)]
    );
}

async fn a_paused_schedule_makes_nothing_and_resumes_as_its_catch_up_says(app: &TestApp) {
    let skip = app.schedule("0 */10 * * * *", "skip").await;
    let once = app.schedule("0 */10 * * * *", "once").await;
    let first = instant(&skip["next_run_at"]);
    let path = |s: &Value| format!("/v1/schedules/{}", s["schedule_id"].as_str().unwrap());
    for s in [&skip, &once] {
        let (status, paused) = app.patch(&path(s), json!({"paused": true})).await;
        assert_eq!((status, &paused["paused"]), (StatusCode::OK, &json!(true)));
    }
    app.advance_to(plus(first, 25));
    assert_eq!(app.run_due().await, 0, "paused schedules make nothing");
    let mut resumed = Vec::new();
    for s in [&skip, &once] {
        let (_, s) = app.patch(&path(s), json!({"paused": false})).await;
        resumed.push(instant(&s["next_run_at"]));
    }
    assert_eq!(resumed, [plus(first, 30), plus(first, 20)]);
    assert_eq!(
        app.run_due().await,
        1,
        "one job for the ticks missed while paused"
    );
    assert_eq!(app.ticks(&skip["schedule_id"]).await, []);
    assert_eq!(app.ticks(&once["schedule_id"]).await, [plus(first, 20)]);
    app.advance_to(plus(first, 30));
    assert_eq!(app.run_due().await, 2);
    assert_eq!(app.ticks(&skip["schedule_id"]).await, [plus(first, 30)]);
    assert_eq!(
        app.ticks(&once["schedule_id"]).await,
        [plus(first, 30), plus(first, 20)]
    );
}
