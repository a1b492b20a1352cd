//! A track's outputs play in Chromium's `<audio>` as `mixdown dev` serves
//! them: the element reads the duration, seeks to the middle (the file
//! server answers byte ranges; the HLS rendition's playlist names its
//! segments) and plays on from there without an error.

use std::time::Duration;

use mixdown_testkit::browser::Browser;
use serde_json::{Value, json};

use crate::harness::{Client, start_dev};

/// Seconds of the uploaded tone.
const SECONDS: f64 = 20.0;

/// Loads `src` in a new `<audio>`, seeks to the middle once its duration is
/// known, plays past the seek and answers what the element saw.
const SEEK_AND_PLAY: &str = r#"
const [src, done] = arguments;
const audio = new Audio();
audio.muted = true;
audio.preload = "auto";
const report = (extra) => done(Object.assign({
  duration: audio.duration,
  currentTime: audio.currentTime,
  seekableEnd: audio.seekable.length ? audio.seekable.end(0) : -1,
  error: audio.error ? audio.error.code : null,
}, extra));
audio.addEventListener("error", () => report({failed: "error"}));
audio.addEventListener("loadedmetadata", () => {
  const middle = audio.duration / 2;
  audio.addEventListener("seeked", () => {
    const seekedAt = audio.currentTime;
    audio.addEventListener("timeupdate", function onTime() {
      if (audio.currentTime > seekedAt + 0.3) {
        audio.removeEventListener("timeupdate", onTime);
        audio.pause();
        report({seekedAt});
      }
    });
    audio.play().catch((e) => report({failed: String(e)}));
  }, {once: true});
  audio.currentTime = middle;
}, {once: true});
audio.src = src;
"#;

/// Uploads a tone made with sox and waits for its track to be ready.
async fn ready_track(client: &Client, dir: &std::path::Path) -> Value {
    let wav = dir.join("tone.wav");
    mixdown_testkit::sox_tone(&wav, SECONDS);
    let upload = client
        .http
        .post(format!("{}/v1/uploads", client.base))
        .bearer_auth(&client.key)
        .header("Content-Type", "audio/wav")
        .body(std::fs::read(&wav).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 202);
    let track: Value = upload.json().await.unwrap();
    let path = format!("/v1/tracks/{}", track["track_id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let track = client.get(&path).await;
        match track["state"].as_str() {
            Some("ready") => return track,
            Some("failed") => panic!("the track failed: {track}"),
            _ => assert!(std::time::Instant::now() < deadline, "not ready: {track}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_play_and_seek_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (dev, client) = start_dev(data.to_str().unwrap());
    let base = client.base.clone();
    let track = ready_track(&client, dir.path()).await;

    let browser = Browser::start().await;
    // A page of the same origin that fetches no icon (a missing one is a
    // console error): the dashboard's sign-in form, whose policy lets media
    // of its own origin play.
    browser.goto(&format!("{base}/dashboard")).await;
    // Each preset, and whether it is one file a player seeks in by ranges
    // (the HLS rendition seeks by segments instead).
    for (preset, ranged) in [("mp3_128", true), ("opus_64", true), ("aac_hls_160", false)] {
        let output = track["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["preset"] == preset)
            .unwrap_or_else(|| panic!("no {preset} output: {track}"));
        let url = output["url"].as_str().unwrap();
        let src = if url.starts_with('/') {
            format!("{base}{url}")
        } else {
            url.to_owned()
        };
        if ranged {
            let head = client.http.get(&src).header("Range", "bytes=0-99");
            let head = head.send().await.unwrap();
            assert_eq!(head.status(), 206, "{preset}: the seek rests on ranges");
        }
        let seen = browser.execute_async(SEEK_AND_PLAY, vec![json!(src)]).await;
        assert_eq!(seen["error"], Value::Null, "{preset}: {seen}");
        assert!(seen.get("failed").is_none(), "{preset}: {seen}");
        let duration = seen["duration"].as_f64().unwrap();
        assert!(
            (duration - SECONDS).abs() < 0.1,
            "{preset}: duration {seen}"
        );
        let seeked_at = seen["seekedAt"].as_f64().unwrap();
        assert!((seeked_at - SECONDS / 2.0).abs() < 0.1, "{preset}: {seen}");
        assert!(
            seen["currentTime"].as_f64().unwrap() > seeked_at,
            "{preset}: {seen}"
        );
        let seekable = seen["seekableEnd"].as_f64().unwrap();
        assert!((seekable - duration).abs() < 0.1, "{preset}: {seen}");
    }
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
    assert!(dev.terminate().success());
}
