//! The tracks repository contract, on Postgres and on SQLite: a track and its
//! jobs are recorded together, once, however often a step is repeated.

use std::{collections::BTreeMap, time::Duration};

use mixdown_jobs::{
    clock::ManualClock,
    db::{CompleteOutcome, Database, NewTrack},
    ids::{TenantId, TrackId},
    model::NewJob,
    payload::JobPayload,
    tracks::{
        IngestPayload, LoudnessRecord, RecordedState, TrackMetadata, TrackPresets, TrackResult,
        TranscodePayload, WaveformLevel, WaveformRecord, output_key,
    },
};
use mixdown_media::transcode::default_presets;

use crate::tenant;

contract!(
    a_track_and_its_ingest_are_recorded_together,
    ingest_records_one_transcode_job_however_often_it_runs,
    a_presigned_upload_starts_once_and_not_after_it_expires,
    a_finished_track_keeps_its_whole_result,
);

fn new_track(tenant: TenantId) -> NewTrack {
    NewTrack {
        id: TrackId::new(),
        tenant_id: tenant,
        title: Some("Song".into()),
        owner_id: None,
        callback_url: None,
        presets: TrackPresets::new(default_presets()).unwrap(),
    }
}

fn ingest(track: &NewTrack) -> NewJob {
    let payload = JobPayload::Ingest(IngestPayload { track_id: track.id });
    NewJob::with_defaults(track.tenant_id, payload)
}

fn transcode(track: &NewTrack) -> NewJob {
    let payload = JobPayload::Transcode(TranscodePayload { track_id: track.id });
    NewJob::with_defaults(track.tenant_id, payload)
}

fn metadata() -> TrackMetadata {
    TrackMetadata {
        container: "wav".into(),
        codec: "pcm".into(),
        duration_ms: 1000,
        sample_rate: 44_100,
        channels: 2,
        bit_rate: Some(1_411_200),
        tags: BTreeMap::from([("title".to_owned(), "Song".to_owned())]),
        sha256: "00".repeat(32),
        size_bytes: 176_444,
    }
}

async fn a_track_and_its_ingest_are_recorded_together(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    let (track, job) = db.tracks.create(&new, &ingest(&new)).await.unwrap();
    assert_eq!(track.state, RecordedState::Processing);
    assert_eq!(track.ingest_job_id, Some(job.id));
    assert_eq!(track.presets, new.presets);
    let read = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    assert_eq!(read.job_ids(), [job.id]);
    assert_eq!(db.tracks.jobs(&read).await.unwrap()[0].id, job.id);
    let stranger = crate::tenant(db).await;
    assert!(db.tracks.get(stranger, new.id).await.unwrap().is_none());
}

async fn ingest_records_one_transcode_job_however_often_it_runs(
    db: &Database,
    _clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    db.tracks.create(&new, &ingest(&new)).await.unwrap();
    let (first, created) = db
        .tracks
        .record_ingest(tenant, new.id, &metadata(), None, &transcode(&new))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = db
        .tracks
        .record_ingest(tenant, new.id, &metadata(), None, &transcode(&new))
        .await
        .unwrap();
    assert!(!created, "a repeated ingest makes no second transcode");
    assert_eq!(first.id, again.id);
    let track = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    assert_eq!(track.transcode_job_id, Some(first.id));
    assert_eq!(track.metadata, Some(metadata()));
    let jobs = db.tracks.jobs(&track).await.unwrap();
    assert_eq!(jobs.len(), 2, "the dropped duplicate left no job row");
}

async fn a_presigned_upload_starts_once_and_not_after_it_expires(
    db: &Database,
    clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    let expires = clock.now().plus(Duration::from_secs(60));
    let waiting = db.tracks.create_upload(&new, expires).await.unwrap();
    assert_eq!(waiting.state, RecordedState::Uploaded);
    assert!(waiting.ingest_job_id.is_none());
    let stranger = crate::tenant(db).await;
    let other = db
        .tracks
        .complete_upload(stranger, new.id, &ingest(&new))
        .await;
    assert!(matches!(other.unwrap(), CompleteOutcome::NotFound));
    let CompleteOutcome::Started(track, job) = db
        .tracks
        .complete_upload(tenant, new.id, &ingest(&new))
        .await
        .unwrap()
    else {
        panic!("the first complete starts the track");
    };
    assert_eq!(track.state, RecordedState::Processing);
    let CompleteOutcome::AlreadyStarted(_, same) = db
        .tracks
        .complete_upload(tenant, new.id, &ingest(&new))
        .await
        .unwrap()
    else {
        panic!("a second complete answers the first");
    };
    assert_eq!(same.id, job.id);

    let late = new_track(tenant);
    let past = clock.now().minus(Duration::from_secs(1));
    db.tracks.create_upload(&late, past).await.unwrap();
    let outcome = db
        .tracks
        .complete_upload(tenant, late.id, &ingest(&late))
        .await;
    assert!(matches!(outcome.unwrap(), CompleteOutcome::Expired));
    let track = db.tracks.get(tenant, late.id).await.unwrap().unwrap();
    assert_eq!(
        (track.state, track.ingest_job_id),
        (RecordedState::Uploaded, None)
    );
}

async fn a_finished_track_keeps_its_whole_result(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    db.tracks.create(&new, &ingest(&new)).await.unwrap();
    let key = |p: &str| output_key(tenant, new.id, p).unwrap();
    let result = TrackResult {
        loudness: LoudnessRecord {
            integrated_lufs: Some(-14.2),
            true_peak_dbtp: Some(-1.0),
            lra_lu: 6.1,
            replaygain_track_gain_db: Some(-3.8),
        },
        outputs: Vec::new(),
        waveform: WaveformRecord {
            levels: vec![WaveformLevel {
                zoom: 512,
                dat: key("waveform/waveform_512.dat"),
            }],
            json: key("waveform/waveform_512.json"),
            summary: vec![0.0, 0.5, 1.0],
        },
    };
    db.tracks.finish(tenant, new.id, &result).await.unwrap();
    let track = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    assert_eq!(track.state, RecordedState::Ready);
    assert_eq!(track.result, Some(result));
}
