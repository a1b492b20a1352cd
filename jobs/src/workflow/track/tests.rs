use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::{
    ids::{JobId, TenantId, TrackId},
    model::Priority,
    tracks::{LoudnessRecord, OutputRecord, TrackMetadata, TrackPresets, WaveformRecord},
};

fn job(kind: JobKind, state: JobState, result: Option<Value>) -> Job {
    let t = Timestamp::from_millis(1_800_000_000_000);
    Job {
        id: JobId::new(),
        tenant_id: TenantId::new(),
        kind,
        payload: Value::Null,
        state,
        priority: Priority::default(),
        attempts: 1,
        max_attempts: 3,
        progress: 0.0,
        run_at: t,
        created_at: t,
        started_at: Some(t),
        finished_at: state.is_final().then_some(t),
        result,
        error: (state == JobState::Failed)
            .then(|| JobError::new(ErrorCode::CorruptAudio, "cut short")),
        parent_id: None,
        callback_url: None,
        callback_job_id: None,
        cancel_requested: false,
        schedule: None,
    }
}

fn ingested(track: TrackId) -> Value {
    let metadata = TrackMetadata {
        container: "wav".into(),
        codec: "pcm".into(),
        duration_ms: 1000,
        sample_rate: 44_100,
        channels: 2,
        bit_rate: None,
        tags: BTreeMap::new(),
        sha256: "00".repeat(32),
        size_bytes: 10,
    };
    let result = IngestResult {
        track_id: track,
        metadata,
        cover: false,
        cover_key: None,
    };
    serde_json::to_value(result).unwrap()
}

fn transcoded(presets: &[&str]) -> Value {
    let key = |name: &str| crate::objects::ObjectKey::new(format!("t/{name}")).unwrap();
    let outputs = presets
        .iter()
        .map(|p| OutputRecord {
            preset: (*p).into(),
            mime: "audio/mpeg".into(),
            codec: "mp3".into(),
            bit_rate: 128_000,
            sample_rate: 44_100,
            channels: 2,
            duration_ms: 1000,
            main: key(p),
            files: vec![key(p)],
            size_bytes: 100,
        })
        .collect();
    let made = TrackResult {
        loudness: LoudnessRecord {
            integrated_lufs: Some(-14.0),
            true_peak_dbtp: Some(-1.0),
            lra_lu: 5.0,
            replaygain_track_gain_db: Some(-4.0),
        },
        outputs,
        waveform: WaveformRecord {
            levels: Vec::new(),
            json: key("w.json"),
            summary: vec![0.5],
        },
        analysis: None,
    };
    serde_json::to_value(TranscodeResult {
        made,
        audio_seconds: 1.0,
    })
    .unwrap()
}

#[test]
fn a_track_starts_with_its_ingest_and_reports_to_its_callback() {
    let track = NewTrack {
        id: TrackId::new(),
        tenant_id: TenantId::new(),
        title: None,
        owner_id: None,
        callback_url: Some("https://example.test/hook".into()),
        presets: TrackPresets::new(mixdown_media::transcode::default_presets()).unwrap(),
    };
    let start = start(&track);
    assert_eq!(start.parent.payload.kind(), JobKind::Track);
    assert_eq!(start.parent.callback_url, track.callback_url);
    assert_eq!(start.children.len(), 1);
    assert_eq!(start.children[0].payload.kind(), JobKind::Ingest);
    // Ingest done and nothing else is a twentieth of the planned work.
    assert_eq!(start.children[0].weight.get() / start.planned.get(), 0.05);
}

#[test]
fn a_described_track_is_transcoded_next() {
    let track = TrackId::new();
    let ingest = job(JobKind::Ingest, JobState::Succeeded, Some(ingested(track)));
    let Decision::Transcode(described, child) = decide(&[ingest], false) else {
        panic!("ingest passed, so transcode follows");
    };
    assert_eq!(described.track_id, track);
    assert_eq!(
        child.payload,
        JobPayload::Transcode(TranscodePayload::Workflow(TrackPayload { track_id: track }))
    );
    assert_eq!(child.weight.get() + INGEST.get(), PLANNED.get());
}

#[test]
fn a_track_is_ready_with_every_transcodes_outputs_in_order() {
    let track = TrackId::new();
    let children = [
        job(JobKind::Ingest, JobState::Succeeded, Some(ingested(track))),
        job(
            JobKind::Transcode,
            JobState::Succeeded,
            Some(transcoded(&["a", "b"])),
        ),
        job(
            JobKind::Transcode,
            JobState::Succeeded,
            Some(transcoded(&["c"])),
        ),
    ];
    let Decision::Ready(made) = decide(&children, false) else {
        panic!("every job ended well");
    };
    let presets: Vec<&str> = made.outputs.iter().map(|o| o.preset.as_str()).collect();
    assert_eq!(presets, ["a", "b", "c"]);
}

#[test]
fn the_first_job_to_fail_fails_the_track_with_its_error() {
    let failed = job(JobKind::Ingest, JobState::Failed, None);
    assert_eq!(
        decide(std::slice::from_ref(&failed), false),
        Decision::Failed(failed.error.unwrap())
    );
    let track = TrackId::new();
    let children = [
        job(JobKind::Ingest, JobState::Succeeded, Some(ingested(track))),
        job(JobKind::Transcode, JobState::Cancelled, None),
    ];
    let Decision::Failed(error) = decide(&children, false) else {
        panic!("a cancelled transcode fails the track");
    };
    assert_eq!(error.code, ErrorCode::Cancelled);
}

#[test]
fn a_child_sent_back_to_the_queue_is_waited_for_and_a_cancel_wins() {
    let queued = job(JobKind::Transcode, JobState::Queued, None);
    assert_eq!(decide(std::slice::from_ref(&queued), false), Decision::Wait);
    assert_eq!(decide(&[queued], true), Decision::Cancelled);
}

#[test]
fn an_unreadable_result_fails_the_track_as_mixdowns_fault() {
    let ingest = job(JobKind::Ingest, JobState::Succeeded, Some(Value::Null));
    let Decision::Failed(error) = decide(&[ingest], false) else {
        panic!("no result to describe the track with");
    };
    assert_eq!(error.code, ErrorCode::InternalError);
}
