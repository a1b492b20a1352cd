//! Live events end to end over a real socket: the API served on a loopback
//! port and read as a browser's `EventSource` would, on both store trios,
//! and across two API replicas of one fleet. The keep-alive comes every
//! 50 ms here, so a quiet stream is seen to be quiet without a long wait.

use std::time::Duration;

use mixdown_api::{ApiSettings, AppState, app};
use mixdown_jobs::{Stores, clock::ManualClock, events::Event, settings::JobsSettings};
use poem::{
    Server,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{TestApp, error_code};

both_modes!(
    a_subscriber_sees_a_job_run_and_resumes_after_the_last_id,
    another_tenant_hears_nothing_of_a_job,
    a_feed_entry_reaches_each_subscribed_feed_once,
    a_fan_out_tells_each_follower_it_reached_once,
    bad_topics_and_ids_are_refused,
    a_quiet_stream_is_kept_alive,
    the_openapi_document_describes_the_stream,
);

/// How long a read waits for what a test expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// The API of `stores` on a loopback port, until dropped.
pub(crate) struct Served {
    pub(crate) url: String,
    stop: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub(crate) async fn serve(stores: Stores) -> Served {
    serve_with(stores, super::fleet_settings()).await
}

/// The API of `stores` under the fleet's settings `fleet`, on a loopback
/// port, until dropped.
pub(crate) async fn serve_with(stores: Stores, fleet: JobsSettings) -> Served {
    let api = ApiSettings {
        events_keepalive_ms: Duration::from_millis(50).into(),
        ..super::api_settings()
    };
    let stop = CancellationToken::new();
    let state = AppState::new(stores, api, fleet).draining_on(stop.clone());
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let server = Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
        app(state),
        stop.clone().cancelled_owned(),
        Some(Duration::from_secs(1)),
    );
    tokio::spawn(server);
    Served {
        url: format!("http://{addr}"),
        stop,
    }
}

/// What an event stream sends.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    Event {
        id: String,
        event: String,
        data: Value,
    },
    /// A comment line: the keep-alive.
    Comment,
}

/// An open event stream.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    /// Subscribes to `topics` as `key`, after `last` when given.
    async fn open(served: &Served, key: &str, topics: &str, last: Option<&str>) -> Self {
        let url = format!("{}/v1/events?topics={topics}", served.url);
        let mut request = reqwest::Client::new().get(url).bearer_auth(key);
        if let Some(id) = last {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let header = |name| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "text/event-stream");
        assert_eq!(header("x-accel-buffering"), "no");
        Self {
            response,
            buffer: String::new(),
        }
    }

    async fn frame(&mut self) -> Frame {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                return parse_frame(&frame);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk()).await;
            let chunk = chunk.expect("the stream speaks in time").unwrap();
            let chunk = chunk.expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `n` events, keep-alives skipped.
    async fn events(&mut self, n: usize) -> Vec<Frame> {
        let mut events = Vec::new();
        while events.len() < n {
            match self.frame().await {
                Frame::Comment => {}
                event => events.push(event),
            }
        }
        events
    }

    /// Asserts that nothing is left to send: the next frame is a keep-alive.
    async fn is_quiet(&mut self) {
        assert_eq!(self.frame().await, Frame::Comment);
    }
}

fn parse_frame(frame: &str) -> Frame {
    if frame.starts_with(':') {
        return Frame::Comment;
    }
    let field = |name: &str| {
        frame
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    Frame::Event {
        id: field("id: "),
        event: field("event: "),
        data: serde_json::from_str(&field("data: ")).unwrap(),
    }
}

fn id_of(frame: &Frame) -> &str {
    match frame {
        Frame::Event { id, .. } => id,
        Frame::Comment => panic!("not an event"),
    }
}

fn data_of(frame: &Frame) -> &Value {
    match frame {
        Frame::Event { data, .. } => data,
        Frame::Comment => panic!("not an event"),
    }
}

/// The states `job.state` frames tell.
fn states(frames: &[Frame]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Event { event, data, .. } if event == "job.state" => {
                data["state"].as_str().unwrap()
            }
            other => panic!("not a job.state: {other:?}"),
        })
        .collect()
}

/// Ids of the stream's form, increasing.
fn assert_increasing(frames: &[Frame]) {
    let ids: Vec<(u64, u64)> = frames
        .iter()
        .map(|f| {
            let (ms, seq) = id_of(f).split_once('-').expect("millis-seq");
            (ms.parse().unwrap(), seq.parse().unwrap())
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

async fn a_subscriber_sees_a_job_run_and_resumes_after_the_last_id(app: &TestApp) {
    let served = serve(app.stores.clone()).await;
    let id = app.submit(json!({"kind": "noop"})).await;
    let topic = format!("job:{id}");
    let mut stream = Stream::open(&served, &app.key, &topic, Some("0-0")).await;
    assert_eq!(app.run_due().await, 1);
    let seen = stream.events(3).await;
    assert_eq!(states(&seen), ["queued", "running", "succeeded"]);
    assert_increasing(&seen);
    for frame in &seen {
        assert_eq!(data_of(frame)["job_id"], id.as_str());
        assert_eq!(data_of(frame)["kind"], "noop");
    }
    stream.is_quiet().await;
    let mut resumed = Stream::open(&served, &app.key, &topic, Some(id_of(&seen[0]))).await;
    assert_eq!(resumed.events(2).await, seen[1..]);
    resumed.is_quiet().await;
}

async fn another_tenant_hears_nothing_of_a_job(app: &TestApp) {
    let served = serve(app.stores.clone()).await;
    let mine = app.submit(json!({"kind": "noop"})).await;
    app.run_due().await;
    let other = app.again().await;
    let theirs = other.submit(json!({"kind": "noop"})).await;
    let topics = format!("job:{mine},job:{theirs}");
    let mut stream = Stream::open(&served, &other.key, &topics, Some("0-0")).await;
    other.run_due().await;
    let seen = stream.events(3).await;
    assert_eq!(states(&seen), ["queued", "running", "succeeded"]);
    assert!(seen.iter().all(|f| data_of(f)["job_id"] == theirs.as_str()));
    stream.is_quiet().await;
}

async fn a_feed_entry_reaches_each_subscribed_feed_once(app: &TestApp) {
    let served = serve(app.stores.clone()).await;
    let topics = "feed:alice,feed:carol,feed:zed";
    let mut stream = Stream::open(&served, &app.key, topics, None).await;
    let item = json!({"activity_id": "a-1", "actor_id": "bob", "verb": "post",
        "object_type": "track", "object_id": "t-1", "occurred_at": "2026-01-01T00:00:00Z",
        "data": {}});
    let users = ["alice", "bob", "carol"].map(String::from).to_vec();
    let event = Event::FeedItems {
        item: item.clone(),
        user_ids: users,
    };
    app.stores.events.publish(app.tenant, &[event]).await;
    let seen = stream.events(2).await;
    let reached: Vec<&Value> = seen.iter().map(|f| &data_of(f)["user_id"]).collect();
    assert_eq!(reached, [&json!("alice"), &json!("carol")]);
    assert!(seen.iter().all(|f| data_of(f)["item"] == item));
    assert!(matches!(&seen[0], Frame::Event { event, .. } if event == "feed.item"));
    assert_eq!(id_of(&seen[0]), id_of(&seen[1]));
    stream.is_quiet().await;
}

async fn a_fan_out_tells_each_follower_it_reached_once(app: &TestApp) {
    let served = serve(app.stores.clone()).await;
    let topics = "feed:fan1,feed:fan2,feed:blocker";
    let mut stream = Stream::open(&served, &app.key, topics, None).await;
    let edges = [
        "follow fan1",
        "follow fan2",
        "follow blocker",
        "block blocker",
    ]
    .map(|e| {
        let (op, from) = e.split_once(' ').unwrap();
        format!("{}\n", json!({"op": op, "from": from, "to": "artist"}))
    })
    .concat();
    let req = app
        .client
        .post("/v1/graph")
        .header("Authorization", app.bearer());
    let resp = req
        .content_type("application/x-ndjson")
        .body(edges)
        .send()
        .await;
    assert_eq!(resp.0.status(), StatusCode::OK);
    let body =
        json!({"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"});
    let (status, accepted) = app.post("/v1/activities", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    app.run_due().await;
    let seen = stream.events(2).await;
    let mut reached: Vec<&str> = seen
        .iter()
        .map(|f| data_of(f)["user_id"].as_str().unwrap())
        .collect();
    reached.sort();
    assert_eq!(reached, ["fan1", "fan2"]);
    for frame in &seen {
        assert!(matches!(frame, Frame::Event { event, .. } if event == "feed.item"));
        assert_eq!(
            data_of(frame)["item"]["activity_id"],
            accepted["activity_id"]
        );
        assert_eq!(data_of(frame)["item"]["object_id"], "t1");
    }
    // Publishing the same activity again writes nothing and says nothing.
    let body =
        json!({"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"});
    assert_eq!(app.post("/v1/activities", body).await.0, StatusCode::OK);
    app.run_due().await;
    stream.is_quiet().await;
}

async fn bad_topics_and_ids_are_refused(app: &TestApp) {
    let too_many = vec!["feed:u"; 101].join(",");
    let cases = [
        ("/v1/events", "missing_field"),
        ("/v1/events?topics=", "invalid_topic"),
        ("/v1/events?topics=user:1", "invalid_topic"),
        ("/v1/events?topics=job:not-an-id", "invalid_topic"),
        ("/v1/events?topics=feed:a,,feed:b", "invalid_topic"),
        (&format!("/v1/events?topics={too_many}"), "too_many_topics"),
    ];
    for (path, code) in cases {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(
            (error_code(&body), &body["error"]["field"]),
            (code, &json!("topics"))
        );
    }
    let bad_id = app
        .client
        .get("/v1/events?topics=feed:a")
        .header("Authorization", app.bearer())
        .header("Last-Event-ID", "yesterday");
    let (status, body) = super::read(bad_id.send().await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "Last-Event-ID");
    let anonymous = app.client.get("/v1/events?topics=feed:a").send().await;
    assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED);
}

async fn a_quiet_stream_is_kept_alive(app: &TestApp) {
    let served = serve(app.stores.clone()).await;
    let mut stream = Stream::open(&served, &app.key, "feed:nobody", None).await;
    stream.is_quiet().await;
    stream.is_quiet().await;
}

async fn the_openapi_document_describes_the_stream(app: &TestApp) {
    let (status, spec) = super::read(app.client.get("/openapi.json").send().await).await;
    assert_eq!(status, StatusCode::OK);
    let get = &spec["paths"]["/v1/events"]["get"];
    assert!(
        get["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{get}"
    );
    let params: Vec<&Value> = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(params, [&json!("topics"), &json!("Last-Event-ID")]);
}

/// Two API replicas over one fleet (Postgres, Redis): what one publishes the
/// other serves, and an id one gave resumes on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_replicas_serve_the_same_events() {
    let clock = ManualClock::new();
    let fleet = mixdown_testkit::FleetStores::with_clock(clock.clone().into()).await;
    let app = TestApp::new(fleet.stores.clone(), clock).await;
    let url = mixdown_testkit::redis_url();
    let other = Stores {
        events: mixdown_testkit::redis_events(&url, &fleet.redis_prefix).await,
        ..fleet.stores.clone()
    };
    let (one, two) = (serve(fleet.stores.clone()).await, serve(other).await);
    let id = app.submit(json!({"kind": "noop"})).await;
    let topic = format!("job:{id}");
    let mut on_two = Stream::open(&two, &app.key, &topic, Some("0-0")).await;
    app.run_due().await;
    let seen = on_two.events(3).await;
    assert_eq!(states(&seen), ["queued", "running", "succeeded"]);
    let mut on_one = Stream::open(&one, &app.key, &topic, Some(id_of(&seen[0]))).await;
    assert_eq!(on_one.events(2).await, seen[1..]);
    on_one.is_quiet().await;
    drop((on_one, on_two, one, two));
    app.stop().await;
    fleet.cleanup().await;
}
