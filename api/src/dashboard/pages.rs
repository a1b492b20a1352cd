//! The dashboard's pages: reading what each shows, and one job's page.

use std::{
    collections::{HashMap, hash_map::Entry},
    time::Duration,
};

use maud::{Markup, html};
use mixdown_jobs::{
    Stores,
    codes::ErrorCode,
    db::{RunningJob, StoreError},
    ids::{JobId, TenantId},
    kind::JobKind,
    model::{Job, JobState},
    payload::shown,
};
use poem::{
    Request, Response, handler,
    web::{Path, Query},
};
use serde::Deserialize;

use super::{
    chart,
    layout::{self, action, page, time},
    overview::{self, Overview, QueueRow, job_link},
    session::{self, Session},
};
use crate::{error::ApiError, state::AppState};

/// Failed jobs the overview lists.
const FAILED_SHOWN: u32 = 50;
/// Schedules the overview lists.
const SCHEDULES_SHOWN: u32 = 50;
/// How often the pages refresh their live part.
const REFRESH_MS: u32 = 2000;

/// What the overview's address may carry: a code to narrow failed jobs to,
/// and the outcome of the action that led here.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Params {
    code: Option<String>,
    notice: Option<String>,
    n: Option<u64>,
}

/// The sentence telling what an action did; only these, so the address
/// cannot put words on the page.
fn notice(params: &Params) -> Option<String> {
    let n = params.n.unwrap_or(0);
    let text = match params.notice.as_deref()? {
        "retried" => format!("{n} job(s) queued again."),
        "cancelled" => format!("{n} job(s) cancelled or asked to stop."),
        "not_retryable" => "Only failed or cancelled jobs can be retried.".to_owned(),
        "not_cancellable" => "The job already ended.".to_owned(),
        "not_found" => "No such job.".to_owned(),
        _ => return None,
    };
    Some(text)
}

/// The live part of a page, refreshed in place by the script.
fn live(inner: Markup) -> Markup {
    html! { div #live data-refresh-ms=(REFRESH_MS) { (inner) } }
}

/// `GET /dashboard`: the overview.
#[handler]
pub(super) async fn show_overview(req: &Request, params: Query<Params>) -> Response {
    let session = match session::require(req).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let code = params.code.as_deref().and_then(ErrorCode::parse);
    let read = async { read_overview(session::app_state(req)?, code).await };
    match read.await {
        Ok(o) => {
            let main = html! {
                h1 { "Overview" }
                @if let Some(text) = notice(&params) { p.notice role="status" { (text) } }
                (live(overview::render(&o, &session)))
            };
            layout::html(page("Overview", Some(&session), main))
        }
        Err(err) => layout::problem(&session, &err),
    }
}

/// Reads everything the overview shows.
async fn read_overview(state: &AppState, code: Option<ErrorCode>) -> Result<Overview, ApiError> {
    let stores = &state.stores;
    let db = &stores.db;
    let now = stores.clock().now();
    let outcomes = db
        .outcomes_since(now.minus(Duration::from_secs(3600)))
        .await;
    let outcomes = outcomes.map_err(ApiError::unavailable)?;
    let failed = db.jobs_in_state(JobState::Failed, code, FAILED_SHOWN).await;
    let failed = failed.map_err(ApiError::unavailable)?;
    let schedules = db.schedules.soonest(SCHEDULES_SHOWN).await;
    let schedules = schedules.map_err(ApiError::unavailable)?;
    let workers = workers(state).await.map_err(ApiError::unavailable)?;
    let mut queues = queue_rows(stores).await.map_err(ApiError::unavailable)?;
    for o in &outcomes {
        if let Some(row) = queues.iter_mut().find(|r| r.stats.queue == o.queue) {
            row.succeeded += o.succeeded;
            row.failed += o.failed;
        }
    }
    let shown: Vec<TenantId> = failed
        .iter()
        .map(|j| j.tenant_id)
        .chain(
            workers
                .iter()
                .flat_map(|(_, js)| js.iter().map(|j| j.tenant_id)),
        )
        .chain(schedules.iter().map(|s| s.tenant_id))
        .collect();
    let tenants = tenant_names(stores, shown).await;
    Ok(Overview {
        now,
        queues,
        bars: chart::per_minute(&outcomes, now),
        errors: db.error_groups().await.map_err(ApiError::unavailable)?,
        code,
        failed,
        workers,
        schedules,
        tenants: tenants.map_err(ApiError::unavailable)?,
    })
}

/// A row for every queue of the fleet, with its work now.
async fn queue_rows(stores: &Stores) -> Result<Vec<QueueRow>, StoreError> {
    let stats = stores.db.queue_stats().await?;
    let mut names: Vec<&str> = JobKind::ALL.iter().map(|k| k.queue()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(names
        .into_iter()
        .map(|name| QueueRow {
            stats: stats
                .iter()
                .find(|s| s.queue == name)
                .cloned()
                .unwrap_or_else(|| mixdown_jobs::db::QueueStats {
                    queue: name.to_owned(),
                    due: 0,
                    later: 0,
                    running: 0,
                    oldest_due: None,
                }),
            succeeded: 0,
            failed: 0,
        })
        .collect())
}

/// Live workers, each with the attempts it runs.
async fn workers(
    state: &AppState,
) -> Result<Vec<(mixdown_jobs::db::WorkerRecord, Vec<RunningJob>)>, StoreError> {
    let db = &state.stores.db;
    let live = db.workers.live(state.fleet.dead_after_ms.get()).await?;
    let mut running: HashMap<String, Vec<RunningJob>> = HashMap::new();
    for job in db.jobs.running().await? {
        running
            .entry(job.worker_id.as_str().to_owned())
            .or_default()
            .push(job);
    }
    Ok(live
        .into_iter()
        .map(|w| {
            let jobs = running.remove(w.id.as_str()).unwrap_or_default();
            (w, jobs)
        })
        .collect())
}

/// The names of `ids`, each read once.
async fn tenant_names(
    stores: &Stores,
    ids: Vec<TenantId>,
) -> Result<HashMap<TenantId, String>, StoreError> {
    let mut names = HashMap::new();
    for id in ids {
        if let Entry::Vacant(slot) = names.entry(id) {
            slot.insert(stores.db.tenants.name(id).await?.unwrap_or_default());
        }
    }
    Ok(names)
}

/// `GET /dashboard/jobs/{id}`: one job of any tenant.
#[handler]
pub(super) async fn show_job(req: &Request, id: Path<String>, params: Query<Params>) -> Response {
    let session = match session::require(req).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let read = async {
        let state = session::app_state(req)?;
        let job = match JobId::parse(&id) {
            Some(id) => state.stores.db.any_job(id).await,
            None => Ok(None),
        };
        let job = job
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::not_found("job"))?;
        let tenant = state.stores.db.tenants.name(job.tenant_id).await;
        Ok::<_, ApiError>((job, tenant.map_err(ApiError::unavailable)?))
    };
    match read.await {
        Ok((job, tenant)) => {
            let main = html! {
                h1 { "Job " code { (job.id) } }
                @if let Some(text) = notice(&params) { p.notice role="status" { (text) } }
                (live(job_details(&job, tenant.as_deref().unwrap_or("?"), &session)))
            };
            layout::html(page("Job", Some(&session), main))
        }
        Err(err) => layout::problem(&session, &err),
    }
}

/// What a job's page shows: its record, its actions, and its payload
/// (secrets masked as every view masks them), result and error.
fn job_details(job: &Job, tenant: &str, session: &Session) -> Markup {
    let back = format!("/dashboard/jobs/{}", job.id);
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    html! {
        dl.job {
            dt { "tenant" } dd { (tenant) " " code { (job.tenant_id) } }
            dt { "kind" } dd { (job.kind.as_str()) }
            dt { "state" } dd { span.state data-state=(job.state.client_name()) { (job.state.client_name()) }
                @if job.cancel_requested { " (cancel requested)" } }
            dt { "attempts" } dd.attempts { (job.attempts) " of " (job.max_attempts) }
            dt { "progress" } dd { (format!("{:.0} %", job.progress * 100.0)) }
            dt { "priority" } dd { (job.priority.get()) }
            dt { "created" } dd { (time(job.created_at)) }
            dt { "runs at" } dd { (time(job.run_at)) }
            dt { "started" } dd { @if let Some(t) = job.started_at { (time(t)) } @else { "—" } }
            dt { "finished" } dd { @if let Some(t) = job.finished_at { (time(t)) } @else { "—" } }
            @if let Some(parent) = job.parent_id { dt { "parent" } dd { (job_link(parent)) } }
            @if let Some(url) = &job.callback_url { dt { "callback URL" } dd { code { (url) } } }
            @if let Some(cb) = job.callback_job_id { dt { "callback job" } dd { (job_link(cb)) } }
            @if let Some(tick) = job.schedule { dt { "schedule" } dd { code { (tick.schedule_id) } " tick " (time(tick.at)) } }
        }
        p.actions {
            @if matches!(job.state, JobState::Failed | JobState::Cancelled) {
                (action(session, &format!("/dashboard/jobs/{}/retry", job.id), "Retry", &back, &[], None))
            }
            @if !job.state.is_final() && !job.cancel_requested {
                (action(session, &format!("/dashboard/jobs/{}/cancel", job.id), "Cancel", &back, &[], None))
            }
        }
        h2 { "Error" }
        @match &job.error {
            Some(e) => p.error #job-error { code { (e.code.as_str()) } " " (e.message) },
            None => p.none { "None." },
        }
        h2 { "Payload" }
        pre #payload { (pretty(&shown(job.kind, job.payload.clone()))) }
        h2 { "Result" }
        @match &job.result {
            Some(result) => pre #result { (pretty(result)) },
            None => p.none { "None yet." },
        }
    }
}
