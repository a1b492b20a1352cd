//! Retrying and cancelling jobs by hand, one or every job a filter matches
//! (dead-letter replay), with what follows each: the events, the pushes and
//! the counts.

use crate::{
    Stores,
    db::{BulkPage, CancelOutcome, Redelivery, RetryOutcome, StoreError},
    events::Event,
    ids::{JobId, TenantId},
    model::{BulkFilter, Job},
    payload::JobPayload,
    tracks::{TrackState, TranscodePayload},
};

/// Jobs read and acted on per round of a bulk action.
const BULK_PAGE: u32 = 500;

impl Stores {
    /// Runs a failed or cancelled job again (see [`crate::db::Database::retry`]),
    /// tells subscribers and pushes what it queued.
    pub async fn retry(&self, tenant: TenantId, id: JobId) -> Result<RetryOutcome, StoreError> {
        let outcome = self.db.retry(tenant, id).await?;
        if let RetryOutcome::Requeued(job, entries) = &outcome {
            self.events.publish(tenant, &retried(job)).await;
            self.push_recorded(entries).await;
        }
        Ok(outcome)
    }

    /// Cancels a job (see [`crate::db::JobRepo::cancel`]), counts and tells
    /// what ended, and pushes the parents it woke.
    pub async fn cancel(&self, tenant: TenantId, id: JobId) -> Result<CancelOutcome, StoreError> {
        let outcome = self.db.jobs.cancel(tenant, id).await?;
        match &outcome {
            CancelOutcome::Cancelled(job, woken) => {
                let finished = &self.metrics.jobs_finished;
                finished
                    .with_label_values(&[job.kind.as_str(), "cancelled"])
                    .inc();
                self.events.publish(tenant, &[Event::job(job)]).await;
                self.push_recorded(woken).await;
            }
            CancelOutcome::Requested(_, woken) => self.push_recorded(woken).await,
            CancelOutcome::AlreadyFinal(_) | CancelOutcome::NotFound => {}
        }
        Ok(outcome)
    }

    /// Records a new report of the end of the tenant's job `id` (see
    /// [`crate::db::JobRepo::redeliver`]) and pushes it.
    pub async fn redeliver(&self, tenant: TenantId, id: JobId) -> Result<Redelivery, StoreError> {
        let outcome = self.db.jobs.redeliver(tenant, id).await?;
        if let Redelivery::Recorded(report) = &outcome {
            self.announce(std::slice::from_ref(report)).await;
        }
        Ok(outcome)
    }

    /// Retries every failed or cancelled job of `tenant` that `filter`
    /// matches, up to its limit, a page at a time: jobs on their own in one
    /// statement a page, members of a workflow one by one as
    /// [`Stores::retry`] does. Answers how many run again.
    pub async fn retry_matching(
        &self,
        tenant: TenantId,
        filter: &BulkFilter,
    ) -> Result<u64, StoreError> {
        let mut done = 0u64;
        let mut after = None;
        while let Some(page) = self.next_page(tenant, filter, &mut after, done).await? {
            let requeued = self.db.retry_plain(tenant, &page.plain).await?;
            let events: Vec<Event> = requeued.jobs.iter().flat_map(retried).collect();
            self.events.publish(tenant, &events).await;
            self.push_recorded(&requeued.entries).await;
            done += requeued.jobs.len() as u64;
            for id in page.family {
                if let RetryOutcome::Requeued(..) = self.retry(tenant, id).await? {
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// Cancels every job of `tenant` that `filter` matches, up to its
    /// limit, a page at a time, as [`Stores::cancel`] does each. Answers how
    /// many were cancelled or asked to stop.
    pub async fn cancel_matching(
        &self,
        tenant: TenantId,
        filter: &BulkFilter,
    ) -> Result<u64, StoreError> {
        let mut done = 0u64;
        let mut after = None;
        while let Some(page) = self.next_page(tenant, filter, &mut after, done).await? {
            for id in page.plain.into_iter().chain(page.family) {
                let outcome = self.cancel(tenant, id).await?;
                if let CancelOutcome::Cancelled(..) | CancelOutcome::Requested(..) = outcome {
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// The next page of matching jobs after `after` (moved past it), no
    /// larger than what is left of the limit once `done` were acted on;
    /// `None` when no job is left to act on.
    async fn next_page(
        &self,
        tenant: TenantId,
        filter: &BulkFilter,
        after: &mut Option<JobId>,
        done: u64,
    ) -> Result<Option<BulkPage>, StoreError> {
        let left = u64::from(filter.limit).saturating_sub(done);
        if left == 0 || filter.states.is_empty() {
            return Ok(None);
        }
        let size = u32::try_from(left).map_or(BULK_PAGE, |l| l.min(BULK_PAGE));
        let page = self.db.bulk_page(tenant, filter, *after, size).await?;
        match page.last {
            Some(last) => {
                *after = Some(last);
                Ok(Some(page))
            }
            None => Ok(None),
        }
    }
}

/// The events of a job run again: its state, and its track's when it is a
/// step of a track's workflow, which the retry reopened.
fn retried(job: &Job) -> Vec<Event> {
    let track = match JobPayload::parse(job.kind, Some(&job.payload)) {
        Ok(
            JobPayload::Ingest(p)
            | JobPayload::Transcode(TranscodePayload::Workflow(p))
            | JobPayload::Track(p),
        ) => Some(Event::TrackState {
            track_id: p.track_id,
            state: TrackState::Processing,
        }),
        _ => None,
    };
    std::iter::once(Event::job(job)).chain(track).collect()
}
