//! Music analysis of uploaded tracks: tempo, key and energy on the track
//! answer, a recording uploaded again in another encoding found as a
//! duplicate of the first, and `analyze` run again on demand.

use std::path::{Path, PathBuf};

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, error_code, ffmpeg, track_app};

both_modes!(
    a_recording_uploaded_again_is_a_duplicate_of_the_first,
    analyze_runs_again_on_the_tenants_own_ready_track,
);

/// 40 s of a tune at 120 BPM: a kick on every beat under a melody whose
/// notes (from a scale picked by `seed`) change every half second.
fn tune(dir: &Path, name: &str, seed: u32, codec: &[&str]) -> PathBuf {
    let melody = format!(
        "0.25*sin(2*PI*t*220*pow(2,floor(mod(floor(t*2)*{a}+{b},12))/12))",
        a = 5 + 2 * seed,
        b = seed
    );
    let kick = "0.5*exp(-30*mod(t,0.5))*sin(2*PI*60*t)";
    let source = format!("aevalsrc=exprs='{melody}+{kick}':d=40:s=44100");
    let mut args = vec!["-f", "lavfi", "-i", &source, "-ac", "2"];
    args.extend_from_slice(codec);
    ffmpeg(dir, name, &args)
}

impl TestApp {
    /// Uploads `file` with one preset; answers the ready track.
    async fn ready_upload(&self, file: &Path) -> Value {
        let track = self.track_of(file, "?presets=mp3_128").await;
        assert_eq!(track["state"], "ready", "{track}");
        track
    }
}

fn id(track: &Value) -> &str {
    track["track_id"].as_str().unwrap()
}

async fn a_recording_uploaded_again_is_a_duplicate_of_the_first(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let mp3 = tune(
        dir.path(),
        "tune.mp3",
        1,
        &["-c:a", "libmp3lame", "-b:a", "128k"],
    );
    let ogg = tune(
        dir.path(),
        "tune.ogg",
        1,
        &["-c:a", "libvorbis", "-q:a", "2", "-ar", "48000"],
    );
    let other = tune(
        dir.path(),
        "other.mp3",
        4,
        &["-c:a", "libmp3lame", "-b:a", "128k"],
    );

    let first = app.ready_upload(&mp3).await;
    let analysis = &first["analysis"];
    let bpm = analysis["tempo_bpm"].as_f64().unwrap();
    assert!((bpm - 120.0).abs() < 2.5, "{analysis}");
    assert!(analysis["key"].is_string(), "{analysis}");
    let energy = analysis["energy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&energy), "{analysis}");
    assert_eq!(analysis["fingerprint_version"], "chromaprint-2");
    assert_eq!(analysis["duplicates"], json!([]), "{analysis}");
    assert!(first["duplicate_of"].is_null(), "{first}");

    let again = app.ready_upload(&ogg).await;
    assert_eq!(again["duplicate_of"], first["track_id"], "{again}");
    let found = &again["analysis"]["duplicates"][0];
    assert_eq!(found["track_id"], first["track_id"], "{again}");
    assert!(found["overlap_seconds"].as_f64().unwrap() > 30.0, "{found}");
    assert!(
        found["offset_seconds"].as_f64().unwrap().abs() < 0.5,
        "{found}"
    );
    assert!(found["bit_error_rate"].as_f64().unwrap() < 0.2, "{found}");

    let different = app.ready_upload(&other).await;
    assert!(different["duplicate_of"].is_null(), "{different}");
    assert_eq!(different["analysis"]["duplicates"], json!([]));

    // The first learns of the later copy through its duplicates.
    let (status, listed) = app
        .get(&format!("/v1/tracks/{}/duplicates", id(&first)))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&Value> = listed["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["track_id"])
        .collect();
    assert_eq!(ids, vec![&again["track_id"]], "{listed}");
    let (_, none) = app
        .get(&format!("/v1/tracks/{}/duplicates", id(&different)))
        .await;
    assert_eq!(none["duplicates"], json!([]), "{none}");
    app.stop().await;
}

async fn analyze_runs_again_on_the_tenants_own_ready_track(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let mp3 = tune(
        dir.path(),
        "tune.mp3",
        2,
        &["-c:a", "libmp3lame", "-b:a", "128k"],
    );
    let track = app.ready_upload(&mp3).await;
    let body = json!({"kind": "analyze", "payload": {"track_id": id(&track)}});

    let stranger = app.again().await;
    let (status, v) = stranger.post("/v1/jobs", body.clone()).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );
    let duplicates = format!("/v1/tracks/{}/duplicates", id(&track));
    let (status, v) = stranger.get(&duplicates).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );

    let job = app.submit(body).await;
    app.run_due().await;
    let job = app.job(&job).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["result"]["tempo_bpm"], track["analysis"]["tempo_bpm"],
        "{job}"
    );
    assert_eq!(job["result"]["key"], track["analysis"]["key"], "{job}");
    let (_, after) = app.get(&format!("/v1/tracks/{}", id(&track))).await;
    assert_eq!(after["analysis"], track["analysis"], "{after}");

    let (status, v) = app
        .post("/v1/jobs", json!({"kind": "analyze", "payload": {}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let later = tune(dir.path(), "later.mp3", 3, &["-c:a", "libmp3lame"]);
    let later = std::fs::read(later).unwrap();
    let (status, accepted) = app
        .upload_raw("?presets=mp3_128", "audio/mpeg", later)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let busy = id(&accepted);
    let (status, v) = app
        .post(
            "/v1/jobs",
            json!({"kind": "analyze", "payload": {"track_id": busy}}),
        )
        .await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::CONFLICT, "track_not_ready"),
        "{v}"
    );
    let (status, v) = app.get(&format!("/v1/tracks/{busy}/duplicates")).await;
    assert_eq!(
        (status, error_code(&v)),
        (StatusCode::CONFLICT, "track_not_ready"),
        "{v}"
    );
    app.stop().await;
}
