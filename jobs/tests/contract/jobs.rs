//! The job store contract, on Postgres and on SQLite.

use std::time::Duration;

use crate::tenant;
use mixdown_jobs::{
    callbacks::CallbackPayload,
    ids::{JobId, TenantId, WorkerId},
    kind::{JobKind, JobPayload, NoopPayload},
    model::{JobError, JobFilter, JobState, MaxAttempts, NewJob, Outcome, Priority},
    store::{CancelOutcome, Finish, JobStore, RetryOutcome, WorkerRecord},
    time::Timestamp,
};
use serde_json::json;

contract!(
    a_job_is_recorded_queued_and_only_its_tenant_sees_it,
    an_idempotency_key_returns_the_first_job_per_tenant,
    a_job_is_claimed_once_per_attempt,
    successes_are_recorded_in_batches_and_stale_reports_are_ignored,
    a_retryable_failure_requeues_until_attempts_run_out,
    a_failed_job_can_be_retried_with_a_fresh_budget,
    cancelling_stops_queued_and_running_jobs,
    listing_filters_and_pages_newest_first,
    jobs_of_silent_workers_are_taken_back,
    recently_changed_queued_jobs_are_found_for_redrive,
    api_keys_resolve_to_their_tenant,
    a_draining_worker_hands_back_its_attempts_uncounted,
    running_jobs_and_the_oldest_due_job_are_visible,
    a_second_handle_reaches_the_same_database,
    every_end_of_a_job_with_a_callback_is_reported_once,
);

fn noop(tenant: TenantId, fail_attempts: u64) -> NewJob {
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
    }
}

fn worker() -> WorkerId {
    WorkerId::generate("contract")
}

async fn beat(store: &JobStore, id: &WorkerId) {
    let now = Timestamp::now();
    let record = WorkerRecord {
        id: id.clone(),
        queues: vec!["noop".into()],
        concurrency: 1,
        hostname: "contract".into(),
        pid: 1,
        started_at: now,
        last_seen: now,
    };
    store.heartbeat(&record).await.unwrap();
}

fn success(id: JobId, attempt: u32) -> Finish {
    Finish {
        id,
        attempt,
        outcome: Outcome::Succeeded(json!({"ok": attempt})),
        retry_at: None,
    }
}

fn failure(id: JobId, attempt: u32, retry_at: Option<Timestamp>) -> Finish {
    let error = JobError {
        code: "boom".into(),
        message: "it broke".into(),
    };
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

async fn a_job_is_recorded_queued_and_only_its_tenant_sees_it(store: &JobStore) {
    let (a, b) = (tenant(store).await, tenant(store).await);
    let mut new = noop(a, 0);
    new.priority = Priority::new(7).unwrap();
    new.callback_url = Some("https://example.test/hook".into());
    let inserted = store.insert_job(&new).await.unwrap();
    assert!(inserted.created);
    let job = store.get_job(a, inserted.job.id).await.unwrap().unwrap();
    assert_eq!(job, inserted.job);
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
    assert!(store.get_job(b, job.id).await.unwrap().is_none());
    assert!(store.get_job(a, JobId::new()).await.unwrap().is_none());
}

async fn an_idempotency_key_returns_the_first_job_per_tenant(store: &JobStore) {
    let (a, b) = (tenant(store).await, tenant(store).await);
    let mut new = noop(a, 0);
    new.idempotency_key = Some("order-42".into());
    let first = store.insert_job(&new).await.unwrap();
    let again = store.insert_job(&new).await.unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.job.id, again.job.id);
    new.tenant_id = b;
    let other = store.insert_job(&new).await.unwrap();
    assert!(other.created);
    assert_ne!(other.job.id, first.job.id);
}

async fn a_job_is_claimed_once_per_attempt(store: &JobStore) {
    let t = tenant(store).await;
    let job = store.insert_job(&noop(t, 0)).await.unwrap().job;
    let w = worker();
    let claimed = store.claim_jobs(&[job.id, job.id], &w).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempt), (job.id, 1));
    assert!(matches!(
        claimed[0].payload,
        JobPayload::Noop(NoopPayload { .. })
    ));
    assert!(
        store
            .claim_jobs(&[job.id], &worker())
            .await
            .unwrap()
            .is_empty()
    );
    let running = store.get_job(t, job.id).await.unwrap().unwrap();
    assert_eq!((running.state, running.attempts), (JobState::Running, 1));
    assert!(running.started_at.is_some());
}

async fn successes_are_recorded_in_batches_and_stale_reports_are_ignored(store: &JobStore) {
    let t = tenant(store).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store.insert_job(&noop(t, 0)).await.unwrap().job.id);
    }
    let claimed = store.claim_jobs(&ids, &worker()).await.unwrap();
    assert_eq!(claimed.len(), 5);
    let mut batch: Vec<Finish> = ids.iter().map(|id| success(*id, 1)).collect();
    batch[0].attempt = 7; // a report of an attempt that is not the current one
    let requeue = store.finish_attempts(&batch).await.unwrap();
    assert!(requeue.is_empty());
    let stale = store.get_job(t, ids[0]).await.unwrap().unwrap();
    assert_eq!(stale.state, JobState::Running);
    for id in &ids[1..] {
        let job = store.get_job(t, *id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.result, Some(json!({"ok": 1})));
        assert_eq!(job.progress, 1.0);
        assert!(job.finished_at.is_some());
    }
    // Recording the same end twice changes nothing.
    store.finish_attempts(&batch[1..2]).await.unwrap();
    let job = store.get_job(t, ids[1]).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
}

async fn a_retryable_failure_requeues_until_attempts_run_out(store: &JobStore) {
    let t = tenant(store).await;
    let id = store.insert_job(&noop(t, 5)).await.unwrap().job.id;
    store.claim_jobs(&[id], &worker()).await.unwrap();
    let later = Timestamp::now().plus(Duration::from_secs(60));
    let requeue = store
        .finish_attempts(&[failure(id, 1, Some(later))])
        .await
        .unwrap();
    assert_eq!(requeue.len(), 1);
    assert_eq!((requeue[0].id, requeue[0].run_at), (id, later));
    let job = store.get_job(t, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 1));
    assert_eq!(job.error.as_ref().map(|e| e.code.as_str()), Some("boom"));
    // Not due yet: not claimable.
    assert!(store.claim_jobs(&[id], &worker()).await.unwrap().is_empty());
}

async fn a_failed_job_can_be_retried_with_a_fresh_budget(store: &JobStore) {
    let t = tenant(store).await;
    let id = store.insert_job(&noop(t, 5)).await.unwrap().job.id;
    for (attempt, retry_at) in [(1, Some(Timestamp::now())), (2, None)] {
        store.claim_jobs(&[id], &worker()).await.unwrap();
        store
            .finish_attempts(&[failure(id, attempt, retry_at)])
            .await
            .unwrap();
    }
    let failed = store.get_job(t, id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts), (JobState::Failed, 2));
    assert!(failed.finished_at.is_some());
    let RetryOutcome::Requeued(job, entry) = store.retry_job(t, id).await.unwrap() else {
        panic!("a failed job is retryable");
    };
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 2, 4)
    );
    assert!(job.error.is_none() && job.finished_at.is_none());
    assert_eq!(entry.id, id);
    let claimed = store.claim_jobs(&[id], &worker()).await.unwrap();
    assert_eq!(claimed[0].attempt, 3);
    store.finish_attempts(&[success(id, 3)]).await.unwrap();
    assert!(matches!(
        store.retry_job(t, id).await.unwrap(),
        RetryOutcome::NotRetryable(_)
    ));
    let other = tenant(store).await;
    assert!(matches!(
        store.retry_job(other, id).await.unwrap(),
        RetryOutcome::NotFound
    ));
}

async fn cancelling_stops_queued_and_running_jobs(store: &JobStore) {
    let t = tenant(store).await;
    let queued = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let CancelOutcome::Cancelled(job) = store.cancel_job(t, queued).await.unwrap() else {
        panic!("a queued job cancels at once");
    };
    assert_eq!(job.state, JobState::Cancelled);
    assert!(
        store
            .claim_jobs(&[queued], &worker())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.cancel_job(t, queued).await.unwrap(),
        CancelOutcome::AlreadyFinal(_)
    ));

    let running = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let w = worker();
    store.claim_jobs(&[running], &w).await.unwrap();
    assert!(store.cancel_requests(&w).await.unwrap().is_empty());
    let CancelOutcome::Requested(job) = store.cancel_job(t, running).await.unwrap() else {
        panic!("a running job is asked to stop");
    };
    assert!(job.cancel_requested);
    assert_eq!(store.cancel_requests(&w).await.unwrap(), vec![running]);
    let end = Finish {
        id: running,
        attempt: 1,
        outcome: Outcome::Cancelled,
        retry_at: None,
    };
    store.finish_attempts(&[end]).await.unwrap();
    let job = store.get_job(t, running).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    let stranger = tenant(store).await;
    assert!(matches!(
        store.cancel_job(stranger, running).await.unwrap(),
        CancelOutcome::NotFound
    ));
}

async fn listing_filters_and_pages_newest_first(store: &JobStore) {
    let t = tenant(store).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store.insert_job(&noop(t, 0)).await.unwrap().job.id);
    }
    store.cancel_job(t, ids[1]).await.unwrap();
    let mut filter = JobFilter {
        limit: 2,
        ..JobFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_jobs(t, &filter).await.unwrap();
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
    };
    let page = store.list_jobs(t, &cancelled).await.unwrap();
    assert_eq!(page.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[1]]);
    let other = tenant(store).await;
    assert!(store.list_jobs(other, &filter).await.unwrap().is_empty());
}

async fn jobs_of_silent_workers_are_taken_back(store: &JobStore) {
    let t = tenant(store).await;
    let (alive, dead) = (worker(), worker());
    beat(store, &alive).await;
    beat(store, &dead).await;
    let mut new = noop(t, 0);
    new.max_attempts = MaxAttempts::new(1).unwrap();
    let last_chance = store.insert_job(&new).await.unwrap().job.id;
    let retryable = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let safe = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    store
        .claim_jobs(&[last_chance, retryable], &dead)
        .await
        .unwrap();
    store.claim_jobs(&[safe], &alive).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    beat(store, &alive).await;
    let back = store.recover_orphans(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        back.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![retryable]
    );
    let job = store.get_job(t, retryable).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 1));
    assert_eq!(job.error.map(|e| e.code), Some("worker_lost".into()));
    let job = store.get_job(t, last_chance).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    let job = store.get_job(t, safe).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
    let live = store.live_workers(Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        live.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        vec![alive]
    );
}

async fn recently_changed_queued_jobs_are_found_for_redrive(store: &JobStore) {
    let t = tenant(store).await;
    let start = Timestamp::now().minus(Duration::from_millis(1));
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store.insert_job(&noop(t, 0)).await.unwrap().job.id);
    }
    store.claim_jobs(&ids[..1], &worker()).await.unwrap();
    let upto = Timestamp::now();
    let mut after = (start, None);
    let mut found = Vec::new();
    loop {
        let page = store.queued_changed_between(after, upto, 2).await.unwrap();
        let Some((changed, last)) = page.last() else {
            break;
        };
        after = (*changed, Some(last.id));
        found.extend(page.iter().map(|(_, e)| e.id));
    }
    let mut expected = ids[1..].to_vec();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

async fn api_keys_resolve_to_their_tenant(store: &JobStore) {
    let name = format!("label-{}", mixdown_testkit::unique());
    let first = store.create_api_key(&name).await.unwrap();
    let second = store.create_api_key(&name).await.unwrap();
    assert_eq!(first.tenant_id, second.tenant_id);
    assert_ne!(first.key, second.key);
    assert_eq!(
        store.tenant_for_key(&first.key).await.unwrap(),
        Some(first.tenant_id)
    );
    assert_eq!(store.tenant_for_key("mdk_not-a-key").await.unwrap(), None);
    assert_eq!(
        store.tenant_name(first.tenant_id).await.unwrap(),
        Some(name)
    );
}

async fn a_draining_worker_hands_back_its_attempts_uncounted(store: &JobStore) {
    let t = tenant(store).await;
    let (w, other) = (worker(), worker());
    beat(store, &w).await;
    beat(store, &other).await;
    let mine = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let theirs = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    store.claim_jobs(&[mine], &w).await.unwrap();
    store.claim_jobs(&[theirs], &other).await.unwrap();
    let back = store.release_attempts(&w).await.unwrap();
    assert_eq!(back.iter().map(|e| e.id).collect::<Vec<_>>(), vec![mine]);
    let job = store.get_job(t, mine).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 1, 3),
        "attempts keep counting up; the budget grows instead"
    );
    // A late report of the handed-back attempt changes nothing.
    store.finish_attempts(&[success(mine, 1)]).await.unwrap();
    let job = store.get_job(t, mine).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    let again = store.claim_jobs(&[mine], &other).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    assert_eq!(
        store.get_job(t, theirs).await.unwrap().unwrap().state,
        JobState::Running,
        "another worker's attempts stay"
    );
}

async fn running_jobs_and_the_oldest_due_job_are_visible(store: &JobStore) {
    let t = tenant(store).await;
    let w = worker();
    beat(store, &w).await;
    assert_eq!(store.oldest_due("noop").await.unwrap(), None);
    let first = store.insert_job(&noop(t, 0)).await.unwrap().job;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = store.insert_job(&noop(t, 0)).await.unwrap().job;
    let mut later = noop(t, 0);
    later.run_at = Some(Timestamp::now().plus(Duration::from_secs(60)));
    store.insert_job(&later).await.unwrap();
    assert_eq!(store.oldest_due("noop").await.unwrap(), Some(first.run_at));
    store.claim_jobs(&[first.id], &w).await.unwrap();
    assert_eq!(store.oldest_due("noop").await.unwrap(), Some(second.run_at));
    let running = store.running_jobs().await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(
        (running[0].id, running[0].tenant_id, &running[0].worker_id),
        (first.id, t, &w)
    );
}

async fn a_second_handle_reaches_the_same_database(store: &JobStore) {
    let t = tenant(store).await;
    let id = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let alone = store.reopen_alone().await.unwrap();
    assert!(alone.get_job(t, id).await.unwrap().is_some());
    alone.close().await;
}

async fn every_end_of_a_job_with_a_callback_is_reported_once(store: &JobStore) {
    let t = tenant(store).await;
    let mut reported = noop(t, 0);
    reported.callback_url = Some("https://example.test/hook".into());
    let id = store.insert_job(&reported).await.unwrap().job.id;
    let silent = store.insert_job(&noop(t, 0)).await.unwrap().job.id;
    let cancelled = store.insert_job(&reported).await.unwrap().job.id;
    assert!(
        store.record_due_callbacks(100).await.unwrap().is_empty(),
        "jobs that have not ended are not reported"
    );
    store.claim_jobs(&[id, silent], &worker()).await.unwrap();
    store
        .finish_attempts(&[failure(id, 1, None), success(silent, 1)])
        .await
        .unwrap();
    store.cancel_job(t, cancelled).await.unwrap();

    let first = store.record_due_callbacks(100).await.unwrap();
    assert_eq!(first.len(), 2, "the failure and the cancellation");
    assert!(first.iter().all(|e| e.queue == "callback"));
    let failed = store.get_job(t, id).await.unwrap().unwrap();
    let report = store
        .get_job(t, failed.callback_job_id.expect("marked"))
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
    assert!(store.record_due_callbacks(100).await.unwrap().is_empty());

    // A retried job's next end is reported again.
    assert!(matches!(
        store.retry_job(t, id).await.unwrap(),
        RetryOutcome::Requeued(..)
    ));
    assert!(store.record_due_callbacks(100).await.unwrap().is_empty());
    store.claim_jobs(&[id], &worker()).await.unwrap();
    store.finish_attempts(&[success(id, 2)]).await.unwrap();
    let second = store.record_due_callbacks(100).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, report.id);
    let succeeded = store.get_job(t, id).await.unwrap().unwrap();
    assert_eq!(succeeded.callback_job_id, Some(second[0].id));
}
