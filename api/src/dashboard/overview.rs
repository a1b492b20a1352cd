//! The overview page: queues, the last hour, failures by error code,
//! failed jobs, running jobs with their workers, and schedules.

use std::collections::HashMap;

use maud::{Markup, html};
use mixdown_jobs::{
    codes::ErrorCode,
    db::{ErrorGroup, QueueStats, RunningJob, WorkerRecord},
    ids::{JobId, TenantId},
    model::Job,
    schedules::Schedule,
    time::Timestamp,
};

use super::{
    chart,
    layout::{action, span, time},
    session::Session,
};

/// One queue's row: its work now and its outcomes in the last hour.
#[derive(Debug, Clone)]
pub(super) struct QueueRow {
    /// Its work now.
    pub stats: QueueStats,
    /// Jobs that succeeded in the last hour.
    pub succeeded: u64,
    /// Jobs that failed for good in the last hour.
    pub failed: u64,
}

/// Everything the overview shows, read at `now`.
#[derive(Debug, Clone)]
pub(super) struct Overview {
    /// When it was read.
    pub now: Timestamp,
    /// Every queue.
    pub queues: Vec<QueueRow>,
    /// Succeeded and failed jobs per minute of the last hour.
    pub bars: Vec<(u64, u64)>,
    /// Failures by error code.
    pub errors: Vec<ErrorGroup>,
    /// The code the failed jobs are narrowed to, if any.
    pub code: Option<ErrorCode>,
    /// The latest failed jobs.
    pub failed: Vec<Job>,
    /// Live workers and the attempts they hold.
    pub workers: Vec<(WorkerRecord, Vec<RunningJob>)>,
    /// Schedules, the next to tick first.
    pub schedules: Vec<Schedule>,
    /// The names of the tenants shown.
    pub tenants: HashMap<TenantId, String>,
}

impl Overview {
    /// Where a form on this page leads back to.
    fn back(&self) -> String {
        match self.code {
            Some(code) => format!("/dashboard?code={code}"),
            None => "/dashboard".to_owned(),
        }
    }

    fn tenant(&self, id: TenantId) -> Markup {
        let name = self.tenants.get(&id).map_or("?", String::as_str);
        html! { span.tenant title=(id) { (name) } }
    }
}

/// A link to a job's page.
pub(super) fn job_link(id: JobId) -> Markup {
    html! { a.job href={ "/dashboard/jobs/" (id) } { code { (id) } } }
}

/// The live part of the overview.
pub(super) fn render(o: &Overview, session: &Session) -> Markup {
    html! {
        p.stamp { "Updated " (time(o.now)) " UTC" }
        (queues(o))
        section #throughput {
            h2 { "Jobs ended, last hour" }
            (chart::throughput(&o.bars))
        }
        (failures(o, session))
        (failed_jobs(o, session))
        (running(o, session))
        (schedules(o))
    }
}

fn queues(o: &Overview) -> Markup {
    html! {
        section #queues {
            h2 { "Queues" }
            table {
                thead { tr {
                    th { "queue" } th.n { "backlog" } th.n { "later" } th.n { "running" }
                    th { "oldest waiting" } th.n { "done / h" } th.n { "failed / h" }
                    th.n { "failure rate" }
                } }
                tbody {
                    @for q in &o.queues {
                        @let ended = q.succeeded + q.failed;
                        tr data-queue=(q.stats.queue) {
                            td { (q.stats.queue) }
                            td.n.backlog { (q.stats.due) }
                            td.n { (q.stats.later) }
                            td.n { (q.stats.running) }
                            td { @if let Some(t) = q.stats.oldest_due { (span(o.now.since(t))) } @else { "—" } }
                            td.n { (q.succeeded) }
                            td.n { (q.failed) }
                            td.n { @if ended > 0 { (format!("{:.1} %", 100.0 * q.failed as f64 / ended as f64)) } @else { "—" } }
                        }
                    }
                }
            }
        }
    }
}

fn failures(o: &Overview, session: &Session) -> Markup {
    let back = o.back();
    html! {
        section #failures {
            h2 { "Failures by error code" }
            @if o.errors.is_empty() { p.none { "No failed jobs." } } @else {
                table {
                    thead { tr {
                        th { "code" } th { "meaning" } th.n { "failed" } th.n { "retrying" }
                        th { "latest" } th { "" }
                    } }
                    tbody {
                        @for g in &o.errors {
                            @let code = g.code.as_str();
                            tr data-code=(code) {
                                td { a href={ "/dashboard?code=" (code) } { code { (code) } } }
                                // The catalogue's sentences mark names up as Markdown code.
                                td.meaning { (g.code.meaning().replace('`', "")) }
                                td.n { (g.failed) }
                                td.n { (g.retrying) }
                                td { (span(o.now.since(g.last_at))) " ago" }
                                td.actions {
                                    @if g.failed > 0 {
                                        (action(session, "/dashboard/errors/retry", &format!("Retry {} failed", g.failed),
                                            &back, &[("code", code)], Some("Retry every failed job with this code?")))
                                    }
                                    @if g.retrying > 0 {
                                        (action(session, "/dashboard/errors/cancel", &format!("Cancel {} retrying", g.retrying),
                                            &back, &[("code", code)], Some("Cancel every job retrying after this code?")))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn failed_jobs(o: &Overview, session: &Session) -> Markup {
    let back = o.back();
    html! {
        section #failed {
            h2 {
                "Failed jobs"
                @if let Some(code) = o.code { " with " code { (code.as_str()) } " " a.clear href="/dashboard" { "(all)" } }
            }
            @if o.failed.is_empty() { p.none { "None." } } @else {
                table {
                    thead { tr {
                        th { "job" } th { "tenant" } th { "kind" } th { "error" } th.n { "attempts" }
                        th { "ended" } th { "" }
                    } }
                    tbody {
                        @for job in &o.failed {
                            tr data-job=(job.id) {
                                td { (job_link(job.id)) }
                                td { (o.tenant(job.tenant_id)) }
                                td { (job.kind.as_str()) }
                                td.error {
                                    @if let Some(e) = &job.error { code { (e.code.as_str()) } " " (e.message) }
                                }
                                td.n { (job.attempts) }
                                td { @if let Some(t) = job.finished_at { (span(o.now.since(t))) " ago" } }
                                td.actions {
                                    (action(session, &format!("/dashboard/jobs/{}/retry", job.id), "Retry", &back, &[], None))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn running(o: &Overview, session: &Session) -> Markup {
    let back = o.back();
    html! {
        section #running {
            h2 { "Workers and running jobs" }
            @if o.workers.is_empty() { p.none { "No live worker." } }
            @for (w, jobs) in &o.workers {
                div.worker data-worker=(w.id.as_str()) {
                    h3 {
                        code { (w.id.as_str()) }
                        span.meta {
                            (w.hostname) " pid " (w.pid) " · " (w.queues.join(", ")) " × " (w.concurrency)
                            " · beat " (span(o.now.since(w.last_seen))) " ago · " (jobs.len()) " running"
                        }
                    }
                    @if !jobs.is_empty() {
                        table {
                            tbody {
                                @for j in jobs {
                                    tr {
                                        td { (job_link(j.id)) }
                                        td { (o.tenant(j.tenant_id)) }
                                        td { (j.kind.as_str()) }
                                        td { "for " (span(o.now.since(j.started_at))) }
                                        td.actions {
                                            (action(session, &format!("/dashboard/jobs/{}/cancel", j.id), "Cancel", &back, &[], None))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn schedules(o: &Overview) -> Markup {
    html! {
        section #schedules {
            h2 { "Schedules" }
            @if o.schedules.is_empty() { p.none { "No schedule." } } @else {
                table {
                    thead { tr {
                        th { "name" } th { "tenant" } th { "cron" } th { "time zone" } th { "kind" }
                        th { "next run (UTC)" } th { "last tick" }
                    } }
                    tbody {
                        @for s in &o.schedules {
                            tr {
                                td { (s.name.as_str()) @if s.paused { " " span.paused { "paused" } } }
                                td { (o.tenant(s.tenant_id)) }
                                td { code { (s.rule.expression()) } }
                                td { (s.rule.zone()) }
                                td { (s.template.payload.kind().as_str()) }
                                td { (time(s.next_run_at)) }
                                td { @if let Some(t) = s.last_tick { (time(t)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
    }
}
