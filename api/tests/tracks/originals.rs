//! An original is what was accepted, and stays so: a presigned URL reaches
//! nothing once its upload is completed, and workers refuse an original
//! whose size or SHA-256 is not what the upload and ingest recorded.

use std::time::Duration;

use bytes::Bytes;
use mixdown_jobs::{
    ids::TrackId,
    tracks::{original_key, upload_key},
};
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, tone, track_app};

both_modes!(
    a_put_after_completion_changes_nothing_a_worker_reads,
    an_original_changed_after_its_upload_fails_its_job,
);

async fn a_put_after_completion_changes_nothing_a_worker_reads(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let first = std::fs::read(tone(dir.path(), "first.wav", "3", &[])).unwrap();
    let late = std::fs::read(tone(dir.path(), "late.wav", "5", &[])).unwrap();
    let (status, presigned) = app
        .post("/v1/uploads/presign?presets=mp3_128", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{presigned}");
    let id = presigned["upload_id"].as_str().unwrap();
    let put_url = presigned["put_url"].as_str().unwrap();
    assert_eq!(app.put(put_url, first.clone()).await, StatusCode::OK);
    let complete = presigned["complete_url"].as_str().unwrap();
    let (status, accepted) = app.post(complete, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");

    // The URL still signs, but what it stores is read by nobody.
    assert_eq!(app.put(put_url, late).await, StatusCode::OK);
    let track_id = TrackId::parse(id).unwrap();
    let late_key = upload_key(app.tenant, track_id);
    let objects = &app.stores.objects;
    assert!(objects.size(&late_key).await.unwrap().is_some());
    let track = app.settled_track(id).await;
    assert_eq!(track["state"], "ready", "{track}");
    let metadata = &track["metadata"];
    assert_eq!(metadata["size_bytes"], first.len() as u64, "{track}");
    assert_eq!(metadata["duration_ms"], 3000, "{track}");
    let (status, again) = app.post(complete, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["job_id"], accepted["job_id"]);

    // The janitor's next sweep, in the worker's next reconciler pass.
    app.advance(Duration::from_secs(61));
    app.run_due().await;
    assert_eq!(
        objects.size(&late_key).await.unwrap(),
        None,
        "late file kept"
    );
    let original = objects.get_bytes(&original_key(app.tenant, track_id)).await;
    assert_eq!(original.unwrap(), first, "the original is the first file");
    app.stop().await;
}

async fn an_original_changed_after_its_upload_fails_its_job(app: &TestApp) {
    let app = track_app(app).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone(dir.path(), "tone.wav", "3", &[])).unwrap();
    let other = std::fs::read(tone(dir.path(), "other.wav", "4", &[])).unwrap();

    // Another size before ingest: the size the upload was accepted with.
    let (status, accepted) = app
        .upload_raw("?presets=mp3_128", "audio/wav", wav.clone())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = TrackId::parse(accepted["track_id"].as_str().unwrap()).unwrap();
    let key = original_key(app.tenant, id);
    app.stores
        .objects
        .put_bytes(&key, Bytes::from(other))
        .await
        .unwrap();
    let track = app.settled_track(&id.to_string()).await;
    assert_eq!(track["state"], "failed", "{track}");
    assert_eq!(track["error"]["code"], "original_changed", "{track}");
    assert!(track["outputs"].as_array().unwrap().is_empty(), "{track}");

    // The same size, other bytes, after ingest described it: its SHA-256.
    let track = app.track_of_bytes(&wav).await;
    let id = TrackId::parse(track["track_id"].as_str().unwrap()).unwrap();
    let mut flipped = wav.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let key = original_key(app.tenant, id);
    app.stores
        .objects
        .put_bytes(&key, Bytes::from(flipped))
        .await
        .unwrap();
    let payload = json!({"track_id": id.to_string(), "presets": ["opus_64"]});
    let job = app
        .submit(json!({"kind": "transcode", "payload": payload}))
        .await;
    app.run_due().await;
    let job = app.job(&job).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "original_changed", "{job}");
    let (_, track) = app.get(&format!("/v1/tracks/{id}")).await;
    assert_eq!(track["outputs"].as_array().unwrap().len(), 1, "{track}");
    app.stop().await;
}

impl TestApp {
    /// Uploads `body` raw as a WAV and runs its track until ready.
    async fn track_of_bytes(&self, body: &[u8]) -> Value {
        let (status, accepted) = self
            .upload_raw("?presets=mp3_128", "audio/wav", body.to_vec())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let track = self
            .settled_track(accepted["track_id"].as_str().unwrap())
            .await;
        assert_eq!(track["state"], "ready", "{track}");
        track
    }
}
