//! The tracks repository contract, on Postgres and on SQLite: a track and
//! its workflow are recorded together, once, and the track stores its own
//! end, failed included.

use std::{collections::BTreeMap, time::Duration};

use mixdown_jobs::{
    clock::ManualClock,
    codes::ErrorCode,
    db::{AddedOutputs, CompleteOutcome, Database},
    ids::{TenantId, TrackId},
    kind::JobKind,
    model::{JobError, JobState},
    tracks::{
        AnalysisRecord, DuplicateRecord, LoudnessRecord, NewTrack, OutputRecord, TrackMetadata,
        TrackOutcome, TrackPresets, TrackResult, TrackState, WaveformLevel, WaveformRecord,
        original_key, output_key,
    },
    workflow::track,
};
use mixdown_media::transcode::default_presets;

use crate::tenant;

contract!(
    a_track_and_its_workflow_are_recorded_together,
    a_presigned_upload_starts_once_and_not_after_it_expires,
    a_described_track_keeps_what_ingest_learned,
    a_finished_track_keeps_its_whole_result_or_its_error,
    renditions_add_to_a_ready_tracks_outputs_once_each,
    fingerprints_find_the_tenants_earlier_copies_of_a_recording,
    of_two_copies_indexed_at_once_exactly_one_finds_the_other,
);

fn new_track(tenant: TenantId) -> NewTrack {
    NewTrack {
        id: TrackId::new(),
        tenant_id: tenant,
        title: Some("Song".into()),
        owner_id: None,
        callback_url: Some("https://example.test/hook".into()),
        presets: TrackPresets::new(default_presets()).unwrap(),
    }
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

async fn a_track_and_its_workflow_are_recorded_together(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    let started = db
        .tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    assert_eq!(started.track.state, TrackState::Processing);
    assert_eq!(started.track.job_id, Some(started.workflow.id));
    assert_eq!(started.track.presets, new.presets);
    let workflow = &started.workflow;
    assert_eq!(
        (workflow.kind, workflow.state),
        (JobKind::Track, JobState::Waiting)
    );
    assert_eq!(workflow.callback_url, new.callback_url);
    let [ingest] = started.children.as_slice() else {
        panic!("one first child: {:?}", started.children);
    };
    assert_eq!(
        (ingest.kind, ingest.state),
        (JobKind::Ingest, JobState::Queued)
    );
    assert_eq!(ingest.parent_id, Some(workflow.id));
    assert!(ingest.callback_url.is_none(), "only the workflow reports");
    let read = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    let jobs = db.tracks.jobs(&read).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [ingest.id]);
    let stranger = crate::tenant(db).await;
    assert!(db.tracks.get(stranger, new.id).await.unwrap().is_none());
}

async fn a_presigned_upload_starts_once_and_not_after_it_expires(
    db: &Database,
    clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    let expires = clock.now().plus(Duration::from_secs(60));
    let waiting = db.tracks.create_upload(&new, expires).await.unwrap();
    assert_eq!(waiting.state, TrackState::Uploaded);
    assert!(waiting.job_id.is_none());
    assert!(db.tracks.jobs(&waiting).await.unwrap().is_empty());
    let start = track::start(&new);
    let stranger = crate::tenant(db).await;
    let other = db.tracks.complete_upload(stranger, new.id, 1, &start).await;
    assert!(matches!(other.unwrap(), CompleteOutcome::NotFound));
    let first = db.tracks.complete_upload(tenant, new.id, 1, &start).await;
    let CompleteOutcome::Started(started) = first.unwrap() else {
        panic!("the first complete starts the track");
    };
    assert_eq!(started.track.state, TrackState::Processing);
    let again = db.tracks.complete_upload(tenant, new.id, 1, &start).await;
    let CompleteOutcome::AlreadyStarted(_, same) = again.unwrap() else {
        panic!("a second complete answers the first");
    };
    assert_eq!(same.id, started.children[0].id);

    let late = new_track(tenant);
    db.tracks
        .create_upload(&late, clock.now().plus(Duration::from_secs(1)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    let outcome = db
        .tracks
        .complete_upload(tenant, late.id, 1, &track::start(&late))
        .await;
    assert!(matches!(outcome.unwrap(), CompleteOutcome::Expired));
    let track = db.tracks.get(tenant, late.id).await.unwrap().unwrap();
    assert_eq!((track.state, track.job_id), (TrackState::Uploaded, None));
    let expired = db.tracks.expired_uploads(clock.now(), 10).await.unwrap();
    assert_eq!(
        expired.iter().map(|t| t.id).collect::<Vec<_>>(),
        [late.id],
        "only the late upload expired"
    );
    assert!(db.tracks.delete_expired_upload(late.id).await.unwrap());
    assert_eq!(original_key(tenant, late.id), track.original_key);
}

async fn a_described_track_keeps_what_ingest_learned(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    db.tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    let cover = mixdown_jobs::tracks::cover_key(tenant, new.id, "image/png");
    db.tracks
        .describe(tenant, new.id, &metadata(), Some(&cover))
        .await
        .unwrap();
    let read = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    assert_eq!(read.metadata, Some(metadata()));
    assert_eq!(read.cover_key, Some(cover));
    assert_eq!(read.state, TrackState::Processing);
}

fn track_result(tenant: TenantId, track: TrackId, outputs: Vec<OutputRecord>) -> TrackResult {
    let key = |p: &str| output_key(tenant, track, p).unwrap();
    TrackResult {
        loudness: LoudnessRecord {
            integrated_lufs: Some(-14.2),
            true_peak_dbtp: Some(-1.0),
            lra_lu: 6.1,
            replaygain_track_gain_db: Some(-3.8),
        },
        outputs,
        waveform: WaveformRecord {
            levels: vec![WaveformLevel {
                zoom: 512,
                dat: key("waveform/waveform_512.dat"),
            }],
            json: key("waveform/waveform_512.json"),
            summary: vec![0.0, 0.5, 1.0],
        },
        analysis: None,
    }
}

fn output(tenant: TenantId, track: TrackId, preset: &str) -> OutputRecord {
    let main = output_key(tenant, track, &format!("{preset}.mp3")).unwrap();
    OutputRecord {
        preset: preset.into(),
        mime: "audio/mpeg".into(),
        codec: "mp3".into(),
        bit_rate: 128_000,
        sample_rate: 44_100,
        channels: 2,
        duration_ms: 1000,
        files: vec![main.clone()],
        main,
        size_bytes: 16_000,
    }
}

async fn a_finished_track_keeps_its_whole_result_or_its_error(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    db.tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    let result = track_result(tenant, new.id, Vec::new());
    let ready = TrackOutcome::Ready(result.clone());
    db.tracks.finish(tenant, new.id, &ready).await.unwrap();
    let track = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    assert_eq!(track.state, TrackState::Ready);
    assert_eq!((track.result, track.error), (Some(result), None));

    let broken = new_track(tenant);
    db.tracks
        .create(&broken, 1, &track::start(&broken))
        .await
        .unwrap();
    let error = JobError::new(ErrorCode::CorruptAudio, "truncated audio");
    let failed = TrackOutcome::Failed(error.clone());
    db.tracks.finish(tenant, broken.id, &failed).await.unwrap();
    let track = db.tracks.get(tenant, broken.id).await.unwrap().unwrap();
    assert_eq!(track.state, TrackState::Failed);
    assert_eq!((track.result, track.error), (None, Some(error)));
}

async fn renditions_add_to_a_ready_tracks_outputs_once_each(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let new = new_track(tenant);
    db.tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    let out = |preset: &str| output(tenant, new.id, preset);
    let early = db.tracks.add_outputs(tenant, new.id, &[out("a")]).await;
    assert_eq!(early.unwrap(), AddedOutputs::NotReady, "processing");
    let result = track_result(tenant, new.id, vec![out("mp3_128")]);
    let ready = TrackOutcome::Ready(result);
    db.tracks.finish(tenant, new.id, &ready).await.unwrap();

    let both = [out("mp3_128"), out("a")];
    let added = db.tracks.add_outputs(tenant, new.id, &both).await.unwrap();
    assert_eq!(added, AddedOutputs::Added(vec!["a".into()]));
    // Made side by side, every one lands, and none twice.
    let each = ["b", "c", "d", "b"].map(|p| [out(p)]);
    let adds = each
        .iter()
        .map(|o| db.tracks.add_outputs(tenant, new.id, o));
    let landed = futures::future::join_all(adds).await;
    let added: usize = landed
        .into_iter()
        .map(|r| match r.unwrap() {
            AddedOutputs::Added(names) => names.len(),
            AddedOutputs::NotReady => panic!("the track is ready"),
        })
        .sum();
    assert_eq!(added, 3, "b is added once");
    let track = db.tracks.get(tenant, new.id).await.unwrap().unwrap();
    let presets: Vec<String> = track
        .result
        .unwrap()
        .outputs
        .into_iter()
        .map(|o| o.preset)
        .collect();
    assert_eq!(presets[..2], ["mp3_128", "a"]);
    let mut later = presets[2..].to_vec();
    later.sort();
    assert_eq!(later, ["b", "c", "d"]);
    assert_eq!(track.state, TrackState::Ready);

    let stranger = crate::tenant(db).await;
    let theirs = db.tracks.add_outputs(stranger, new.id, &[out("e")]).await;
    assert_eq!(theirs.unwrap(), AddedOutputs::NotReady);
}

/// A fingerprint of `n` hashes that looks like music to the index: each
/// differs from the one before.
fn fingerprint(seed: u32, n: usize) -> Vec<u32> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect()
}

/// A ready track of `tenant`, not yet fingerprinted.
async fn ready_track(db: &Database, tenant: TenantId) -> TrackId {
    let new = new_track(tenant);
    db.tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    let ready = TrackOutcome::Ready(track_result(tenant, new.id, Vec::new()));
    db.tracks.finish(tenant, new.id, &ready).await.unwrap();
    new.id
}

/// The tracks of duplicates found.
fn ids(found: Vec<DuplicateRecord>) -> Vec<TrackId> {
    found.into_iter().map(|d| d.track_id).collect()
}

/// A ready track of `tenant` whose fingerprint is `hashes`, with the duplicates its
/// indexing found.
async fn fingerprinted(db: &Database, tenant: TenantId, hashes: &[u32]) -> (TrackId, Vec<TrackId>) {
    let id = ready_track(db, tenant).await;
    let found = db.tracks.index_fingerprint(tenant, id, hashes).await;
    (id, ids(found.unwrap()))
}

async fn fingerprints_find_the_tenants_earlier_copies_of_a_recording(
    db: &Database,
    clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let stranger = crate::tenant(db).await;
    let song = fingerprint(7, 600);
    let (first, found) = fingerprinted(db, tenant, &song).await;
    assert!(found.is_empty());
    let (_, found) = fingerprinted(db, stranger, &song).await;
    assert!(found.is_empty(), "another tenant's copy: {found:?}");
    fingerprinted(db, tenant, &fingerprint(8, 600)).await;
    assert_eq!(
        db.tracks.fingerprint(tenant, first).await.unwrap(),
        Some(song.clone())
    );
    clock.advance(Duration::from_secs(1));

    // The same recording 40 hashes (5 s) in, with four bits of each flipped.
    let copy: Vec<u32> = song[40..].iter().map(|h| h ^ 0x0000_0F00).collect();
    let second = ready_track(db, tenant).await;
    let found = db.tracks.index_fingerprint(tenant, second, &copy).await;
    let found = found.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].track_id, first);
    assert!(
        (found[0].offset_seconds - 40.0 * 1365.0 / 11025.0).abs() < 1e-3,
        "{found:?}"
    );
    assert!((found[0].bit_error_rate - 0.125).abs() < 1e-9, "{found:?}");
    assert!(found[0].overlap_seconds > 60.0, "{found:?}");

    // Indexed again, the earlier track keeps its place: it still duplicates nothing, and
    // asked at read time it finds the later copy.
    let again = db.tracks.index_fingerprint(tenant, first, &song).await;
    assert!(again.unwrap().is_empty());
    let any = db.tracks.duplicates(tenant, first, &song).await;
    assert_eq!(ids(any.unwrap()), vec![second]);

    // Analysed again, a fingerprint replaces its index entries.
    db.tracks
        .index_fingerprint(tenant, second, &fingerprint(9, 600))
        .await
        .unwrap();
    let any = db.tracks.duplicates(tenant, first, &song).await;
    assert!(any.unwrap().is_empty());

    // An analysis stored on a ready track names its duplicate.
    let record: AnalysisRecord = serde_json::from_value(serde_json::json!({
        "tempo_bpm": 120.0, "tempo_confidence": 0.8, "key": "G minor", "key_confidence": 0.7,
        "energy": 0.5, "fingerprint_version": "chromaprint-2", "fingerprint_hashes": 560,
        "duplicates": [{"track_id": first.to_string(), "offset_seconds": 4.952,
                        "overlap_seconds": 69.2, "bit_error_rate": 0.125}],
    }))
    .unwrap();
    assert!(
        db.tracks
            .set_analysis(tenant, second, &record)
            .await
            .unwrap()
    );
    let read = db.tracks.get(tenant, second).await.unwrap().unwrap();
    assert_eq!(read.duplicate_of, Some(first));
    assert_eq!(read.result.unwrap().analysis.as_deref(), Some(&record));
    assert!(
        !db.tracks
            .set_analysis(stranger, second, &record)
            .await
            .unwrap()
    );
}

async fn of_two_copies_indexed_at_once_exactly_one_finds_the_other(
    db: &Database,
    _clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    // Each round another recording, so that rounds do not find each other.
    for round in 0..4 {
        let song = fingerprint(11 + round, 600);
        let copy: Vec<u32> = song[8..].iter().map(|h| h ^ 0x0000_0110).collect();
        let (a, b) = (ready_track(db, tenant).await, ready_track(db, tenant).await);
        let (found_a, found_b) = tokio::join!(
            db.tracks.index_fingerprint(tenant, a, &song),
            db.tracks.index_fingerprint(tenant, b, &copy),
        );
        let pair = (ids(found_a.unwrap()), ids(found_b.unwrap()));
        assert!(
            pair == (vec![b], vec![]) || pair == (vec![], vec![a]),
            "{pair:?}"
        );
    }
}
