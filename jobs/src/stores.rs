//! The three stores a process works with, and the hand-over between them.

use tracing::warn;

use crate::{
    clock::Clock,
    db::{Database, Inserted, Published, StoreError},
    events::{Event, Events},
    ids::{ActivityId, TenantId},
    metrics::Metrics,
    model::{Job, JobState, NewJob},
    objects::ObjectStore,
    payload::JobPayload,
    queue::{Queue, QueueEntry},
    social::NewActivity,
};

/// Handles to the database, the queue and the object store, plus metrics.
#[derive(Debug, Clone)]
pub struct Stores {
    /// The system of record.
    pub db: Database,
    /// Carries job ids to workers.
    pub queue: Queue,
    /// Holds audio and outputs.
    pub objects: ObjectStore,
    /// This process's metrics.
    pub metrics: Metrics,
    /// Tells subscribers what changed.
    pub events: Events,
}

impl Stores {
    /// The clock every store reads.
    pub fn clock(&self) -> &Clock {
        self.db.clock()
    }

    /// Accepts a job: records it, then pushes it to the queue. Once recorded
    /// the job is accepted even if the push fails, because the reconciler
    /// pushes recorded jobs the queue does not have.
    pub async fn submit(&self, new: &NewJob) -> Result<Inserted, StoreError> {
        let mut inserted = self.submit_many(std::slice::from_ref(new)).await?;
        Ok(inserted.pop().expect("one answer per job"))
    }

    /// Accepts jobs together: records them in one statement per thousand,
    /// then pushes those that are new in one pipeline. Answers each in the
    /// order given.
    pub async fn submit_many(&self, news: &[NewJob]) -> Result<Vec<Inserted>, StoreError> {
        let inserted = self.db.jobs.insert_many(news).await?;
        let created: Vec<Job> = inserted
            .iter()
            .filter(|i| i.created)
            .map(|i| i.job.clone())
            .collect();
        self.announce(&created).await;
        Ok(inserted)
    }

    /// Records an activity with its fan-out job (made by `job` from its
    /// payload) and pushes the job; the same activity again answers the
    /// first, whose job was pushed then.
    pub async fn publish(
        &self,
        new: &NewActivity,
        job: impl Fn(JobPayload) -> NewJob,
    ) -> Result<Published, StoreError> {
        let published = self.db.feeds.publish(new, job).await?;
        Ok(self.announce_recorded(published).await)
    }

    /// Deletes an activity of `tenant` and pushes the fan-out (made by `job`)
    /// that takes it out of feeds; deleting it again answers the first
    /// deletion. `None` if the tenant has no such activity.
    pub async fn retract(
        &self,
        tenant: TenantId,
        id: ActivityId,
        job: impl Fn(JobPayload) -> NewJob,
    ) -> Result<Option<Published>, StoreError> {
        let Some(retracted) = self.db.feeds.retract(tenant, id, job).await? else {
            return Ok(None);
        };
        Ok(Some(self.announce_recorded(retracted).await))
    }

    async fn announce_recorded(&self, recorded: Published) -> Published {
        if recorded.created {
            self.announce(std::slice::from_ref(&recorded.job)).await;
        }
        recorded
    }

    /// Counts jobs just recorded, publishes their states, and pushes those
    /// that are queued (a parent waiting for its children is pushed when it
    /// wakes); for jobs recorded together with other rows (a track and its
    /// workflow). The states are written before the push, so no worker's
    /// `running` can come before them.
    pub async fn announce(&self, jobs: &[Job]) {
        for job in jobs {
            let kind = job.kind.as_str();
            self.metrics.jobs_enqueued.with_label_values(&[kind]).inc();
        }
        for same_tenant in jobs.chunk_by(|a, b| a.tenant_id == b.tenant_id) {
            let events: Vec<Event> = same_tenant.iter().map(Event::job).collect();
            self.events.publish(same_tenant[0].tenant_id, &events).await;
        }
        let queued: Vec<QueueEntry> = jobs
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .map(QueueEntry::for_job)
            .collect();
        self.push_recorded(&queued).await;
    }

    /// Pushes entries of jobs already recorded as queued. A failed push is
    /// logged, not returned: the record stands, and the reconciler pushes
    /// recorded jobs that the queue does not have.
    pub async fn push_recorded(&self, entries: &[QueueEntry]) {
        if let Err(err) = self.queue.push(entries).await {
            warn!(jobs = entries.len(), error = %err, "queue push failed; the reconciler will push");
        }
    }
}
