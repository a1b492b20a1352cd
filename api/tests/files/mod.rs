//! The embedded mode's files over a real socket, as a player or a probe
//! reads them: a WAV made by sox is uploaded and transcoded, and its MP3
//! rendition is fetched whole, in ranges, conditionally and by `HEAD`,
//! then probed by ffprobe straight over HTTP.

use std::process::Command;

use reqwest::{
    Response,
    header::{self, HeaderMap, HeaderValue},
};
use serde_json::Value;

use super::{TestApp, api_settings, error_code, events::serve, fleet_settings, worker_settings};

/// Seconds of the uploaded tone.
const SECONDS: f64 = 7.5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendition_is_served_with_ranges_validators_and_head() {
    let clock = mixdown_jobs::clock::ManualClock::new();
    let (stores, _dir) = mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
    let app = TestApp::new(stores.clone(), clock).await;
    let served = serve(stores).await;
    let url = format!("{}{}", served.url, rendition_path(&app).await);

    let full = get(&url, &[]).await;
    assert_eq!(full.status(), 200);
    let length = header_of(&full, header::CONTENT_LENGTH)
        .parse::<usize>()
        .unwrap();
    assert_eq!(header_of(&full, header::ACCEPT_RANGES), "bytes");
    assert_eq!(header_of(&full, header::CONTENT_TYPE), "audio/mpeg");
    assert!(full.headers().get(header::TRANSFER_ENCODING).is_none());
    let etag = header_of(&full, header::ETAG);
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong tag: {etag}"
    );
    let modified = header_of(&full, header::LAST_MODIFIED);
    let bytes = full.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len(), length);
    assert!(length > 10_000, "{length} bytes of MP3");

    for (range, part) in [
        ("bytes=0-0", 0..1),
        ("bytes=1000-1999", 1000..2000),
        ("bytes=-100", length - 100..length),
        ("bytes=100-", 100..length),
        (
            &*format!("bytes={}-{}", length - 10, length + 500),
            length - 10..length,
        ),
    ] {
        let resp = get(&url, &[(header::RANGE, range)]).await;
        assert_eq!(resp.status(), 206, "{range}");
        let expected = format!("bytes {}-{}/{length}", part.start, part.end - 1);
        assert_eq!(header_of(&resp, header::CONTENT_RANGE), expected, "{range}");
        assert_eq!(
            header_of(&resp, header::CONTENT_LENGTH),
            part.len().to_string()
        );
        assert_eq!(header_of(&resp, header::ETAG), etag);
        assert_eq!(resp.bytes().await.unwrap(), bytes[part], "{range}");
    }

    let past = get(&url, &[(header::RANGE, &format!("bytes={length}-"))]).await;
    assert_eq!(past.status(), 416);
    assert_eq!(
        header_of(&past, header::CONTENT_RANGE),
        format!("bytes */{length}")
    );
    let body: Value = serde_json::from_slice(&past.bytes().await.unwrap()).unwrap();
    assert_eq!(error_code(&body), "range_not_satisfiable");

    // Several ranges are answered with the whole file.
    let several = get(&url, &[(header::RANGE, "bytes=0-9,20-29")]).await;
    assert_eq!(several.status(), 200);
    assert_eq!(several.bytes().await.unwrap(), bytes);

    let head = reqwest::Client::new().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header_of(&head, header::CONTENT_LENGTH), length.to_string());
    assert_eq!(header_of(&head, header::ETAG), etag);
    assert_eq!(header_of(&head, header::LAST_MODIFIED), modified);
    assert_eq!(header_of(&head, header::ACCEPT_RANGES), "bytes");
    assert!(head.bytes().await.unwrap().is_empty());

    for condition in [
        (header::IF_NONE_MATCH, etag.as_str()),
        (header::IF_MODIFIED_SINCE, modified.as_str()),
    ] {
        let resp = get(&url, std::slice::from_ref(&condition)).await;
        assert_eq!(resp.status(), 304, "{condition:?}");
        assert_eq!(header_of(&resp, header::ETAG), etag);
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    let other = get(&url, &[(header::IF_NONE_MATCH, "\"another\"")]).await;
    assert_eq!(other.status(), 200);

    let same = [
        (header::RANGE, "bytes=0-9"),
        (header::IF_RANGE, etag.as_str()),
    ];
    assert_eq!(get(&url, &same).await.status(), 206);
    let stale = [
        (header::RANGE, "bytes=0-9"),
        (header::IF_RANGE, "\"another\""),
    ];
    let stale = get(&url, &stale).await;
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap(), bytes);

    assert_signature_still_checked(&url).await;

    let probed = probed_duration(&url);
    assert!(
        (probed - SECONDS).abs() < 0.1,
        "ffprobe read {probed} s over HTTP"
    );
    app.stop().await;
}

/// The URL with its signature broken, or its expiry moved, is refused for
/// `GET` and `HEAD` alike, ranges or not.
async fn assert_signature_still_checked(url: &str) {
    let tampered = format!("{}0", url.trim_end_matches(char::is_alphanumeric));
    let moved = url.replacen("expires=", "expires=1", 1);
    for bad in [tampered, moved, url.split('?').next().unwrap().to_owned()] {
        let resp = get(&bad, &[(header::RANGE, "bytes=0-9")]).await;
        assert_eq!(resp.status(), 403, "{bad}");
        let head = reqwest::Client::new().head(&bad).send().await.unwrap();
        assert_eq!(head.status(), 403, "{bad}");
    }
}

/// Uploads a sox-made WAV, runs its jobs, and answers the path of its MP3
/// rendition (with its signature).
async fn rendition_path(app: &TestApp) -> String {
    let track = ready_track(app).await;
    let outputs = track["outputs"].as_array().unwrap();
    let mp3 = outputs.iter().find(|o| o["preset"] == "mp3_128").unwrap();
    mp3["url"].as_str().unwrap().to_owned()
}

/// Uploads a tone of [`SECONDS`] made by sox as a WAV, runs its jobs, and
/// answers the ready track.
pub(crate) async fn ready_track(app: &TestApp) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    mixdown_testkit::sox_tone(&wav, SECONDS);
    let req = app
        .client
        .post("/v1/uploads")
        .header("Authorization", app.bearer())
        .content_type("audio/wav")
        .body(std::fs::read(&wav).unwrap());
    let (status, accepted) = super::read(req.send().await).await;
    assert_eq!(status, 202, "{accepted}");
    app.run_due().await;
    let track_id = accepted["track_id"].as_str().unwrap();
    let (_, track) = app.get(&format!("/v1/tracks/{track_id}")).await;
    assert_eq!(track["state"], "ready", "{track}");
    track
}

async fn get(url: &str, headers: &[(header::HeaderName, &str)]) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    let client = reqwest::Client::new();
    client.get(url).headers(map).send().await.unwrap()
}

fn header_of(resp: &Response, name: header::HeaderName) -> String {
    let value = resp.headers().get(&name);
    let value = value.unwrap_or_else(|| panic!("no {name} header"));
    value.to_str().unwrap().to_owned()
}

/// The duration ffprobe reads from `url` over HTTP.
fn probed_duration(url: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(url)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().parse().unwrap()
}

/// An app over the same stores whose served URLs are signed by `keys`.
async fn signing_with(app: &TestApp, keys: &str) -> TestApp {
    let api = mixdown_api::ApiSettings {
        url_signing_keys: Some(mixdown_settings::Value::parse(keys).unwrap()),
        ..api_settings()
    };
    app.like(api, fleet_settings(), worker_settings()).await
}

/// A presigned upload URL made by `app`.
async fn upload_url(app: &TestApp) -> String {
    let (status, presigned) = app
        .post("/v1/uploads/presign", serde_json::Value::Null)
        .await;
    assert_eq!(status, 200, "{presigned}");
    presigned["put_url"].as_str().unwrap().to_owned()
}

/// The status of a PUT of a few bytes to `url` through `app`.
async fn put(app: &TestApp, url: &str) -> u16 {
    let resp = app.client.put(url).body(b"RIFF".to_vec()).send().await;
    resp.0.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_signed_under_a_rotated_key_opens_until_the_key_is_removed() {
    let (old, new) = ("old-".repeat(8), "new-".repeat(8));
    let clock = mixdown_jobs::clock::ManualClock::new();
    let (stores, _dir) = mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
    let first = TestApp::new(stores, clock).await;
    let before = signing_with(&first, &old).await;
    let rotated = signing_with(&first, &format!("{new},{old}")).await;
    let removed = signing_with(&first, &new).await;

    let signed_before = upload_url(&before).await;
    assert_eq!(
        put(&rotated, &signed_before).await,
        200,
        "the old key still opens"
    );
    let signed_after = upload_url(&rotated).await;
    assert_ne!(signed_after, signed_before);
    assert_eq!(put(&removed, &signed_after).await, 200, "the new key signs");
    assert_eq!(
        put(&before, &signed_after).await,
        403,
        "unknown where only the old key is"
    );

    let refused = removed
        .client
        .put(&upload_url(&before).await)
        .body(b"RIFF".to_vec());
    let resp = refused.send().await;
    assert_eq!(resp.0.status().as_u16(), 403, "a removed key opens nothing");
    let body: Value =
        serde_json::from_slice(&resp.0.into_body().into_bytes().await.unwrap()).unwrap();
    assert_eq!(error_code(&body), "invalid_signature");
}
