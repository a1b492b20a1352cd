//! What the operators' dashboard reads, on Postgres and on SQLite: operator
//! keys apart from tenants' keys, and every tenant's queues, outcomes and
//! failures.

use std::time::Duration;

use crate::{
    jobs::{failure, noop, success, worker},
    tenant,
};
use mixdown_jobs::{
    clock::ManualClock,
    codes::ErrorCode,
    db::{Database, ErrorGroup, MinuteOutcomes},
    ids::{JobId, TenantId},
    model::{BulkFilter, JobState},
};

contract!(
    operator_keys_are_no_tenants_keys,
    the_overview_reads_every_tenants_queues_outcomes_and_failures,
);

async fn operator_keys_are_no_tenants_keys(db: &Database, _clock: &ManualClock) {
    let operator = db.operators.create_key("ops <admin>").await.unwrap();
    assert!(operator.key.starts_with("mdo_"));
    let tenant = db.tenants.create_key("acme").await.unwrap();
    let ops = &db.operators;
    assert_eq!(
        ops.operator_for_key(&operator.key)
            .await
            .unwrap()
            .as_deref(),
        Some("ops <admin>")
    );
    assert_eq!(ops.operator_for_key(&tenant.key).await.unwrap(), None);
    assert_eq!(
        db.tenants.tenant_for_key(&operator.key).await.unwrap(),
        None
    );
    assert_eq!(ops.operator_for_key("mdo_unknown").await.unwrap(), None);
}

/// Records a job of `tenant` and ends its first attempt with a success,
/// a failure for good, or a failure retried in a minute.
async fn job(db: &Database, tenant: TenantId, end: Option<End>) -> JobId {
    let id = db.jobs.insert(&noop(tenant, 1)).await.unwrap().job.id;
    if let Some(end) = end {
        db.jobs.claim(&[id], &worker()).await.unwrap();
        let later = db.clock().now().plus(Duration::from_secs(60));
        let finish = match end {
            End::Succeeded => success(id, 1),
            End::Failed => failure(id, 1, None),
            End::Retrying => failure(id, 1, Some(later)),
        };
        db.jobs.finish(&[finish]).await.unwrap();
    }
    id
}

/// How a first attempt ends.
enum End {
    Succeeded,
    Failed,
    Retrying,
}

async fn the_overview_reads_every_tenants_queues_outcomes_and_failures(
    db: &Database,
    clock: &ManualClock,
) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let waiting = job(db, b, None).await;
    clock.advance(Duration::from_secs(5));
    let dead = job(db, a, Some(End::Failed)).await;
    let retrying = job(db, b, Some(End::Retrying)).await;
    job(db, a, Some(End::Succeeded)).await;
    let running = job(db, a, None).await;
    db.jobs.claim(&[running], &worker()).await.unwrap();

    let stats = db.queue_stats().await.unwrap();
    assert_eq!(stats.len(), 1, "{stats:?}");
    let noop = &stats[0];
    assert_eq!(noop.queue, "noop");
    assert_eq!((noop.due, noop.later, noop.running), (1, 1, 1));
    let first = db.any_job(waiting).await.unwrap().unwrap();
    assert_eq!(noop.oldest_due, Some(first.run_at));

    let hour_ago = clock.now().minus(Duration::from_secs(3600));
    let outcomes = db.outcomes_since(hour_ago).await.unwrap();
    let minute = clock.now().millis() / 60_000 * 60_000;
    assert_eq!(
        outcomes,
        [MinuteOutcomes {
            queue: "noop".into(),
            minute: mixdown_jobs::time::Timestamp::from_millis(minute),
            succeeded: 1,
            failed: 1,
        }]
    );
    let later = clock.now().plus(Duration::from_secs(1));
    assert!(db.outcomes_since(later).await.unwrap().is_empty());

    assert_eq!(
        db.error_groups().await.unwrap(),
        [ErrorGroup {
            code: ErrorCode::NoopFailure,
            failed: 1,
            retrying: 1,
            last_at: clock.now(),
        }]
    );
    let code = Some(ErrorCode::NoopFailure);
    let failed = db.jobs_in_state(JobState::Failed, code, 10).await.unwrap();
    assert_eq!(failed.iter().map(|j| j.id).collect::<Vec<_>>(), [dead]);
    let other = Some(ErrorCode::TrackMissing);
    assert!(
        db.jobs_in_state(JobState::Failed, other, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.any_job(retrying).await.unwrap().unwrap().tenant_id, b);
    assert_eq!(db.any_job(JobId::new()).await.unwrap(), None);

    let reached = |state| db.tenants_with_error(state, ErrorCode::NoopFailure);
    assert_eq!(reached(JobState::Failed).await.unwrap(), [a]);
    assert_eq!(reached(JobState::Queued).await.unwrap(), [b]);
    let mut filter = BulkFilter {
        states: vec![JobState::Failed],
        kind: None,
        created_before: None,
        created_after: None,
        error_code: code,
        limit: 10,
    };
    assert_eq!(
        db.bulk_page(a, &filter, None, 10).await.unwrap().plain,
        [dead]
    );
    filter.error_code = other;
    assert!(
        db.bulk_page(a, &filter, None, 10)
            .await
            .unwrap()
            .plain
            .is_empty()
    );
}
