//! A drain past its deadline with blocking work in flight: a worker
//! SIGTERMed mid-transcode exits soon after its drain deadline, its encode
//! stopped and its attempt handed back, not left to end beside the next one.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::harness::{Fleet, FleetOptions};

const DRAIN: Duration = Duration::from_millis(1000);

/// Three hours of a quiet tone at a low rate: small to upload, minutes to
/// transcode into every preset.
fn long_mp3(dir: &Path) -> Vec<u8> {
    let path = dir.join("long.mp3");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("sine=f=220:d=10800:sample_rate=8000")
        .args(["-ac", "1", "-b:a", "8k", "-y"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(path).unwrap()
}

fn transcode_running(track: &Value) -> bool {
    track["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|j| j["kind"] == "transcode" && j["state"] == "running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_transcode_stops_encoding_at_its_drain_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let body = long_mp3(dir.path());
    let options = FleetOptions {
        workers: 1,
        env: vec![("MIXDOWN_DRAIN_TIMEOUT_MS", DRAIN.as_millis().to_string())],
        ..Default::default()
    };
    let mut fleet = Fleet::start(options).await;
    let client = fleet.client().clone();
    let resp = client
        .http
        .post(format!("{}/v1/uploads", client.base))
        .bearer_auth(&client.key)
        .header("content-type", "audio/mpeg")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let accepted: Value = resp.json().await.unwrap();
    let track = format!("/v1/tracks/{}", accepted["track_id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !transcode_running(&client.get(&track).await) {
        assert!(Instant::now() < deadline, "{}", client.get(&track).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut worker = fleet.workers.remove(0);
    worker.proc.signal_term();
    let stopped = Instant::now();
    let exit = worker.proc.wait_exit(DRAIN + Duration::from_secs(10)).await;
    eprintln!("the worker exited {:?} after SIGTERM", stopped.elapsed());
    assert!(exit.success(), "{exit}");
    let jobs = client.get(&track).await["jobs"].clone();
    let transcode = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "transcode")
        .unwrap();
    assert_eq!(transcode["state"], "queued", "handed back: {jobs}");
    fleet.stop().await;
}
