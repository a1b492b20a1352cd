//! Uploads and tracks end to end: real audio made by the ffmpeg CLI, both
//! store trios, ingest and transcode run by a worker in process, outputs
//! fetched through the URLs the track answer gives and checked by ffprobe.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use mixdown_api::ApiSettings;
use poem::{
    http::StatusCode,
    test::{TestForm, TestFormField},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{TestApp, error_code, read, receiver::Receiver};

both_modes!(
    an_upload_becomes_a_ready_track_with_playable_outputs,
    multipart_and_presigned_uploads_land_the_same_way,
    bad_audio_ends_in_a_failed_track_with_its_code,
    a_failed_track_is_stored_failed_and_revived_by_a_retry,
    bad_uploads_are_refused_and_leave_nothing,
);

mod analysis;
mod on_demand;
mod originals;

/// Largest upload the test API takes.
const MAX_UPLOAD: u64 = 4 << 20;

/// An app that takes uploads of up to [`MAX_UPLOAD`] bytes.
async fn track_app(app: &TestApp) -> TestApp {
    let api = ApiSettings {
        max_upload_bytes: MAX_UPLOAD,
        ..super::api_settings()
    };
    let (fleet, worker) = (super::fleet_settings(), super::worker_settings());
    TestApp::with(app.stores.clone(), app.clock.clone(), api, fleet, worker).await
}

/// Runs ffmpeg with `args` (inputs and filters), writing `name` in `dir`.
fn ffmpeg(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
    out
}

/// A 6 s stereo MP3 with tags and a PNG cover.
fn tagged_mp3(dir: &Path) -> PathBuf {
    let cover = ffmpeg(
        dir,
        "cover.png",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=32x32:d=1",
            "-frames:v",
            "1",
        ],
    );
    let cover = cover.to_str().unwrap();
    ffmpeg(
        dir,
        "song.mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=f=220:d=6:sample_rate=44100",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=c=pink:d=6:a=0.05:r=44100",
            "-i",
            cover,
            "-filter_complex",
            "[0][1]amix=inputs=2,aformat=channel_layouts=stereo[a]",
            "-map",
            "[a]",
            "-map",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
            "-c:v",
            "png",
            "-id3v2_version",
            "3",
            "-metadata",
            "title=Night Drive",
            "-metadata",
            "artist=The Testers",
            "-metadata:s:v",
            "comment=Cover (front)",
            "-disposition:v",
            "attached_pic",
        ],
    )
}

/// A short stereo tone of `seconds` encoded by `codec` into `name`.
fn tone(dir: &Path, name: &str, seconds: &str, codec: &[&str]) -> PathBuf {
    let source = format!("sine=f=440:d={seconds}:sample_rate=44100");
    let mut args = vec!["-f", "lavfi", "-i", &source, "-ac", "2"];
    args.extend_from_slice(codec);
    ffmpeg(dir, name, &args)
}

/// The kinds of a track answer's jobs, in order.
fn job_kinds(track: &Value) -> Vec<&str> {
    let jobs = track["jobs"].as_array().unwrap();
    jobs.iter().map(|j| j["kind"].as_str().unwrap()).collect()
}

fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}", path.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

impl TestApp {
    /// Posts `body` as a raw upload with `content_type`.
    async fn upload_raw(
        &self,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let req = self
            .client
            .post(format!("/v1/uploads{query}"))
            .header("Authorization", self.bearer())
            .content_type(content_type)
            .body(body);
        read(req.send().await).await
    }

    /// Runs the track's jobs to their end; answers the track.
    async fn settled_track(&self, id: &str) -> Value {
        self.run_due().await;
        let (status, track) = self.get(&format!("/v1/tracks/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{track}");
        let state = track["state"].as_str().unwrap();
        assert!(["ready", "failed"].contains(&state), "{track}");
        track
    }

    /// Uploads `file` raw and waits for its track to settle.
    async fn track_of(&self, file: &Path, query: &str) -> Value {
        let body = std::fs::read(file).unwrap();
        let (status, accepted) = self.upload_raw(query, "audio/mpeg", body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["state"], "processing");
        self.settled_track(accepted["track_id"].as_str().unwrap())
            .await
    }

    /// Fetches a URL of a track answer: presigned S3 URLs over HTTP, the
    /// API's own URLs through the app, both without the API key.
    async fn fetch(&self, url: &str) -> (StatusCode, Vec<u8>) {
        if url.starts_with("http") {
            let resp = reqwest::get(url).await.unwrap();
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            return (status, resp.bytes().await.unwrap().to_vec());
        }
        let resp = self.client.get(url).send().await;
        let status = resp.0.status();
        (
            status,
            resp.0.into_body().into_bytes().await.unwrap().to_vec(),
        )
    }

    /// PUTs `body` to a presigned upload URL.
    async fn put(&self, url: &str, body: Vec<u8>) -> StatusCode {
        if url.starts_with("http") {
            let resp = reqwest::Client::new()
                .put(url)
                .body(body)
                .send()
                .await
                .unwrap();
            return StatusCode::from_u16(resp.status().as_u16()).unwrap();
        }
        self.client.put(url).body(body).send().await.0.status()
    }
}

async fn an_upload_becomes_a_ready_track_with_playable_outputs(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let song = tagged_mp3(dir.path());
    let follow = "{\"op\":\"follow\",\"from\":\"fan\",\"to\":\"artist-7\"}\n";
    let req = app
        .client
        .post("/v1/graph")
        .header("Authorization", app.bearer());
    let followed = read(
        req.content_type("application/x-ndjson")
            .body(follow)
            .send()
            .await,
    )
    .await;
    assert_eq!(followed.0, StatusCode::OK, "{}", followed.1);
    let track = app
        .track_of(&song, "?title=Upload%20title&owner_id=artist-7")
        .await;
    assert_eq!(track["state"], "ready", "{track}");
    // A ready track with an owner reaches the owner's followers' feeds.
    app.run_due().await;
    let (_, feed) = app.get("/v1/feeds/fan").await;
    let item = &feed["items"][0];
    assert_eq!(
        (&item["verb"], &item["object_type"]),
        (&json!("publish"), &json!("track")),
        "{feed}"
    );
    assert_eq!(item["object_id"], track["track_id"]);
    assert_eq!(item["actor_id"], "artist-7");
    assert_eq!(item["data"]["title"], "Upload title");
    assert_eq!(track["progress"], 1.0);
    assert_eq!(track["title"], "Upload title");
    assert_eq!(track["owner_id"], "artist-7");

    let m = &track["metadata"];
    assert_eq!(
        (m["container"].as_str(), m["codec"].as_str()),
        (Some("mp3"), Some("mp3"))
    );
    assert_eq!(
        (m["sample_rate"].as_u64(), m["channels"].as_u64()),
        (Some(44100), Some(2))
    );
    let duration = m["duration_ms"].as_u64().unwrap();
    assert!((5900..=6100).contains(&duration), "{m}");
    let bytes = std::fs::read(&song).unwrap();
    assert_eq!(m["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(m["size_bytes"], bytes.len() as u64);
    assert_eq!(m["tags"]["title"], "Night Drive");
    assert_eq!(m["tags"]["artist"], "The Testers");
    let (status, cover) = app.fetch(m["cover_url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cover.starts_with(b"\x89PNG"), "the cover is the PNG");

    let loudness = &track["loudness"];
    let lufs = loudness["integrated_lufs"].as_f64().unwrap();
    assert!((-40.0..-5.0).contains(&lufs), "{loudness}");
    assert!(
        loudness["true_peak_dbtp"].as_f64().unwrap() < 1.0,
        "{loudness}"
    );
    let gain = loudness["replaygain_track_gain_db"].as_f64().unwrap();
    assert!((gain - (-18.0 - lufs)).abs() < 0.01, "{loudness}");

    let outputs = track["outputs"].as_array().unwrap();
    let presets: Vec<&str> = outputs
        .iter()
        .map(|o| o["preset"].as_str().unwrap())
        .collect();
    assert_eq!(
        presets,
        ["mp3_128", "aac_hls_160", "opus_64", "preview_mp3"]
    );
    for output in outputs {
        check_output(&app, output, dir.path()).await;
    }
    check_waveform(&app, &track["waveform"]).await;
    assert_eq!(job_kinds(&track), ["ingest", "transcode"]);

    let (status, other) = app
        .get(&format!(
            "/v1/tracks/{}",
            track["track_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let stranger = app.again().await;
    let (status, body) = stranger
        .get(&format!(
            "/v1/tracks/{}",
            other["track_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    app.stop().await;
}

/// The waveform: an 8-bit mono `.dat` per peaks.js zoom, the finest also as
/// JSON, and the list-view summary.
async fn check_waveform(app: &TestApp, waveform: &Value) {
    let levels = waveform["levels"].as_array().unwrap();
    let zooms: Vec<u64> = levels.iter().map(|l| l["zoom"].as_u64().unwrap()).collect();
    assert_eq!(zooms, [512, 1024, 2048, 4096]);
    for level in levels {
        let (status, dat) = app.fetch(level["dat_url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let field = |i: usize| u32::from_le_bytes(dat[i * 4..i * 4 + 4].try_into().unwrap());
        // version 1, 8-bit flag, 44.1 kHz, the zoom, ceil(6 s of frames / zoom) pixels.
        let zoom = level["zoom"].as_u64().unwrap() as u32;
        let pixels = (6 * 44_100_u32).div_ceil(zoom);
        assert_eq!(
            [field(0), field(1), field(2), field(3)],
            [1, 1, 44_100, zoom]
        );
        assert!(
            field(4).abs_diff(pixels) <= 1,
            "{} pixels at {zoom}",
            field(4)
        );
        assert_eq!(dat.len(), 20 + 2 * field(4) as usize);
    }
    let (status, json) = app.fetch(waveform["json_url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        (json["bits"].as_u64(), json["samples_per_pixel"].as_u64()),
        (Some(8), Some(512))
    );
    let summary = waveform["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 1800);
    assert!(
        summary
            .iter()
            .all(|p| (0.0..=1.0).contains(&p.as_f64().unwrap()))
    );
}

/// Downloads an output through its URL and checks it with ffprobe.
async fn check_output(app: &TestApp, output: &Value, dir: &Path) {
    let preset = output["preset"].as_str().unwrap();
    let (status, body) = app.fetch(output["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{output}");
    let (file, codec) = match preset {
        "aac_hls_160" => {
            let playlist = String::from_utf8(body).unwrap();
            assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
            let segment = playlist
                .lines()
                .find(|l| !l.starts_with('#') && !l.is_empty())
                .unwrap();
            let url = if segment.starts_with("http") {
                segment.to_owned()
            } else {
                let base = output["url"].as_str().unwrap().split('?').next().unwrap();
                format!("{}/{segment}", base.rsplit_once('/').unwrap().0)
            };
            let (status, bytes) = app.fetch(&url).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let path = dir.join("segment.ts");
            std::fs::write(&path, bytes).unwrap();
            (path, "aac")
        }
        other => {
            let path = dir.join(format!("{other}.out"));
            std::fs::write(&path, &body).unwrap();
            assert_eq!(output["size_bytes"], body.len() as u64, "{output}");
            (path, output["codec"].as_str().unwrap())
        }
    };
    let probe = ffprobe(&file);
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], codec, "{preset}: {probe}");
    assert_eq!(
        stream["sample_rate"].as_str().unwrap(),
        output["sample_rate"].as_u64().unwrap().to_string()
    );
    // The source is 6 s: shorter than the preview's 30 s, so all last 6 s.
    let duration = output["duration_ms"].as_u64().unwrap();
    assert!(duration.abs_diff(6000) <= 50, "{preset}: {duration} ms");
}

async fn multipart_and_presigned_uploads_land_the_same_way(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone(dir.path(), "tone.wav", "3", &[]);
    let form = TestForm::new()
        .text("presets", "mp3_128")
        .field(
            TestFormField::bytes(std::fs::read(&wav).unwrap())
                .name("file")
                .filename("tone.wav"),
        )
        .text("title", "Form upload");
    let resp = app
        .client
        .post("/v1/uploads")
        .header("Authorization", app.bearer())
        .multipart(form)
        .send()
        .await;
    let (status, accepted) = read(resp).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let track = app
        .settled_track(accepted["track_id"].as_str().unwrap())
        .await;
    assert_eq!(track["state"], "ready", "{track}");
    assert_eq!(track["title"], "Form upload");
    assert_eq!(track["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(track["metadata"]["codec"], "pcm");

    let (status, presigned) = app
        .post("/v1/uploads/presign?presets=opus_64", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{presigned}");
    let id = presigned["upload_id"].as_str().unwrap();
    let complete = presigned["complete_url"].as_str().unwrap().to_owned();
    let (status, early) = app.post(&complete, Value::Null).await;
    assert_eq!(
        (status, error_code(&early)),
        (StatusCode::CONFLICT, "upload_missing")
    );
    let (_, waiting) = app.get(&format!("/v1/tracks/{id}")).await;
    assert_eq!(waiting["state"], "uploaded");
    let put_url = presigned["put_url"].as_str().unwrap();
    assert_eq!(
        app.put(put_url, std::fs::read(&wav).unwrap()).await,
        StatusCode::OK
    );
    let (status, first) = app.post(&complete, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again) = app.post(&complete, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(
        first["job_id"], again["job_id"],
        "completing twice starts one ingest"
    );
    let track = app.settled_track(id).await;
    assert_eq!(track["state"], "ready", "{track}");
    assert_eq!(track["outputs"][0]["codec"], "opus");
    assert_eq!(track["outputs"][0]["sample_rate"], 48000);

    // A signed URL opens nothing else, and a tampered one nothing at all.
    let tampered = put_url.replace("sig=", "sig=0");
    if !tampered.starts_with("http") {
        assert_eq!(
            app.put(&tampered, b"x".to_vec()).await,
            StatusCode::FORBIDDEN
        );
    }
    app.stop().await;
}

async fn bad_audio_ends_in_a_failed_track_with_its_code(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "these are lyrics, not audio\n".repeat(50)).unwrap();
    let mp3 = tone(
        dir.path(),
        "full.mp3",
        "4",
        &["-c:a", "libmp3lame", "-b:a", "128k"],
    );
    let bytes = std::fs::read(&mp3).unwrap();
    let truncated = dir.path().join("cut.mp3");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let clip = tone(dir.path(), "clip.wav", "0.1", &[]);
    let wav = std::fs::read(tone(dir.path(), "long.wav", "2", &[])).unwrap();
    let mut lying = wav.clone();
    // The data chunk claims four times the bytes that follow.
    let data = lying.windows(4).position(|w| w == b"data").unwrap();
    let claimed = (wav.len() as u32 - data as u32 - 8) * 4;
    lying[data + 4..data + 8].copy_from_slice(&claimed.to_le_bytes());
    let lying_path = dir.path().join("lying.wav");
    std::fs::write(&lying_path, lying).unwrap();
    let aac = tone(dir.path(), "aac.adts", "2", &["-c:a", "aac", "-f", "adts"]);
    let aac_named_mp3 = dir.path().join("really-aac.mp3");
    std::fs::rename(&aac, &aac_named_mp3).unwrap();

    // The first and the last track also report their end.
    let receiver = Receiver::start(0).await;
    let reported = format!("?presets=mp3_128&callback_url={}", receiver.url);
    for (file, code, query) in [
        (&text, "unsupported_format", reported.as_str()),
        (&truncated, "corrupt_audio", "?presets=mp3_128"),
        (&clip, "too_short", "?presets=mp3_128"),
        (&lying_path, "corrupt_audio", "?presets=mp3_128"),
    ] {
        let track = app.track_of(file, query).await;
        assert_eq!(track["state"], "failed", "{}: {track}", file.display());
        assert_eq!(track["error"]["code"], code, "{}: {track}", file.display());
        assert!(track["outputs"].as_array().unwrap().is_empty());
    }
    let track = app.track_of(&aac_named_mp3, &reported).await;
    assert_eq!(track["state"], "ready", "{track}");
    assert_eq!(track["metadata"]["codec"], "aac");

    let events: Vec<Value> = receiver.posts().iter().map(|p| p.json()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let failed = events.iter().find(|e| e["event"] == "track.failed");
    let failed = failed.unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(failed["error"]["code"], "unsupported_format", "{failed}");
    let ready = events.iter().find(|e| e["event"] == "track.ready");
    let ready = ready.unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(ready["track_id"], track["track_id"]);
    assert_eq!(
        ready["status_url"],
        format!("/v1/tracks/{}", track["track_id"].as_str().unwrap())
    );
    app.stop().await;
}

async fn a_failed_track_is_stored_failed_and_revived_by_a_retry(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone(dir.path(), "tone.wav", "2", &[])).unwrap();
    let (status, accepted) = app.upload_raw("?presets=mp3_128", "audio/wav", wav).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let (track, ingest) = (
        accepted["track_id"].as_str().unwrap(),
        accepted["job_id"].as_str().unwrap(),
    );

    // Cancelled before it ran: the track ends failed, and is stored so.
    let (status, _) = app
        .post(&format!("/v1/jobs/{ingest}/cancel"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = app.settled_track(track).await;
    assert_eq!(
        (failed["state"].as_str(), failed["error"]["code"].as_str()),
        (Some("failed"), Some("cancelled")),
        "{failed}"
    );
    let id = mixdown_jobs::ids::TrackId::parse(track).unwrap();
    let stored = app
        .stores
        .db
        .tracks
        .get(app.tenant, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, mixdown_jobs::tracks::TrackState::Failed);
    assert_eq!(stored.error.map(|e| e.code.as_str()), Some("cancelled"));

    // Retrying the cancelled job reopens the track, which then gets ready.
    let (status, job) = app
        .post(&format!("/v1/jobs/{ingest}/retry"), Value::Null)
        .await;
    assert_eq!(
        (status, job["state"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    let (_, reopened) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(reopened["state"], "processing", "{reopened}");
    assert!(reopened["error"].is_null(), "{reopened}");
    assert_eq!(reopened["progress"], 0.0, "{reopened}");
    let ready = app.settled_track(track).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    assert_eq!(ready["progress"], 1.0);
    assert_eq!(job_kinds(&ready), ["ingest", "transcode"]);
    app.stop().await;
}

async fn bad_uploads_are_refused_and_leave_nothing(app: &TestApp) {
    let app = track_app(app).await;
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 5] = [
        (
            "",
            "audio/wav",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_audio",
        ),
        (
            "",
            "text/plain",
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "?presets=flac_9000",
            "audio/wav",
            b"RIFF".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_presets",
        ),
        (
            "?callback_url=ftp://x",
            "audio/wav",
            b"RIFF".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "",
            "audio/wav",
            vec![7; MAX_UPLOAD as usize + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (query, content_type, body, status, code) in cases {
        let (got, answer) = app.upload_raw(query, content_type, body).await;
        assert_eq!(
            (got, error_code(&answer)),
            (status, code),
            "{query} {content_type}: {answer}"
        );
    }
    let (status, _) = app.get("/v1/tracks/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = uuid_like();
    let (status, _) = app
        .post(&format!("/v1/uploads/{unknown}/complete"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/files/tracks/x/original?expires=99999999999&sig=00")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let filter = mixdown_jobs::model::JobFilter {
        limit: 10,
        ..Default::default()
    };
    let listed = app.stores.db.jobs.list(app.tenant, &filter).await.unwrap();
    assert!(listed.is_empty(), "a refused upload made a job");
    app.stop().await;
}

fn uuid_like() -> String {
    mixdown_jobs::ids::TrackId::new().to_string()
}
