//! Work made from a ready track on demand: renditions added to its outputs
//! (`transcode` through `POST /v1/jobs`, and `POST /v1/tracks/{id}/renditions`)
//! and waveform files, fetched through the URLs the answers give.

use std::path::Path;

use mixdown_api::ApiSettings;
use mixdown_jobs::tracks::PresetsFile;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, check_output, error_code, tone, track_app};

both_modes!(
    renditions_are_added_to_a_ready_track_once_each,
    waveform_files_of_a_ready_track_are_drawn_as_asked,
    on_demand_jobs_need_the_tenants_own_ready_track_and_known_options,
    a_failed_rendition_leaves_the_track_ready,
);

/// The preset names of a track answer's outputs, in order.
fn output_presets(track: &Value) -> Vec<&str> {
    let outputs = track["outputs"].as_array().unwrap();
    outputs
        .iter()
        .map(|o| o["preset"].as_str().unwrap())
        .collect()
}

impl TestApp {
    /// A ready track of a 6 s stereo WAV with `presets`; answers its id.
    async fn ready_track(&self, dir: &Path, presets: &str) -> String {
        let wav = tone(dir, "tone.wav", "6", &[]);
        let track = self.track_of(&wav, &format!("?presets={presets}")).await;
        assert_eq!(track["state"], "ready", "{track}");
        track["track_id"].as_str().unwrap().to_owned()
    }

    /// Runs what is due, then reads job `id`, which must have succeeded.
    async fn succeeded(&self, id: &str) -> Value {
        self.run_due().await;
        let job = self.job(id).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        job
    }

    /// Draws a waveform of `track` with `options`; answers the job and the file.
    async fn waveform(&self, track: &str, options: Value) -> (Value, Vec<u8>) {
        let mut payload = json!({ "track_id": track });
        payload
            .as_object_mut()
            .unwrap()
            .extend(options.as_object().unwrap().clone());
        let id = self
            .submit(json!({"kind": "waveform", "payload": payload}))
            .await;
        let job = self.succeeded(&id).await;
        let result = &job["result"];
        assert!(result.get("key").is_none(), "{job}");
        let (status, body) = self.fetch(result["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        assert_eq!(result["bytes"], body.len() as u64, "{job}");
        (job, body)
    }
}

async fn renditions_are_added_to_a_ready_track_once_each(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let track = app.ready_track(dir.path(), "mp3_128").await;

    let payload = json!({"track_id": track, "presets": ["opus_64", "mp3_128"]});
    let id = app
        .submit(json!({"kind": "transcode", "payload": payload}))
        .await;
    let (_, waiting) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(waiting["state"], "ready", "ready while renditions are made");
    let job = app.succeeded(&id).await;
    assert_eq!(job["result"]["added"], json!(["opus_64"]), "{job}");
    assert_eq!(job["result"]["skipped"], json!(["mp3_128"]), "{job}");
    assert_eq!(
        job["payload"]["presets"][0]["codec"], "opus",
        "stored resolved"
    );
    let (_, ready) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(ready["state"], "ready");
    assert_eq!(output_presets(&ready), ["mp3_128", "opus_64"]);
    assert_eq!(
        ready["presets"],
        json!(["mp3_128"]),
        "what the upload asked"
    );
    check_output(&app, &ready["outputs"][1], dir.path()).await;

    let path = format!("/v1/tracks/{track}/renditions");
    let (status, accepted) = app.post(&path, json!({"presets": ["aac_hls_160"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["state"], "queued");
    let job = app.succeeded(accepted["job_id"].as_str().unwrap()).await;
    assert_eq!(job["kind"], "transcode");
    assert_eq!(job["result"]["added"], json!(["aac_hls_160"]), "{job}");
    let (_, ready) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(
        output_presets(&ready),
        ["mp3_128", "opus_64", "aac_hls_160"]
    );
    check_output(&app, &ready["outputs"][2], dir.path()).await;

    // Asked again, nothing is made twice; the same key answers the first job.
    let send = || {
        app.client
            .post(&path)
            .header("Authorization", app.bearer())
            .header("Idempotency-Key", "opus-again")
            .body_json(&json!({"presets": ["opus_64"]}))
            .send()
    };
    let (status, again) = super::read(send().await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let (status, same) = super::read(send().await).await;
    assert_eq!(
        (status, &same["job_id"]),
        (StatusCode::OK, &again["job_id"])
    );
    let job = app.succeeded(again["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["added"], json!([]), "{job}");
    assert_eq!(job["result"]["skipped"], json!(["opus_64"]), "{job}");
    let (_, same) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(output_presets(&same).len(), 3);
    app.stop().await;
}

async fn waveform_files_of_a_ready_track_are_drawn_as_asked(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let track = app.ready_track(dir.path(), "mp3_128").await;

    let options = json!({"format": "png", "width": 640, "height": 120, "style": "bars",
        "waveform_color": "FF0000"});
    let (job, png) = app.waveform(&track, options).await;
    assert_eq!(job["result"]["content_type"], "image/png");
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (640, 120));

    let options = json!({"format": "json", "zoom": 512, "bits": 8});
    let (job, json) = app.waveform(&track, options).await;
    assert_eq!(job["result"]["content_type"], "application/json");
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        (json["bits"].as_u64(), json["samples_per_pixel"].as_u64()),
        (Some(8), Some(512))
    );
    assert_eq!(json["sample_rate"], 44_100);
    let pixels = (6 * 44_100_u64).div_ceil(512);
    assert_eq!(json["length"].as_u64(), Some(pixels), "{json}");
    assert_eq!(json["data"].as_array().unwrap().len() as u64, 2 * pixels);

    // A job read later, or listed, leads to its file as well.
    let (_, listed) = app.get("/v1/jobs?kind=waveform").await;
    let url = listed["jobs"][0]["result"]["url"].as_str().unwrap();
    assert_eq!(app.fetch(url).await.0, StatusCode::OK);
    app.stop().await;
}

async fn on_demand_jobs_need_the_tenants_own_ready_track_and_known_options(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let track = app.ready_track(dir.path(), "mp3_128").await;
    let renditions = format!("/v1/tracks/{track}/renditions");
    let transcode = |presets: Value| json!({"kind": "transcode", "payload": {"track_id": track, "presets": presets}});
    let waveform = |options: Value| {
        let mut payload = json!({ "track_id": track });
        let fields = options.as_object().unwrap().clone();
        payload.as_object_mut().unwrap().extend(fields);
        json!({"kind": "waveform", "payload": payload})
    };

    let stranger = app.again().await;
    for body in [
        transcode(json!(["opus_64"])),
        waveform(json!({"format": "png"})),
    ] {
        let (status, v) = stranger.post("/v1/jobs", body.clone()).await;
        assert_eq!(
            (status, error_code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{body}"
        );
    }
    let (status, v) = stranger
        .post(&renditions, json!({"presets": ["opus_64"]}))
        .await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );
    let unknown = format!("/v1/tracks/{}/renditions", super::uuid_like());
    let (status, _) = app.post(&unknown, json!({"presets": ["opus_64"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let refused = [
        (
            transcode(json!(["opus_64", "flac_9000"])),
            "invalid_presets",
            "payload.presets[1]",
        ),
        (transcode(json!([])), "invalid_presets", "payload.presets"),
        (
            transcode(json!("opus_64")),
            "invalid_payload",
            "payload.presets",
        ),
        (
            waveform(json!({"format": "gif"})),
            "invalid_payload",
            "payload.format",
        ),
        (
            waveform(json!({"format": "png", "width": 100_000})),
            "invalid_payload",
            "payload.width",
        ),
        (
            waveform(json!({"format": "png", "height": 0})),
            "invalid_payload",
            "payload.height",
        ),
        (
            waveform(json!({"format": "dat", "zoom": 2, "pixels_per_second": 5})),
            "invalid_payload",
            "payload.pixels_per_second",
        ),
        (
            waveform(json!({"format": "json", "pixels_per_second": 30000})),
            "invalid_payload",
            "payload.pixels_per_second",
        ),
        (
            waveform(json!({"format": "png", "colour": "red"})),
            "invalid_payload",
            "payload.colour",
        ),
    ];
    for (body, code, field) in refused {
        let (status, v) = app.post("/v1/jobs", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(
            (error_code(&v), v["error"]["field"].as_str()),
            (code, Some(field)),
            "{body} → {v}"
        );
    }
    let (status, v) = app.post(&renditions, json!({"presets": ["nope"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "presets[0]", "{v}");

    // A track still processing makes nothing yet.
    let wav = std::fs::read(tone(dir.path(), "later.wav", "2", &[])).unwrap();
    let (status, accepted) = app.upload_raw("?presets=mp3_128", "audio/wav", wav).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let busy = accepted["track_id"].as_str().unwrap();
    let not_ready = [
        json!({"kind": "transcode", "payload": {"track_id": busy, "presets": ["opus_64"]}}),
        json!({"kind": "waveform", "payload": {"track_id": busy, "format": "png"}}),
    ];
    for body in not_ready {
        let (status, v) = app.post("/v1/jobs", body.clone()).await;
        assert_eq!(
            (status, error_code(&v)),
            (StatusCode::CONFLICT, "track_not_ready"),
            "{body}"
        );
    }
    let path = format!("/v1/tracks/{busy}/renditions");
    let (status, v) = app.post(&path, json!({"presets": ["opus_64"]})).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::CONFLICT, "track_not_ready"),
        "{v}"
    );

    for kind in ["waveform", "transcode"] {
        let (_, page) = app.get(&format!("/v1/jobs?kind={kind}")).await;
        let made: Vec<&Value> = page["jobs"].as_array().unwrap().iter().collect();
        assert!(
            made.iter().all(|j| j["parent_id"].is_string()),
            "no refused request made a {kind} job: {page}"
        );
    }
    app.stop().await;
}

/// A catalogue with `mp3_128` and a clip that starts after a short track ends.
fn late_clip_presets(dir: &Path) -> PresetsFile {
    let path = dir.join("presets.toml");
    let text = r#"
[[preset]]
name = "mp3_128"
codec = "mp3"
container = "mp3"
bit_rate = 128000

[[preset]]
name = "late_clip"
codec = "mp3"
container = "mp3"
bit_rate = 128000
start_ms = 60000
duration_ms = 10000
"#;
    std::fs::write(&path, text).unwrap();
    PresetsFile::read(&path).unwrap()
}

async fn a_failed_rendition_leaves_the_track_ready(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let api = ApiSettings {
        max_upload_bytes: 4 << 20,
        presets_file: Some(late_clip_presets(dir.path())),
        ..crate::api_settings()
    };
    let (fleet, worker) = (crate::fleet_settings(), crate::worker_settings());
    let app = TestApp::with(app.stores.clone(), app.clock.clone(), api, fleet, worker).await;
    let track = app.ready_track(dir.path(), "mp3_128").await;
    let path = format!("/v1/tracks/{track}/renditions");
    let (status, accepted) = app.post(&path, json!({"presets": ["late_clip"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    app.run_due().await;
    let job = app.job(accepted["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "clip_outside_audio", "{job}");
    let (_, read) = app.get(&format!("/v1/tracks/{track}")).await;
    assert_eq!(read["state"], "ready", "{read}");
    assert!(read["error"].is_null(), "{read}");
    assert_eq!(output_presets(&read), ["mp3_128"]);
    app.stop().await;
}
