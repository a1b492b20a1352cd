//! Resumable uploads (tus 1.0) against the binary, embedded and as a fleet
//! of two API replicas over Postgres, Redis and S3: a real client (tuspy,
//! through scripts/tus-client.sh) for resumption from a new process,
//! checksums, parallel partial uploads, racing PATCHes and a replica
//! change; raw HTTP for the protocol's edges; the sweep of expired uploads.

use std::{path::Path, process::Command, time::Duration};

use mixdown_jobs::{Stores, clock::Clock, ids::TrackId, objects::ObjectStore};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{
    Client, Env, Fleet, FleetOptions, Proc, base_env, create_key, keys_create, start_dev,
};

const MIB: usize = 1 << 20;

/// Runs a scenario of the tus client; its JSON line.
fn client(args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/tus-client.sh");
    let out = Command::new(script)
        .args(args)
        .output()
        .expect("run the tus client");
    assert!(
        out.status.success(),
        "tus client {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON line")
}

/// A WAV tone of `seconds` under `dir`, and its SHA-256.
fn tone(dir: &Path, seconds: f64) -> (String, String) {
    let path = dir.join(format!("tone-{seconds}.wav"));
    mixdown_testkit::sox_tone(&path, seconds);
    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    let sum = String::from_utf8(out.stdout).unwrap();
    let sum = sum.split_whitespace().next().unwrap().to_owned();
    (path.to_str().unwrap().to_owned(), sum)
}

fn id_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// Waits for the upload's track to be ready; its sha256 as ingest recorded it.
async fn ready_sha256(api: &Client, url: &str) -> String {
    let upload = api.get(&format!("/v1/uploads/{}", id_of(url))).await;
    let track = upload["track_id"]
        .as_str()
        .expect("a track once whole")
        .to_owned();
    for _ in 0..600 {
        let track = api.get(&format!("/v1/tracks/{track}")).await;
        match track["state"].as_str() {
            Some("ready") => return track["metadata"]["sha256"].as_str().unwrap().to_owned(),
            Some("failed") => panic!("track failed: {track}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("track {track} not ready in time")
}

async fn client_scenarios(apis: &[&Client], dir: &Path) {
    let api = apis[0];
    let (base, key) = (api.base.as_str(), api.key.as_str());
    let (wav, sum) = tone(dir, 75.0);
    let size = std::fs::metadata(&wav).unwrap().len();
    let store = dir.join("tus-urls.json");
    let store = store.to_str().unwrap();
    let chunk = (5 * MIB).to_string();

    // Interrupted after one chunk; a new process resumes from the server's offset.
    let first = client(&["first", base, key, &wav, store, &chunk]);
    assert_eq!(first["offset"], 5 * MIB);
    let rest = client(&["rest", base, key, &wav, store, &chunk]);
    assert_eq!(rest["url"], first["url"]);
    assert_eq!(rest["resumed_at"], 5 * MIB);
    assert_eq!(rest["offset"], size);
    assert_eq!(ready_sha256(api, rest["url"].as_str().unwrap()).await, sum);

    // A chunk that does not match its checksum is discarded.
    let checked = client(&["checksum", base, key, &wav]);
    assert_eq!(checked["bad"], 460, "{checked}");
    assert_eq!(checked["bad_body"]["error"]["code"], "checksum_mismatch");
    assert_eq!(checked["after_bad"], 0);
    assert_eq!(checked["good"], 204);
    assert_eq!(checked["offset"], size);

    // Four partial uploads sent at once, joined in order.
    let (short, short_sum) = tone(dir, 20.0);
    let short_size = std::fs::metadata(&short).unwrap().len();
    let joined = client(&["parallel", base, key, &short, "4"]);
    assert_eq!(joined["status"], 201, "{joined}");
    assert_eq!(joined["errors"], serde_json::json!([]));
    assert_eq!(joined["offset"], short_size);
    assert_eq!(joined["length"], short_size);
    assert_eq!(
        joined["partials_after"],
        serde_json::json!([404, 404, 404, 404])
    );
    // HEAD names the partial uploads the final one joined, in order.
    let partials: Vec<&str> = joined["partials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().trim_start_matches(base))
        .collect();
    assert_eq!(joined["concat"], format!("final;{}", partials.join(" ")));
    assert_eq!(
        ready_sha256(api, joined["url"].as_str().unwrap()).await,
        short_sum
    );

    // Two PATCHes at once: the second is refused while the first writes.
    let raced = client(&["race", base, key, &wav]);
    assert_eq!(raced["slow"], 204, "{raced}");
    assert_eq!(raced["second"], 423);
    assert_eq!(raced["second_body"]["error"]["code"], "upload_locked");
    assert_eq!(raced["offset"], 2 * MIB);

    // The next PATCH goes to another replica.
    if let [one, two, ..] = apis {
        let moved = client(&["replicas", &one.base, &two.base, key, &wav, &chunk]);
        assert_eq!(moved["first"], 204);
        assert_eq!(moved["resumed_at"], 5 * MIB);
        assert_eq!(moved["offset"], size);
    }
}

fn tus(api: &Client, method: Method, path: &str) -> reqwest::RequestBuilder {
    api.http
        .request(method, format!("{}/v1/uploads/tus{path}", api.base))
        .header("Authorization", format!("Bearer {}", api.key))
        .header("Tus-Resumable", "1.0.0")
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Creates an upload of `length` bytes; its path under the tus endpoint.
async fn created(api: &Client, length: u64) -> String {
    let resp = tus(api, Method::POST, "")
        .header("Upload-Length", length)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(!header(&resp, "Upload-Expires").is_empty());
    format!("/{}", id_of(header(&resp, "Location")))
}

async fn patch(api: &Client, path: &str, offset: u64, body: Vec<u8>) -> reqwest::Response {
    tus(api, Method::PATCH, path)
        .header("Upload-Offset", offset)
        .header("Content-Type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn offset(api: &Client, path: &str) -> (StatusCode, String) {
    let resp = tus(api, Method::HEAD, path).send().await.unwrap();
    (resp.status(), header(&resp, "Upload-Offset").to_owned())
}

async fn protocol_edges(api: &Client, other: &Client) {
    let discovery = api
        .http
        .request(Method::OPTIONS, format!("{}/v1/uploads/tus", api.base));
    let resp = discovery.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "Tus-Version"), "1.0.0");
    for ext in [
        "creation",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
        "concatenation",
    ] {
        assert!(
            header(&resp, "Tus-Extension").split(',').any(|e| e == ext),
            "{ext}"
        );
    }
    assert_eq!(header(&resp, "Tus-Checksum-Algorithm"), "sha1,sha256");
    assert_eq!(header(&resp, "Tus-Max-Size"), "2147483648");

    let preflight = api
        .http
        .request(Method::OPTIONS, format!("{}/v1/uploads/tus/x", api.base))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "PATCH")
        .header(
            "Access-Control-Request-Headers",
            "tus-resumable,upload-offset,content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        header(&preflight, "Access-Control-Allow-Origin"),
        "https://app.example"
    );
    assert!(header(&preflight, "Access-Control-Allow-Methods").contains("PATCH"));
    assert!(header(&preflight, "Access-Control-Allow-Headers").contains("upload-offset"));

    let unversioned = api.http.post(format!("{}/v1/uploads/tus", api.base));
    let resp = unversioned
        .header("Authorization", format!("Bearer {}", api.key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(header(&resp, "Tus-Resumable"), "1.0.0");
    assert_eq!(code(resp).await, "tus_version_unsupported");

    let huge = tus(api, Method::POST, "")
        .header("Upload-Length", 3_000_000_000u64)
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(huge).await, "payload_too_large");

    let path = created(api, 1000).await;
    let cors = tus(api, Method::HEAD, &path)
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    let exposed = header(&cors, "Access-Control-Expose-Headers").to_owned();
    for name in [
        "upload-offset",
        "location",
        "upload-expires",
        "upload-length",
        "tus-resumable",
    ] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    let plain = tus(api, Method::PATCH, &path)
        .header("Upload-Offset", 0)
        .header("Content-Type", "application/octet-stream")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let ahead = patch(api, &path, 5, vec![1u8; 10]).await;
    assert_eq!(ahead.status(), StatusCode::CONFLICT);
    assert_eq!(code(ahead).await, "offset_mismatch");
    let past = patch(api, &path, 0, vec![1u8; 1001]).await;
    assert_eq!(past.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let some = patch(api, &path, 0, vec![1u8; 400]).await;
    assert_eq!(some.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&some, "Upload-Offset"), "400");
    assert_eq!(offset(api, &path).await, (StatusCode::OK, "400".into()));
    assert_eq!(offset(other, &path).await.0, StatusCode::NOT_FOUND);
    let theirs = patch(other, &path, 400, vec![1u8; 10]).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let overridden = tus(api, Method::POST, &path)
        .header("X-HTTP-Method-Override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset(api, &path).await.0, StatusCode::NOT_FOUND);

    // Creation with its first bytes, and a length given only later.
    let with_body = tus(api, Method::POST, "")
        .header("Upload-Defer-Length", "1")
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![7u8; 300])
        .send()
        .await
        .unwrap();
    assert_eq!(with_body.status(), StatusCode::CREATED);
    assert_eq!(header(&with_body, "Upload-Offset"), "300");
    let path = format!("/{}", id_of(header(&with_body, "Location")));
    let head = tus(api, Method::HEAD, &path).send().await.unwrap();
    assert_eq!(header(&head, "Upload-Defer-Length"), "1");
    let last = tus(api, Method::PATCH, &path)
        .header("Upload-Offset", 300)
        .header("Upload-Length", 500)
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![7u8; 200])
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    let status = api.get(&format!("/v1/uploads{path}")).await;
    assert_eq!(status["offset"], 500);
    assert_eq!(status["length"], 500);
    assert_eq!(status["track_id"].as_str(), Some(&path[1..]));
}

/// Uploads past their time: refused at once, swept with what they stored;
/// and the cap on a tenant's open uploads.
async fn expiry(api: &Client, stores: &Stores) {
    let path = created(api, (10 * MIB) as u64).await;
    let stored = patch(api, &path, 0, vec![3u8; 9 * MIB]).await;
    assert_eq!(stored.status(), StatusCode::NO_CONTENT);
    let id = TrackId::parse(&path[1..]).unwrap();
    let tenant = stores
        .db
        .tenants
        .key_owner(&api.key)
        .await
        .unwrap()
        .unwrap()
        .0;
    let upload = stores.db.tus.get(tenant, id).await.unwrap().unwrap();
    assert_eq!((upload.stored, upload.parts), (8 * MIB as u64, 1));
    let tail = upload.tail.clone().expect("a tail of 1 MiB");
    assert_eq!(tail.size, MIB as u64);
    let objects: &ObjectStore = &stores.objects;
    let parts = objects.stored_parts(&upload.data_key, &upload.multipart);
    assert_eq!(parts.await.unwrap(), 1);
    created(api, 10).await;
    let refused = tus(api, Method::POST, "")
        .header("Upload-Length", 10)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(refused).await, "too_many_open_uploads");
    // Both uploads expire two seconds after their creation.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(offset(api, &path).await.0, StatusCode::NOT_FOUND);
    // A worker's janitor may have swept them already; either way they are gone.
    mixdown_jobs::tus::sweep_expired(stores, 100).await.unwrap();
    let parts = objects.stored_parts(&upload.data_key, &upload.multipart);
    assert_eq!(parts.await.unwrap(), 0);
    assert_eq!(objects.size(&tail.key).await.unwrap(), None);
    assert!(
        stores
            .db
            .tus
            .get(upload.tenant_id, id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A process of `args` with `extra` settings: its URL (the ops one read past).
fn start_with(args: &[&str], env: &Env, extra: &[(&str, &str)]) -> (Proc, String) {
    let mut env = env.clone();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut proc = Proc::start(args, &env);
    let url = proc.url();
    (proc, url)
}

const EXPIRING: [(&str, &str); 2] = [
    ("MIXDOWN_TUS_EXPIRY_SECS", "2"),
    ("MIXDOWN_TUS_MAX_OPEN_UPLOADS", "2"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_uploads_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_dev, api) = start_dev(data.to_str().unwrap());
    let mut env = base_env();
    env.insert("MIXDOWN_DATA_DIR".into(), data.to_str().unwrap().into());
    let other = Client::new(api.base.clone(), keys_create(&env, &["--tenant", "other"]));
    protocol_edges(&api, &other).await;
    client_scenarios(&[&api], dir.path()).await;

    let short = dir.path().join("short");
    let dev_args = [
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        short.to_str().unwrap(),
    ];
    let (mut dev, base) = start_with(&dev_args, &base_env(), &EXPIRING);
    let key = dev.line().split_whitespace().last().unwrap().to_owned();
    let stores = mixdown_testkit::embedded_stores_in(&short, Clock::System).await;
    expiry(&Client::new(base, key), &stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_uploads_over_two_api_replicas() {
    let options = FleetOptions {
        apis: 2,
        workers: 1,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(options).await;
    let dir = tempfile::tempdir().unwrap();
    let other = Client::new(fleet.client().base.clone(), create_key(&fleet.env, "other"));
    protocol_edges(fleet.client(), &other).await;
    let apis: Vec<&Client> = fleet.apis.iter().map(|(_, c)| c).collect();
    client_scenarios(&apis, dir.path()).await;

    let api_args = ["api", "--listen", "127.0.0.1:0"];
    let (_api, base) = start_with(&api_args, &fleet.env, &EXPIRING);
    let key = create_key(&fleet.env, "expiring");
    expiry(&Client::new(base, key), &fleet.stores.stores).await;
    fleet.stop().await;
}
