//! The contract of parents and children, on Postgres and on SQLite: a
//! parent waits for its children, wakes when the last has ended, shows
//! their weighted progress, stops with them, and reopens when one is retried.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    codes::ErrorCode,
    db::{CancelOutcome, Database, Finish, RetryOutcome},
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    model::{JobError, JobState, NewJob, Outcome},
    noop::NoopResult,
    payload::JobPayload,
    queue::QueueEntry,
    tracks::{NewTrack, TrackOutcome, TrackPresets, TrackState},
    workflow::{Child, Weight, track},
};

use crate::tenant;

contract!(
    a_parent_waits_for_its_children_and_wakes_when_the_last_ends,
    a_parents_progress_is_its_childrens_weighted,
    a_step_recorded_again_keeps_its_first_job,
    cancelling_a_parent_stops_its_children_and_then_the_parent,
    a_parent_cancelled_while_it_decides_still_runs_to_store_its_end,
    retrying_a_failed_child_reopens_its_workflow,
    retrying_a_failed_parent_runs_its_failed_children_again,
    a_parent_a_crash_left_asleep_is_woken_by_the_sweep,
);

fn worker() -> WorkerId {
    WorkerId::generate("family")
}

fn child(step: &str, weight: f64) -> Child {
    Child {
        step: step.into(),
        payload: JobPayload::Noop(Default::default()),
        weight: Weight::new(weight).unwrap(),
    }
}

fn end(id: JobId, attempt: u32, outcome: Outcome) -> Finish {
    Finish {
        id,
        attempt,
        outcome,
        retry_at: None,
    }
}

fn done(id: JobId, attempt: u32) -> Finish {
    let result = NoopResult {
        slept_ms: 0,
        attempt,
        worker_id: "family".into(),
    };
    end(id, attempt, Outcome::Succeeded(result.into()))
}

fn failed(id: JobId, attempt: u32) -> Finish {
    let error = JobError::new(ErrorCode::NoopFailure, "fails on request");
    let outcome = Outcome::Failed {
        error,
        retryable: false,
    };
    end(id, attempt, outcome)
}

/// A running job whose step ends by recording `children`; returns it and
/// the children's ids, in the order given.
async fn parent_of(db: &Database, t: TenantId, children: Vec<Child>) -> (JobId, Vec<JobId>) {
    let noop = JobPayload::Noop(Default::default());
    let parent = db.jobs.insert(&NewJob::with_defaults(t, noop)).await;
    let parent = parent.unwrap().job.id;
    db.jobs.claim(&[parent], &worker()).await.unwrap();
    let awaiting = [end(parent, 1, Outcome::Awaiting(children))];
    let pushed = db.jobs.finish(&awaiting).await.unwrap();
    // The entries pushed are made from the children as answered by their
    // insert, which must be the children as stored.
    for entry in &pushed {
        let stored = db.jobs.get(t, entry.id).await.unwrap().unwrap();
        assert_eq!(*entry, QueueEntry::for_job(&stored));
        assert_eq!(stored.parent_id, Some(parent));
    }
    let ids = pushed.iter().map(|e| e.id).collect();
    (parent, ids)
}

async fn state(db: &Database, t: TenantId, id: JobId) -> JobState {
    db.jobs.get(t, id).await.unwrap().unwrap().state
}

async fn a_parent_waits_for_its_children_and_wakes_when_the_last_ends(
    db: &Database,
    _clock: &ManualClock,
) {
    let t = tenant(db).await;
    let (parent, kids) = parent_of(db, t, vec![child("a", 1.0), child("b", 1.0)]).await;
    assert_eq!(kids.len(), 2, "both children are pushed");
    let waiting = db.jobs.get(t, parent).await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Waiting);
    assert_eq!(waiting.state.client_name(), "running");
    let listed = db.jobs.children(parent).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.id).collect::<Vec<_>>(), kids);
    assert!(listed.iter().all(|j| j.parent_id == Some(parent)));

    db.jobs.claim(&kids, &worker()).await.unwrap();
    let first = db.jobs.finish(&[done(kids[0], 1)]).await.unwrap();
    assert!(first.is_empty(), "one child is still running");
    assert_eq!(state(db, t, parent).await, JobState::Waiting);
    let last = db.jobs.finish(&[failed(kids[1], 1)]).await.unwrap();
    assert_eq!(
        last.iter().map(|e| e.id).collect::<Vec<_>>(),
        [parent],
        "the last end wakes the parent, whatever the end"
    );
    let woken = db.jobs.claim(&[parent], &worker()).await.unwrap();
    assert_eq!(woken[0].attempt, 2);
    assert!(woken[0].max_attempts > 2, "a wake brings a fresh budget");
}

async fn a_parents_progress_is_its_childrens_weighted(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let (parent, kids) = parent_of(db, t, vec![child("light", 1.0), child("heavy", 3.0)]).await;
    let progress = |db: &Database| {
        let db = db.clone();
        async move { db.jobs.get(t, parent).await.unwrap().unwrap().progress }
    };
    assert_eq!(progress(db).await, 0.0);
    db.jobs.claim(&kids, &worker()).await.unwrap();
    db.jobs.finish(&[done(kids[0], 1)]).await.unwrap();
    assert_eq!(progress(db).await, 0.25);
    db.jobs.set_progress(kids[1], 1, 0.5).await.unwrap();
    assert_eq!(progress(db).await, 0.625);
    // A child that fails counts what it did, not the whole of its share;
    // the parent keeps its progress while it runs to decide what follows.
    db.jobs.finish(&[failed(kids[1], 1)]).await.unwrap();
    assert_eq!(progress(db).await, 0.625);
    db.jobs.claim(&[parent], &worker()).await.unwrap();
    assert_eq!(progress(db).await, 0.625);
}

async fn a_step_recorded_again_keeps_its_first_job(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let (parent, kids) = parent_of(db, t, vec![child("a", 1.0)]).await;
    db.jobs.claim(&kids, &worker()).await.unwrap();
    db.jobs.finish(&[done(kids[0], 1)]).await.unwrap();
    db.jobs.claim(&[parent], &worker()).await.unwrap();
    let again = vec![child("a", 1.0), child("c", 1.0)];
    let awaiting = [end(parent, 2, Outcome::Awaiting(again))];
    let pushed = db.jobs.finish(&awaiting).await.unwrap();
    assert_eq!(pushed.len(), 1, "only the new step is recorded");
    let children = db.jobs.children(parent).await.unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].id, kids[0]);
    assert_eq!(children[1].id, pushed[0].id);
}

async fn cancelling_a_parent_stops_its_children_and_then_the_parent(
    db: &Database,
    _clock: &ManualClock,
) {
    let t = tenant(db).await;
    let (parent, kids) = parent_of(db, t, vec![child("queued", 1.0), child("running", 1.0)]).await;
    let w = worker();
    db.jobs.claim(&kids[1..], &w).await.unwrap();
    let CancelOutcome::Requested(job, wake) = db.jobs.cancel(t, parent).await.unwrap() else {
        panic!("a waiting parent is asked to stop");
    };
    assert!(job.cancel_requested && wake.is_empty());
    assert_eq!(state(db, t, kids[0]).await, JobState::Cancelled);
    assert_eq!(db.jobs.cancel_requests(&w).await.unwrap(), [kids[1]]);
    let stopped = [end(kids[1], 1, Outcome::Cancelled)];
    let woken = db.jobs.finish(&stopped).await.unwrap();
    assert_eq!(woken.iter().map(|e| e.id).collect::<Vec<_>>(), [parent]);
    let claimed = db.jobs.claim(&[parent], &worker()).await.unwrap();
    assert!(
        claimed[0].cancel_requested,
        "the parent knows it was asked to stop"
    );
}

async fn a_parent_cancelled_while_it_decides_still_runs_to_store_its_end(
    db: &Database,
    _clock: &ManualClock,
) {
    let t = tenant(db).await;
    let (parent, kids) = parent_of(db, t, vec![child("a", 1.0)]).await;
    db.jobs.claim(&kids, &worker()).await.unwrap();
    db.jobs.finish(&[done(kids[0], 1)]).await.unwrap();
    assert_eq!(state(db, t, parent).await, JobState::Queued, "woken");
    let CancelOutcome::Requested(job, _) = db.jobs.cancel(t, parent).await.unwrap() else {
        panic!("a woken parent is asked, not cancelled outright");
    };
    assert_eq!(job.state, JobState::Queued);
    let claimed = db.jobs.claim(&[parent], &worker()).await.unwrap();
    assert!(claimed[0].cancel_requested);
    // Deciding on more children anyway: they are stopped as they are recorded.
    let more = [end(parent, 2, Outcome::Awaiting(vec![child("b", 1.0)]))];
    let pushed = db.jobs.finish(&more).await.unwrap();
    let woken: Vec<JobId> = pushed.iter().map(|e| e.id).collect();
    assert!(
        woken.contains(&parent),
        "its only new child ended at once: {woken:?}"
    );
    let children = db.jobs.children(parent).await.unwrap();
    assert_eq!(children[1].state, JobState::Cancelled);
}

/// A track whose ingest failed and whose workflow stored that: the track,
/// its workflow job and its ingest job.
async fn failed_track(db: &Database, t: TenantId) -> (NewTrack, JobId, JobId) {
    let new = NewTrack {
        id: mixdown_jobs::ids::TrackId::new(),
        tenant_id: t,
        title: None,
        owner_id: None,
        callback_url: None,
        presets: TrackPresets::new(mixdown_media::transcode::default_presets()).unwrap(),
    };
    let started = db
        .tracks
        .create(&new, 1, &track::start(&new))
        .await
        .unwrap();
    let (workflow, ingest) = (started.workflow.id, started.children[0].id);
    db.jobs.claim(&[ingest], &worker()).await.unwrap();
    let woken = db.jobs.finish(&[failed(ingest, 1)]).await.unwrap();
    assert_eq!(woken.iter().map(|e| e.id).collect::<Vec<_>>(), [workflow]);
    db.jobs.claim(&[workflow], &worker()).await.unwrap();
    let error = JobError::new(ErrorCode::NoopFailure, "fails on request");
    let outcome = TrackOutcome::Failed(error);
    db.tracks.finish(t, new.id, &outcome).await.unwrap();
    db.jobs.finish(&[failed(workflow, 1)]).await.unwrap();
    let track = db.tracks.get(t, new.id).await.unwrap().unwrap();
    assert_eq!(track.state, TrackState::Failed);
    (new, workflow, ingest)
}

async fn reopened(db: &Database, t: TenantId, new: &NewTrack, workflow: JobId) {
    let job = db.jobs.get(t, workflow).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Waiting);
    assert!(job.error.is_none() && job.finished_at.is_none());
    let track = db.tracks.get(t, new.id).await.unwrap().unwrap();
    assert_eq!((track.state, track.error), (TrackState::Processing, None));
}

async fn retrying_a_failed_child_reopens_its_workflow(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let (new, workflow, ingest) = failed_track(db, t).await;
    let RetryOutcome::Requeued(job, push) = db.retry(t, ingest).await.unwrap() else {
        panic!("a failed ingest is retryable");
    };
    assert_eq!((job.kind, job.state), (JobKind::Ingest, JobState::Queued));
    assert_eq!(push.iter().map(|e| e.id).collect::<Vec<_>>(), [ingest]);
    reopened(db, t, &new, workflow).await;
}

async fn retrying_a_failed_parent_runs_its_failed_children_again(
    db: &Database,
    _clock: &ManualClock,
) {
    let t = tenant(db).await;
    let (new, workflow, ingest) = failed_track(db, t).await;
    let RetryOutcome::Requeued(job, push) = db.retry(t, workflow).await.unwrap() else {
        panic!("a failed workflow is retryable");
    };
    assert_eq!(job.state, JobState::Waiting);
    assert_eq!(push.iter().map(|e| e.id).collect::<Vec<_>>(), [ingest]);
    assert_eq!(state(db, t, ingest).await, JobState::Queued);
    reopened(db, t, &new, workflow).await;
}

async fn a_parent_a_crash_left_asleep_is_woken_by_the_sweep(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    // An older parent still at work does not hide the stalled one from a
    // sweep that looks at one parent at a time.
    let (busy, _) = parent_of(db, t, vec![child("busy", 1.0)]).await;
    clock.advance(Duration::from_secs(1));
    let (parent, kids) = parent_of(db, t, vec![child("lost", 1.0)]).await;
    // A child whose every worker died ends failed by recovery, which wakes
    // nobody; the sweep does.
    for _ in 0..3 {
        db.jobs.claim(&kids, &worker()).await.unwrap();
        clock.advance(Duration::from_secs(60));
        db.jobs
            .recover_orphans(Duration::from_secs(30))
            .await
            .unwrap();
    }
    assert_eq!(state(db, t, kids[0]).await, JobState::Failed);
    assert_eq!(state(db, t, parent).await, JobState::Waiting);
    let woken = db.jobs.wake_stalled(1).await.unwrap();
    assert_eq!(woken.iter().map(|e| e.id).collect::<Vec<_>>(), [parent]);
    assert!(db.jobs.wake_stalled(100).await.unwrap().is_empty());
    assert_eq!(state(db, t, busy).await, JobState::Waiting);
}
