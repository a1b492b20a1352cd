//! The API's edge under slow and flooding clients, over real sockets: heads
//! and bodies that never finish are cut while real requests are answered,
//! connections and uploads over their caps are turned away, rate limits hold
//! across replicas, and metric labels stay bounded whatever a client sends.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

use crate::harness::{Client, Env, Fleet, FleetOptions, Proc, base_env, create_key_with, fetch};

/// `mixdown dev` on its own data directory.
struct Dev {
    proc: Proc,
    client: Client,
    ops: String,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Dev {
    /// Starts with `settings`; `prepare` runs first on the environment
    /// (e.g. to make keys in the same database).
    fn start(settings: &[(&str, &str)], prepare: impl FnOnce(&Env)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env = base_env();
        env.insert(
            "MIXDOWN_DATA_DIR".into(),
            dir.path().join("data").display().to_string(),
        );
        for (k, v) in settings {
            env.insert((*k).into(), (*v).into());
        }
        prepare(&env);
        let mut proc = Proc::start(&["dev", "--listen", "127.0.0.1:0"], &env);
        let base = proc.url();
        let key = proc.line().split_whitespace().last().unwrap().to_owned();
        let ops = proc.url();
        let addr = base.trim_start_matches("http://").parse().unwrap();
        Self {
            proc,
            client: Client::new(base, key),
            ops,
            addr,
            _dir: dir,
        }
    }
}

/// The slow clients of the flood: what each sends, then stops sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    /// Half a request line.
    HalfLine,
    /// A request line and headers, never the blank line that ends them.
    OpenHeaders,
    /// A whole head, then a body one byte every 200 ms.
    Trickle,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_after_the_timeouts_while_real_requests_answer() {
    let timeout = Duration::from_secs(2);
    let dev = Dev::start(
        &[
            ("MIXDOWN_HEADER_READ_TIMEOUT_MS", "2000"),
            ("MIXDOWN_BODY_READ_TIMEOUT_MS", "2000"),
            ("MIXDOWN_MIN_BODY_BYTES_PER_SEC", "100"),
        ],
        |_| {},
    );
    let key = dev.client.key.clone();
    let done = CancellationToken::new();
    let real = tokio::spawn(real_requests(dev.client.clone(), done.clone()));
    let mut held = JoinSet::new();
    let opened = Instant::now();
    for i in 0..2000 {
        let kind = [
            Slow::HalfLine,
            Slow::OpenHeaders,
            Slow::Trickle,
            Slow::HalfLine,
        ][i % 4];
        let mut socket = TcpStream::connect(dev.addr).await.unwrap();
        let head = match kind {
            Slow::HalfLine => "GET /v1/jo".to_owned(),
            Slow::OpenHeaders => "GET /v1/jobs HTTP/1.1\r\nHost: mixdown\r\nX-Slow: ".to_owned(),
            Slow::Trickle => format!(
                "POST /v1/jobs HTTP/1.1\r\nHost: mixdown\r\nAuthorization: Bearer {key}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
            ),
        };
        socket.write_all(head.as_bytes()).await.unwrap();
        held.spawn(hold(socket, kind));
    }
    let opening = opened.elapsed();
    let mut cuts = Vec::new();
    while let Some(cut) = held.join_next().await {
        cuts.push(cut.unwrap());
    }
    done.cancel();
    let latencies = real.await.unwrap();
    let slowest = latencies.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(1),
        "a real request took {slowest:?}"
    );
    let after = |kind: Slow| cuts.iter().filter(move |c| c.0 == kind).map(|c| c.1);
    for kind in [Slow::HalfLine, Slow::OpenHeaders, Slow::Trickle] {
        let first = after(kind).min().unwrap();
        let last = after(kind).max().unwrap();
        eprintln!(
            "{kind:?}: {} cut between {first:?} and {last:?} after opening",
            after(kind).count()
        );
        assert!(
            first >= timeout - Duration::from_millis(100),
            "{kind:?} cut at {first:?}"
        );
        assert!(
            last < opening + timeout + Duration::from_secs(5),
            "{kind:?} held {last:?}"
        );
    }
    let timed_out = cuts
        .iter()
        .filter(|c| c.0 == Slow::Trickle && c.2.starts_with("HTTP/1.1 408"))
        .count();
    assert_eq!(
        timed_out, 500,
        "every trickled body is told 408 before the cut"
    );
    let (_, metrics) = fetch(&format!("{}/metrics", dev.ops)).await;
    let cut_heads = metric(
        &metrics,
        "mixdown_http_connections_cut_total{reason=\"header_timeout\"}",
    );
    assert_eq!(cut_heads, 1500.0);
    eprintln!(
        "2000 slow connections opened in {opening:?}, all cut; {} real requests answered meanwhile, slowest {slowest:?}",
        latencies.len()
    );
    assert!(dev.proc.terminate().success());
}

/// GETs `/v1/jobs` every 20 ms until `done`: how long each answer took.
async fn real_requests(client: Client, done: CancellationToken) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while !done.is_cancelled() {
        let asked = Instant::now();
        let resp = get_jobs(&client, &client.key, "/v1/jobs").await;
        assert_eq!(resp.status(), StatusCode::OK);
        latencies.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies
}

/// Keeps a slow client's socket (trickling when it is one) until the server
/// cuts it: its kind, when the cut came after the socket opened, and what
/// the server said first.
async fn hold(mut socket: TcpStream, kind: Slow) -> (Slow, Duration, String) {
    let opened = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    let limit = Duration::from_secs(30);
    loop {
        let read = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf));
        match read.await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) if kind == Slow::Trickle => {
                let _ = socket.write_all(b" ").await;
            }
            Err(_) => {}
        }
        assert!(opened.elapsed() < limit, "{kind:?} never cut");
    }
    (
        kind,
        opened.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once_and_uploads_over_theirs_answer_503() {
    let dev = Dev::start(
        &[
            ("MIXDOWN_MAX_CONNECTIONS", "20"),
            ("MIXDOWN_MAX_CONCURRENT_UPLOADS", "1"),
        ],
        |_| {},
    );
    let key = dev.client.key.clone();
    // One upload held open takes the only upload slot.
    let mut upload = TcpStream::connect(dev.addr).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: mixdown\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 100000\r\n\r\n--XX\r\n"
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    // Held: the form's first part has not arrived, so no answer yet.
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), upload.read(&mut buf)).await;
    assert!(early.is_err(), "the held upload was answered: {early:?}");
    let second = || post_upload(&dev.client);
    let refused = until(
        |r: &Response| r.status() == StatusCode::SERVICE_UNAVAILABLE,
        second,
    )
    .await;
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
    drop(upload);
    let taken = until(
        |r: &Response| r.status() != StatusCode::SERVICE_UNAVAILABLE,
        second,
    )
    .await;
    assert!(
        taken.status().is_client_error(),
        "a bad form is refused as such: {}",
        taken.status()
    );

    // The connection cap: the HTTP client holds none open now.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(dev.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(dev.addr).await.unwrap();
    let asked = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the 21st connection is closed: {read:?}"
    );
    eprintln!(
        "the connection over the cap was closed after {:?}",
        asked.elapsed()
    );
    drop(idle);
    let fresh = Client::new(dev.client.base.clone(), key);
    let answered = until(
        |r: &Response| r.status() == StatusCode::OK,
        || {
            fresh
                .http
                .get(format!("{}/v1/jobs", fresh.base))
                .bearer_auth(&fresh.key)
                .send()
        },
    )
    .await;
    assert_eq!(answered.status(), StatusCode::OK);
    let (_, metrics) = fetch(&format!("{}/metrics", dev.ops)).await;
    assert!(
        metric(
            &metrics,
            "mixdown_http_connections_cut_total{reason=\"refused\"}"
        ) >= 1.0
    );
    assert!(dev.proc.terminate().success());
}

fn post_upload(client: &Client) -> impl Future<Output = reqwest::Result<Response>> + use<> {
    client
        .http
        .post(format!("{}/v1/uploads", client.base))
        .bearer_auth(&client.key)
        .header("content-type", "multipart/form-data; boundary=XX")
        .body("--XX--\r\n")
        .send()
}

/// Asks again until an answer fits, at most 5 s.
async fn until<F, Fut>(fits: impl Fn(&Response) -> bool, ask: F) -> Response
where
    F: Fn() -> Fut,
    Fut: Future<Output = reqwest::Result<Response>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = ask().await;
        match answer {
            Ok(resp) if fits(&resp) => return resp,
            other => assert!(
                Instant::now() < deadline,
                "no fitting answer in time: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rate-limit headers of an answer: limit, remaining, reset.
fn rate_headers(resp: &Response) -> (u64, u64, u64) {
    let header = |name: &str| -> u64 {
        let value = resp
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"));
        value.to_str().unwrap().parse().unwrap()
    };
    (
        header("ratelimit-limit"),
        header("ratelimit-remaining"),
        header("ratelimit-reset"),
    )
}

async fn get_jobs(client: &Client, key: &str, path: &str) -> Response {
    client
        .http
        .get(format!("{}{path}", client.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Ten requests of a tenant limited to `1/min burst 10` (spread over the
/// APIs, which share one bucket), then a refusal; a default tenant's error
/// answers carry its headers; bad keys of one address are limited to
/// `1/min burst 3`, after which even a good key no API has seen yet is
/// refused: the database is not asked. A key the API has read before is
/// still read again and let through.
async fn limits_hold(apis: &[Client], limited: &str, default_key: &str, unseen: &str) {
    for i in 0..10u64 {
        let resp = get_jobs(&apis[i as usize % apis.len()], limited, "/v1/jobs").await;
        assert_eq!(resp.status(), StatusCode::OK);
        let (limit, remaining, reset) = rate_headers(&resp);
        assert_eq!((limit, remaining), (10, 9 - i));
        assert!((1..=600).contains(&reset), "{reset}");
    }
    let refused = get_jobs(&apis[0], limited, "/v1/jobs").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(rate_headers(&refused).1, 0);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    let missing = get_jobs(
        &apis[0],
        default_key,
        "/v1/jobs/01970000-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(rate_headers(&missing).0, 2000, "the configured burst");

    for i in 0..3u64 {
        let guess = format!("mdk_guess{i}");
        let resp = get_jobs(&apis[i as usize % apis.len()], &guess, "/v1/jobs").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(rate_headers(&resp).1, 2 - i);
    }
    for key in ["mdk_guess3", unseen] {
        let refused = get_jobs(&apis[apis.len() - 1], key, "/v1/jobs").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));
    }
    // A key known before the flood still works, even once the API has
    // stopped trusting what it read of it without asking again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get_jobs(&apis[0], default_key, "/v1/jobs").await.status(),
        StatusCode::OK
    );
}

/// Forty requests of a tenant limited to `1/min burst 10`, sent at once over
/// the APIs: the takes of one bucket that meet in flight go to it together,
/// and exactly ten get through, each told a different number left. Run
/// before [`limits_hold`], which spends the address's allowance for keys
/// not seen yet.
async fn a_burst_at_once_gets_exactly_its_tokens(apis: &[Client], key: &str) {
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (api, key) = (apis[i % apis.len()].clone(), key.to_owned());
        sent.spawn(async move { get_jobs(&api, &key, "/v1/jobs").await });
    }
    let answers = sent.join_all().await;
    let mut remaining: Vec<u64> = answers
        .iter()
        .filter(|resp| resp.status() == StatusCode::OK)
        .map(|resp| rate_headers(resp).1)
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..10).collect::<Vec<u64>>());
    let refused = answers
        .iter()
        .filter(|resp| resp.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 30);
}

/// Nine hundred requests of a tenant limited to `1000/s burst 300`, thirty
/// at a time over the APIs, which take its tokens from the shared bucket ten
/// at a time: never more get through than the bucket held and gained
/// meanwhile, and no more than two leases' worth are left unspent.
async fn leases_never_admit_more_than_the_bucket(apis: &[Client], key: &str) {
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(30));
    let mut sent = JoinSet::new();
    for i in 0..900 {
        let (api, key) = (apis[i % apis.len()].clone(), key.to_owned());
        let slot = slots.clone().acquire_owned().await.unwrap();
        sent.spawn(async move {
            let status = get_jobs(&api, &key, "/v1/jobs").await.status();
            drop(slot);
            status
        });
    }
    let answers = sent.join_all().await;
    let gained = started.elapsed().as_millis() as usize; // 1000/s: a token a millisecond
    let allowed = answers.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(allowed + refused, 900, "{answers:?}");
    assert!(
        allowed <= 300 + gained + 1,
        "{allowed} through with 300 + {gained} tokens"
    );
    assert!(allowed >= 300 - 2 * 10, "{allowed} through of 300");
}

const AUTH_FAILURES: (&str, &str) = ("MIXDOWN_AUTH_FAILURE_RATE", "1/min burst 3");
const FAST: [&str; 2] = ["--rate", "1000/s burst 300"];
const LIMITED: [&str; 2] = ["--rate", "1/min burst 10"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_share_a_tenants_bucket_in_redis() {
    let options = FleetOptions {
        apis: 2,
        workers: 0,
        env: vec![(AUTH_FAILURES.0, AUTH_FAILURES.1.into())],
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let limited = create_key_with(&fleet.env, "limited", &LIMITED);
    let unseen = create_key_with(&fleet.env, "unseen", &[]);
    let burst = create_key_with(&fleet.env, "burst", &LIMITED);
    let fast = create_key_with(&fleet.env, "fast", &FAST);
    let apis: Vec<Client> = fleet.apis.iter().map(|(_, c)| c.clone()).collect();
    a_burst_at_once_gets_exactly_its_tokens(&apis, &burst).await;
    leases_never_admit_more_than_the_bucket(&apis, &fast).await;
    limits_hold(&apis, &limited, &fleet.key, &unseen).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_mode_limits_in_memory() {
    let (mut limited, mut unseen, mut burst, mut fast) = Default::default();
    let dev = Dev::start(&[AUTH_FAILURES], |env| {
        limited = create_key_with(env, "limited", &LIMITED);
        unseen = create_key_with(env, "unseen", &[]);
        burst = create_key_with(env, "burst", &LIMITED);
        fast = create_key_with(env, "fast", &FAST);
    });
    let apis = std::slice::from_ref(&dev.client);
    a_burst_at_once_gets_exactly_its_tokens(apis, &burst).await;
    leases_never_admit_more_than_the_bucket(apis, &fast).await;
    limits_hold(apis, &limited, &dev.client.key, &unseen).await;
    assert!(dev.proc.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_labels_stay_bounded_and_only_ops_see_metrics_and_details() {
    let dev = Dev::start(&[], |_| {});
    let base = &dev.client.base;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("mixdown_http_request"))
            .count()
    };
    let (_, before) = fetch(&format!("{}/metrics", dev.ops)).await;
    for i in 0..200 {
        let method = Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
        let url = format!("{base}/v1/jobs/{i}");
        dev.client.http.request(method, url).send().await.unwrap();
    }
    post_upload(&dev.client).await.unwrap();
    let (_, after) = fetch(&format!("{}/metrics", dev.ops)).await;
    let grown = series(&after) - series(&before);
    eprintln!("200 bogus methods and an upload added {grown} HTTP series");
    assert!(grown < 60, "{grown} new series:\n{after}");
    assert!(!after.contains("method=\"M1\""), "{after}");
    assert!(
        after.contains("method=\"other\",route=\"/v1/jobs/{job_id}\""),
        "{after}"
    );
    assert!(after.contains("route=\"/v1/uploads\""), "{after}");

    assert_eq!(fetch(&format!("{base}/metrics")).await.0, 404);
    let (status, public) = fetch(&format!("{base}/readyz")).await;
    assert_eq!((status, public.as_str()), (200, r#"{"status":"ready"}"#));
    let (status, details) = fetch(&format!("{}/readyz", dev.ops)).await;
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(
        (status, &details["checks"]["database"]),
        (200, &Value::from("ok"))
    );
    assert!(dev.proc.terminate().success());
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
