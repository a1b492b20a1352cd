//! The jobs repository contract, on Postgres and on SQLite.

use std::time::Duration;

use crate::tenant;
use futures::StreamExt;
use mixdown_jobs::{
    callbacks::CallbackPayload,
    clock::ManualClock,
    codes::ErrorCode,
    db::{CancelOutcome, Database, Finish, RetryOutcome, StoreError, WorkerRecord},
    ids::{JobId, TenantId, WorkerId},
    kind::JobKind,
    model::{JobError, JobFilter, JobState, MaxAttempts, NewJob, Outcome, Priority, RequestDigest},
    noop::{NoopPayload, NoopResult},
    payload::JobPayload,
    time::Timestamp,
};
use serde_json::json;

contract!(
    a_job_is_recorded_queued_and_only_its_tenant_sees_it,
    an_idempotency_key_returns_the_first_job_per_tenant,
    a_key_reused_for_another_request_is_refused_and_records_nothing,
    jobs_of_unrelated_requests_recorded_together_are_answered_each_on_its_own,
    a_job_is_claimed_once_per_attempt,
    successes_are_recorded_in_batches_and_stale_reports_are_ignored,
    a_retryable_failure_requeues_until_attempts_run_out,
    a_failed_job_can_be_retried_with_a_fresh_budget,
    cancelling_stops_queued_and_running_jobs,
    listing_filters_and_pages_newest_first,
    jobs_of_silent_workers_are_taken_back,
    recently_changed_queued_jobs_are_found_for_redrive,
    a_draining_worker_hands_back_its_attempts_uncounted,
    a_deferred_attempt_waits_in_the_queue_uncounted,
    running_jobs_and_the_oldest_due_job_are_visible,
    every_end_of_a_job_with_a_callback_is_reported_once,
);

/// A noop job of `tenant` that fails its first `fail_attempts` attempts.
pub(crate) fn noop(tenant: TenantId, fail_attempts: u64) -> NewJob {
    let payload = json!({"sleep_ms": 0, "fail_attempts": fail_attempts});
    NewJob {
        tenant_id: tenant,
        payload: JobPayload::parse(JobKind::Noop, Some(&payload)).unwrap(),
        priority: Priority::default(),
        max_attempts: MaxAttempts::new(2).unwrap(),
        run_at: None,
        parent_id: None,
        callback_url: None,
        idempotency_key: None,
        request_digest: None,
    }
}

pub(crate) fn worker() -> WorkerId {
    WorkerId::generate("contract")
}

async fn beat(db: &Database, clock: &ManualClock, id: &WorkerId) {
    let now = clock.now();
    let record = WorkerRecord {
        id: id.clone(),
        queues: vec!["noop".into()],
        concurrency: 1,
        hostname: "contract".into(),
        pid: 1,
        started_at: now,
        last_seen: now,
    };
    db.workers.heartbeat(&record).await.unwrap();
}

pub(crate) fn success(id: JobId, attempt: u32) -> Finish {
    Finish {
        id,
        attempt,
        outcome: Outcome::Succeeded(
            NoopResult {
                slept_ms: 0,
                attempt,
                worker_id: "contract".into(),
            }
            .into(),
        ),
        retry_at: None,
    }
}

pub(crate) fn failure(id: JobId, attempt: u32, retry_at: Option<Timestamp>) -> Finish {
    let error = JobError::new(ErrorCode::NoopFailure, "it broke");
    Finish {
        id,
        attempt,
        outcome: Outcome::Failed {
            error,
            retryable: true,
        },
        retry_at,
    }
}

async fn a_job_is_recorded_queued_and_only_its_tenant_sees_it(db: &Database, _clock: &ManualClock) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let mut new = noop(a, 0);
    new.priority = Priority::new(7).unwrap();
    new.callback_url = Some("https://example.test/hook".into());
    let inserted = db.jobs.insert(&new).await.unwrap();
    assert!(inserted.created);
    // An insert reads back only which rows it made: the job it answers
    // must be the row as stored, every option set or not.
    let job = db.jobs.get(a, inserted.job.id).await.unwrap().unwrap();
    assert_eq!(job, inserted.job);
    let later = inserted.job.created_at.plus(Duration::from_secs(60));
    let mut optioned = noop(a, 1);
    optioned.run_at = Some(later);
    optioned.parent_id = Some(job.id);
    optioned.idempotency_key = Some("stored-as-answered".into());
    optioned.request_digest = Some(RequestDigest::of(&json!({"kind": "noop"})));
    let answered = db.jobs.insert(&optioned).await.unwrap().job;
    let stored = db.jobs.get(a, answered.id).await.unwrap().unwrap();
    assert_eq!(stored, answered);
    assert_eq!((stored.run_at, stored.parent_id), (later, Some(job.id)));
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(
        (job.attempts, job.max_attempts, job.priority.get()),
        (0, 2, 7)
    );
    assert_eq!(job.payload, json!({"sleep_ms": 0, "fail_attempts": 0}));
    assert_eq!(
        job.callback_url.as_deref(),
        Some("https://example.test/hook")
    );
    assert!(job.result.is_none() && job.error.is_none() && job.finished_at.is_none());
    assert!(db.jobs.get(b, job.id).await.unwrap().is_none());
    assert!(db.jobs.get(a, JobId::new()).await.unwrap().is_none());
}

async fn an_idempotency_key_returns_the_first_job_per_tenant(db: &Database, _clock: &ManualClock) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let mut new = noop(a, 0);
    new.idempotency_key = Some("order-42".into());
    let first = db.jobs.insert(&new).await.unwrap();
    let again = db.jobs.insert(&new).await.unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.job.id, again.job.id);
    new.tenant_id = b;
    let other = db.jobs.insert(&new).await.unwrap();
    assert!(other.created);
    assert_ne!(other.job.id, first.job.id);
}

async fn a_key_reused_for_another_request_is_refused_and_records_nothing(
    db: &Database,
    _clock: &ManualClock,
) {
    let a = tenant(db).await;
    let keyed = |key: &str, sleep_ms: u64| NewJob {
        idempotency_key: Some(key.into()),
        request_digest: Some(RequestDigest::of(&json!({"sleep_ms": sleep_ms}))),
        ..noop(a, 0)
    };
    let first = db.jobs.insert(&keyed("k", 1)).await.unwrap();
    let same = db.jobs.insert(&keyed("k", 1)).await.unwrap();
    assert!(first.created && !same.created);
    assert_eq!(same.job.id, first.job.id);
    let other = db.jobs.insert(&keyed("k", 2)).await;
    assert!(
        matches!(other, Err(StoreError::KeyReused { index: 0 })),
        "{other:?}"
    );

    // One reused key in a batch refuses the batch: nothing of it is recorded.
    let batch = [keyed("fresh", 1), keyed("k", 2)];
    let refused = db.jobs.insert_many(&batch).await;
    assert!(
        matches!(refused, Err(StoreError::KeyReused { index: 1 })),
        "{refused:?}"
    );
    let filter = JobFilter {
        limit: 10,
        ..JobFilter::default()
    };
    let listed = db.jobs.list(a, &filter).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");

    // The fleet's own keys carry no digest: they answer the first job.
    let unkeyed = NewJob {
        request_digest: None,
        ..keyed("k", 3)
    };
    assert_eq!(db.jobs.insert(&unkeyed).await.unwrap().job.id, first.job.id);
}

async fn jobs_of_unrelated_requests_recorded_together_are_answered_each_on_its_own(
    db: &Database,
    _clock: &ManualClock,
) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let keyed = |tenant, key: &str, sleep_ms: u64| NewJob {
        idempotency_key: Some(key.into()),
        request_digest: Some(RequestDigest::of(&json!({"sleep_ms": sleep_ms}))),
        ..noop(tenant, 0)
    };
    let first = db.jobs.insert(&keyed(a, "k", 1)).await.unwrap().job;
    let news = [
        noop(a, 0),
        keyed(a, "k", 2),
        keyed(a, "k", 1),
        keyed(b, "k", 2),
        keyed(a, "twice", 1),
        keyed(a, "twice", 1),
    ];
    let answers = db.jobs.insert_each(&news).await.unwrap();
    assert_eq!(answers.len(), news.len());
    let inserted: Vec<_> = answers.iter().map(|a| a.as_ref().ok()).collect();
    assert!(inserted[0].is_some_and(|i| i.created && i.job.tenant_id == a));
    // The reused key refuses its own job only.
    assert!(
        matches!(answers[1], Err(StoreError::KeyReused { index: 1 })),
        "{:?}",
        answers[1]
    );
    assert!(inserted[2].is_some_and(|i| !i.created && i.job.id == first.id));
    assert!(inserted[3].is_some_and(|i| i.created && i.job.tenant_id == b));
    // Two requests with one key in the same group: the second answers the first.
    let (once, again) = (inserted[4].unwrap(), inserted[5].unwrap());
    assert!(once.created && !again.created);
    assert_eq!(once.job.id, again.job.id);
    let filter = JobFilter {
        limit: 10,
        ..JobFilter::default()
    };
    assert_eq!(db.jobs.list(a, &filter).await.unwrap().len(), 3);
    assert_eq!(db.jobs.list(b, &filter).await.unwrap().len(), 1);

    // A group without keys is one statement on its own.
    let answers = db
        .jobs
        .insert_each(&[noop(a, 0), noop(b, 0)])
        .await
        .unwrap();
    let inserted: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert!(inserted.iter().all(|i| i.created));
    assert_eq!(
        (inserted[0].job.tenant_id, inserted[1].job.tenant_id),
        (a, b)
    );
    for (tenant, jobs) in [(a, 4), (b, 2)] {
        let listed = db.jobs.list(tenant, &filter).await.unwrap();
        assert_eq!(listed.len(), jobs);
        let read = db.jobs.get(tenant, listed[0].id).await.unwrap();
        assert_eq!(read.map(|j| j.state), Some(JobState::Queued));
    }
}

async fn a_job_is_claimed_once_per_attempt(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let job = db.jobs.insert(&noop(t, 0)).await.unwrap().job;
    let w = worker();
    let claimed = db.jobs.claim(&[job.id, job.id], &w).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempt), (job.id, 1));
    assert!(matches!(
        claimed[0].payload,
        JobPayload::Noop(NoopPayload { .. })
    ));
    assert!(
        db.jobs
            .claim(&[job.id], &worker())
            .await
            .unwrap()
            .is_empty()
    );
    let running = db.jobs.get(t, job.id).await.unwrap().unwrap();
    assert_eq!((running.state, running.attempts), (JobState::Running, 1));
    assert!(running.started_at.is_some());
}

async fn successes_are_recorded_in_batches_and_stale_reports_are_ignored(
    db: &Database,
    _clock: &ManualClock,
) {
    let t = tenant(db).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.jobs.insert(&noop(t, 0)).await.unwrap().job.id);
    }
    let claimed = db.jobs.claim(&ids, &worker()).await.unwrap();
    assert_eq!(claimed.len(), 5);
    let mut batch: Vec<Finish> = ids.iter().map(|id| success(*id, 1)).collect();
    batch[0].attempt = 7; // a report of an attempt that is not the current one
    let requeue = db.jobs.finish(&batch).await.unwrap();
    assert!(requeue.is_empty());
    let stale = db.jobs.get(t, ids[0]).await.unwrap().unwrap();
    assert_eq!(stale.state, JobState::Running);
    for id in &ids[1..] {
        let job = db.jobs.get(t, *id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        let result = json!({"slept_ms": 0, "attempt": 1, "worker_id": "contract"});
        assert_eq!(job.result, Some(result));
        assert_eq!(job.progress, 1.0);
        assert!(job.finished_at.is_some());
    }
    // Recording the same end twice changes nothing.
    db.jobs.finish(&batch[1..2]).await.unwrap();
    let job = db.jobs.get(t, ids[1]).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
}

async fn a_retryable_failure_requeues_until_attempts_run_out(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let id = db.jobs.insert(&noop(t, 5)).await.unwrap().job.id;
    db.jobs.claim(&[id], &worker()).await.unwrap();
    let later = clock.now().plus(Duration::from_secs(60));
    let requeue = db
        .jobs
        .finish(&[failure(id, 1, Some(later))])
        .await
        .unwrap();
    assert_eq!(requeue.len(), 1);
    assert_eq!((requeue[0].id, requeue[0].run_at), (id, later));
    let job = db.jobs.get(t, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 1));
    assert_eq!(job.error.map(|e| e.code), Some(ErrorCode::NoopFailure));
    // Not due yet: not claimable.
    assert!(db.jobs.claim(&[id], &worker()).await.unwrap().is_empty());
}

async fn a_failed_job_can_be_retried_with_a_fresh_budget(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let id = db.jobs.insert(&noop(t, 5)).await.unwrap().job.id;
    for (attempt, retry_at) in [(1, Some(clock.now())), (2, None)] {
        db.jobs.claim(&[id], &worker()).await.unwrap();
        db.jobs
            .finish(&[failure(id, attempt, retry_at)])
            .await
            .unwrap();
    }
    let failed = db.jobs.get(t, id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts), (JobState::Failed, 2));
    assert!(failed.finished_at.is_some());
    let RetryOutcome::Requeued(job, entry) = db.retry(t, id).await.unwrap() else {
        panic!("a failed job is retryable");
    };
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 2, 4)
    );
    assert!(job.error.is_none() && job.finished_at.is_none());
    assert_eq!(entry.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    let claimed = db.jobs.claim(&[id], &worker()).await.unwrap();
    assert_eq!(claimed[0].attempt, 3);
    db.jobs.finish(&[success(id, 3)]).await.unwrap();
    assert!(matches!(
        db.retry(t, id).await.unwrap(),
        RetryOutcome::NotRetryable(_)
    ));
    let other = tenant(db).await;
    assert!(matches!(
        db.retry(other, id).await.unwrap(),
        RetryOutcome::NotFound
    ));
}

async fn cancelling_stops_queued_and_running_jobs(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let queued = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    let CancelOutcome::Cancelled(job, _) = db.jobs.cancel(t, queued).await.unwrap() else {
        panic!("a queued job cancels at once");
    };
    assert_eq!(job.state, JobState::Cancelled);
    assert!(
        db.jobs
            .claim(&[queued], &worker())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        db.jobs.cancel(t, queued).await.unwrap(),
        CancelOutcome::AlreadyFinal(_)
    ));

    let running = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    let w = worker();
    db.jobs.claim(&[running], &w).await.unwrap();
    assert!(db.jobs.cancel_requests(&w).await.unwrap().is_empty());
    let CancelOutcome::Requested(job, _) = db.jobs.cancel(t, running).await.unwrap() else {
        panic!("a running job is asked to stop");
    };
    assert!(job.cancel_requested);
    assert_eq!(db.jobs.cancel_requests(&w).await.unwrap(), vec![running]);
    let end = Finish {
        id: running,
        attempt: 1,
        outcome: Outcome::Cancelled,
        retry_at: None,
    };
    db.jobs.finish(&[end]).await.unwrap();
    let job = db.jobs.get(t, running).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    let stranger = tenant(db).await;
    assert!(matches!(
        db.jobs.cancel(stranger, running).await.unwrap(),
        CancelOutcome::NotFound
    ));
}

async fn listing_filters_and_pages_newest_first(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.jobs.insert(&noop(t, 0)).await.unwrap().job.id);
    }
    db.jobs.cancel(t, ids[1]).await.unwrap();
    let mut filter = JobFilter {
        limit: 2,
        ..JobFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = db.jobs.list(t, &filter).await.unwrap();
        seen.extend(page.iter().map(|j| j.id));
        match page.last() {
            Some(last) if page.len() == 2 => filter.before = Some(last.id),
            _ => break,
        }
    }
    let newest_first: Vec<JobId> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    let cancelled = JobFilter {
        state: Some(JobState::Cancelled),
        kind: Some(JobKind::Noop),
        limit: 10,
        before: None,
        schedule: None,
    };
    let page = db.jobs.list(t, &cancelled).await.unwrap();
    assert_eq!(page.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[1]]);
    let other = tenant(db).await;
    assert!(db.jobs.list(other, &filter).await.unwrap().is_empty());
}

async fn jobs_of_silent_workers_are_taken_back(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let (alive, dead) = (worker(), worker());
    beat(db, clock, &alive).await;
    beat(db, clock, &dead).await;
    let mut new = noop(t, 0);
    new.max_attempts = MaxAttempts::new(1).unwrap();
    let last_chance = db.jobs.insert(&new).await.unwrap().job.id;
    let retryable = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    let safe = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    db.jobs
        .claim(&[last_chance, retryable], &dead)
        .await
        .unwrap();
    db.jobs.claim(&[safe], &alive).await.unwrap();
    clock.advance(Duration::from_millis(1200));
    beat(db, clock, &alive).await;
    let back = db
        .jobs
        .recover_orphans(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![retryable]
    );
    let job = db.jobs.get(t, retryable).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 1));
    assert_eq!(job.error.map(|e| e.code), Some(ErrorCode::WorkerLost));
    let job = db.jobs.get(t, last_chance).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    let job = db.jobs.get(t, safe).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
    let live = db.workers.live(Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        live.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        vec![alive]
    );
}

async fn recently_changed_queued_jobs_are_found_for_redrive(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let start = clock.now().minus(Duration::from_millis(1));
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.jobs.insert(&noop(t, 0)).await.unwrap().job.id);
    }
    db.jobs.claim(&ids[..1], &worker()).await.unwrap();
    let upto = clock.now();
    let mut found: Vec<JobId> = db
        .jobs
        .queued_changed_between(start, upto)
        .map(|entry| entry.unwrap().id)
        .collect()
        .await;
    let mut expected = ids[1..].to_vec();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

async fn a_draining_worker_hands_back_its_attempts_uncounted(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let (w, other) = (worker(), worker());
    beat(db, clock, &w).await;
    beat(db, clock, &other).await;
    let mine = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    let theirs = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    db.jobs.claim(&[mine], &w).await.unwrap();
    db.jobs.claim(&[theirs], &other).await.unwrap();
    let back = db.jobs.release(&w).await.unwrap();
    assert_eq!(back.iter().map(|e| e.id).collect::<Vec<_>>(), vec![mine]);
    let job = db.jobs.get(t, mine).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 1, 3),
        "attempts keep counting up; the budget grows instead"
    );
    // A late report of the handed-back attempt changes nothing.
    db.jobs.finish(&[success(mine, 1)]).await.unwrap();
    let job = db.jobs.get(t, mine).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    let again = db.jobs.claim(&[mine], &other).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    assert_eq!(
        db.jobs.get(t, theirs).await.unwrap().unwrap().state,
        JobState::Running,
        "another worker's attempts stay"
    );
}

async fn a_deferred_attempt_waits_in_the_queue_uncounted(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let w = worker();
    let id = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    db.jobs.claim(&[id], &w).await.unwrap();
    let until = clock.now().plus(Duration::from_secs(1));
    let deferred = Finish {
        id,
        attempt: 1,
        outcome: Outcome::Deferred(until),
        retry_at: None,
    };
    let ended = db
        .jobs
        .record_ends(std::slice::from_ref(&deferred))
        .await
        .unwrap();
    assert_eq!(ended.recorded, vec![id]);
    assert_eq!(
        ended.push.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id]
    );
    let job = db.jobs.get(t, id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts, job.run_at),
        (JobState::Queued, 1, 3, until),
        "the budget grows by the attempt that did not run"
    );
    assert!(job.error.is_none());
    assert!(
        db.jobs.claim(&[id], &w).await.unwrap().is_empty(),
        "not due yet"
    );
    // A repeated report of the deferred attempt changes nothing.
    assert!(
        db.jobs
            .record_ends(&[deferred])
            .await
            .unwrap()
            .recorded
            .is_empty()
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(db.jobs.claim(&[id], &w).await.unwrap()[0].attempt, 2);
}

async fn running_jobs_and_the_oldest_due_job_are_visible(db: &Database, clock: &ManualClock) {
    let t = tenant(db).await;
    let w = worker();
    beat(db, clock, &w).await;
    assert_eq!(db.jobs.oldest_due("noop").await.unwrap(), None);
    let first = db.jobs.insert(&noop(t, 0)).await.unwrap().job;
    clock.advance(Duration::from_millis(5));
    let second = db.jobs.insert(&noop(t, 0)).await.unwrap().job;
    let mut later = noop(t, 0);
    later.run_at = Some(clock.now().plus(Duration::from_secs(60)));
    db.jobs.insert(&later).await.unwrap();
    assert_eq!(
        db.jobs.oldest_due("noop").await.unwrap(),
        Some(first.run_at)
    );
    db.jobs.claim(&[first.id], &w).await.unwrap();
    assert_eq!(
        db.jobs.oldest_due("noop").await.unwrap(),
        Some(second.run_at)
    );
    let running = db.jobs.running().await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(
        (running[0].id, running[0].tenant_id, &running[0].worker_id),
        (first.id, t, &w)
    );
}

async fn every_end_of_a_job_with_a_callback_is_reported_once(db: &Database, _clock: &ManualClock) {
    let t = tenant(db).await;
    let mut reported = noop(t, 0);
    reported.callback_url = Some("https://example.test/hook".into());
    let id = db.jobs.insert(&reported).await.unwrap().job.id;
    let silent = db.jobs.insert(&noop(t, 0)).await.unwrap().job.id;
    let cancelled = db.jobs.insert(&reported).await.unwrap().job.id;
    assert!(
        db.jobs.record_due_callbacks(100).await.unwrap().is_empty(),
        "jobs that have not ended are not reported"
    );
    db.jobs.claim(&[id, silent], &worker()).await.unwrap();
    db.jobs
        .finish(&[failure(id, 1, None), success(silent, 1)])
        .await
        .unwrap();
    db.jobs.cancel(t, cancelled).await.unwrap();

    let first = db.jobs.record_due_callbacks(100).await.unwrap();
    assert_eq!(first.len(), 2, "the failure and the cancellation");
    assert!(first.iter().all(|e| e.queue == "callback"));
    let failed = db.jobs.get(t, id).await.unwrap().unwrap();
    let report = db
        .jobs
        .get(t, failed.callback_job_id.expect("marked"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.kind, JobKind::Callback);
    assert_eq!(report.parent_id, Some(id));
    assert_eq!(
        JobPayload::parse(JobKind::Callback, Some(&report.payload)).unwrap(),
        JobPayload::Callback(CallbackPayload { job_id: id })
    );
    assert!(report.callback_url.is_none(), "reports are not reported");
    assert!(db.jobs.record_due_callbacks(100).await.unwrap().is_empty());

    // A retried job's next end is reported again.
    assert!(matches!(
        db.retry(t, id).await.unwrap(),
        RetryOutcome::Requeued(..)
    ));
    assert!(db.jobs.record_due_callbacks(100).await.unwrap().is_empty());
    db.jobs.claim(&[id], &worker()).await.unwrap();
    db.jobs.finish(&[success(id, 2)]).await.unwrap();
    let second = db.jobs.record_due_callbacks(100).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, report.id);
    let succeeded = db.jobs.get(t, id).await.unwrap().unwrap();
    assert_eq!(succeeded.callback_job_id, Some(second[0].id));
}
