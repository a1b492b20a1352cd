//! Tenants take turns in a queue: a tenant's backlog does not hold another
//! tenant's job behind it, in a real fleet over Redis and Postgres.

use std::time::Duration;

use mixdown_jobs::ids::{JobId, TenantId};
use serde_json::{Value, json};

use crate::harness::{Client, Fleet, FleetOptions, create_key};

/// Jobs of the tenant with a backlog; each sleeps [`SLEEP_MS`], so the
/// backlog takes a worker of concurrency 1 a minute at least, however fast
/// the machine.
const BACKLOG: usize = 3000;
const SLEEP_MS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_backlog_does_not_hold_another_tenants_job_behind_it() {
    let options = FleetOptions {
        workers: 1,
        concurrency: 1,
        ..Default::default()
    };
    let fleet = Fleet::start(options).await;
    let a = fleet.client().clone();
    let b = Client::new(a.base.clone(), create_key(&fleet.env, "other"));
    let job = json!({"kind": "noop", "payload": {"sleep_ms": SLEEP_MS}});
    let mut a_ids = Vec::new();
    for _ in 0..BACKLOG / 1000 {
        let batch = json!({"jobs": vec![job.clone(); 1000]});
        let (status, body) = a.post("/v1/jobs/batch", Some(batch)).await;
        assert_eq!(status, 202, "{body}");
        a_ids.extend(body["jobs"].as_array().unwrap().iter().map(job_id));
    }
    let b_id = b.submit(job).await;
    b.wait_state(&b_id, "succeeded", Duration::from_secs(30))
        .await;
    let db = &fleet.stores.stores.db;
    let b_tenant = db.tenants.tenant_for_key(&b.key).await.unwrap().unwrap();
    let b_job = stored(db, b_tenant, &b_id).await;
    let waited = b_job.started_at.unwrap().since(b_job.created_at);
    let a_tenant = db.tenants.tenant_for_key(&a.key).await.unwrap().unwrap();
    let mut a_before = 0;
    for id in &a_ids {
        let started = stored(db, a_tenant, id).await.started_at;
        a_before += usize::from(started.is_some_and(|at| at <= b_job.started_at.unwrap()));
    }
    eprintln!("B's job started {waited:?} after it was made, after {a_before} of A's {BACKLOG}");
    let backlog = Duration::from_millis(SLEEP_MS * BACKLOG as u64);
    assert!(
        waited < backlog / 20,
        "B waited {waited:?} behind a {backlog:?} backlog"
    );
    assert!(
        a_before < BACKLOG / 10,
        "A had started {a_before} jobs first"
    );
    fleet.stop().await;
}

fn job_id(v: &Value) -> String {
    v["job_id"].as_str().unwrap().to_owned()
}

async fn stored(
    db: &mixdown_jobs::db::Database,
    tenant: TenantId,
    id: &str,
) -> mixdown_jobs::model::Job {
    let id = JobId::parse(id).unwrap();
    db.jobs.get(tenant, id).await.unwrap().unwrap()
}
