//! The queue that carries job ids to workers: Redis in the fleet, in memory
//! when embedded.
//!
//! The queue only carries work; the job store is the record. Pushing an id
//! twice is harmless (a queue holds each id once, and a claim in the store
//! runs each attempt once), so a reconciler can push again whatever the
//! queue may have lost.
//!
//! Within a queue, tenants take turns ([`fairness`]): a tenant's backlog
//! never holds another tenant's job behind it. Within a tenant, higher
//! priority runs first, then the longer due.

mod embedded;
mod fairness;
mod redis;

use std::time::Duration;

pub use self::{
    embedded::EmbeddedQueue,
    fairness::{TenantWeight, TenantWeights},
    redis::RedisQueue,
};
use crate::{
    ids::{JobId, TenantId},
    model::{Job, Priority},
    time::Timestamp,
};

/// A failure of the queue backend.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached or refused a command.
    #[error("redis error: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// The queue returned something that is not a job id.
    #[error("queue holds a malformed entry: {0:?}")]
    Malformed(String),
}

/// What the queue needs to know of a job to order it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The job.
    pub id: JobId,
    /// Its owner, whose turn it waits for.
    pub tenant: TenantId,
    /// The queue it waits in.
    pub queue: String,
    /// Higher runs first among due jobs.
    pub priority: Priority,
    /// Not handed out before this instant.
    pub run_at: Timestamp,
}

impl QueueEntry {
    /// The entry for a stored job.
    pub fn for_job(job: &Job) -> Self {
        Self {
            id: job.id,
            tenant: job.tenant_id,
            queue: job.kind.queue().to_owned(),
            priority: job.priority,
            run_at: job.run_at,
        }
    }
}

const PRIORITY_STRIDE: i64 = 1 << 42;

/// Sort key among a tenant's due jobs: priority first, then due time (FIFO).
/// Fits a double exactly, which is what a Redis sorted-set score is.
fn ready_score(priority: Priority, run_at: Timestamp) -> i64 {
    i64::from(Priority::MAX - priority.get()) * PRIORITY_STRIDE + run_at.millis()
}

/// An id handed out by the queue, to be acknowledged once claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// What the backend needs to find the lease again.
    pub(crate) receipt: String,
}

impl Lease {
    /// Parses a `score:tenant:id` lease member.
    fn from_member(member: String) -> Result<Self, QueueError> {
        let id = member.rsplit_once(':').and_then(|(_, id)| JobId::parse(id));
        match id {
            Some(id) => Ok(Self {
                id,
                receipt: member,
            }),
            None => Err(QueueError::Malformed(member)),
        }
    }
}

/// How much work waits in one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Due jobs waiting for a worker (including those being handed over).
    pub ready: u64,
    /// Jobs waiting for their `run_at`.
    pub scheduled: u64,
}

/// The queue backend in use.
#[derive(Debug, Clone)]
pub enum Queue {
    /// Redis, shared by the fleet.
    Redis(RedisQueue),
    /// In process memory, for the embedded mode.
    Embedded(EmbeddedQueue),
}

impl Queue {
    /// Adds entries; an entry already present is left as it is.
    pub async fn push(&self, entries: &[QueueEntry]) -> Result<(), QueueError> {
        match self {
            Queue::Redis(q) => q.push(entries).await,
            Queue::Embedded(q) => {
                q.push(entries);
                Ok(())
            }
        }
    }

    /// Leases up to `max` due ids from `queue`, highest priority first. A
    /// lease not acknowledged within `lease` returns its id to the queue.
    pub async fn pop(
        &self,
        queue: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Lease>, QueueError> {
        match self {
            Queue::Redis(q) => q.pop(queue, max, lease).await,
            Queue::Embedded(q) => Ok(q.pop(queue, max, lease)),
        }
    }

    /// Acknowledges leases whose ids are now recorded as claimed (or are no
    /// longer claimable): the queue forgets them.
    pub async fn ack(&self, queue: &str, leases: &[Lease]) -> Result<(), QueueError> {
        match self {
            Queue::Redis(q) => q.ack(queue, leases).await,
            Queue::Embedded(q) => {
                q.ack(queue, leases);
                Ok(())
            }
        }
    }

    /// Waits until work may have arrived in `queue`, at most `limit`.
    pub async fn wait_for_work(&self, queue: &str, limit: Duration) {
        match self {
            Queue::Redis(_) => tokio::time::sleep(limit).await,
            Queue::Embedded(q) => q.wait_for_work(queue, limit).await,
        }
    }

    /// How much work waits in `queue`.
    pub async fn depth(&self, queue: &str) -> Result<QueueDepth, QueueError> {
        match self {
            Queue::Redis(q) => q.depth(queue).await,
            Queue::Embedded(q) => Ok(q.depth(queue)),
        }
    }

    /// The reconciler's mark: every queued job changed before it has been
    /// pushed. `None` when the queue lost it, i.e. it is new or lost its data.
    pub async fn redrive_mark(&self) -> Result<Option<Timestamp>, QueueError> {
        match self {
            Queue::Redis(q) => q.redrive_mark().await,
            Queue::Embedded(q) => Ok(q.redrive_mark()),
        }
    }

    /// Moves the reconciler's mark.
    pub async fn set_redrive_mark(&self, mark: Timestamp) -> Result<(), QueueError> {
        match self {
            Queue::Redis(q) => q.set_redrive_mark(mark).await,
            Queue::Embedded(q) => {
                q.set_redrive_mark(mark);
                Ok(())
            }
        }
    }

    /// Moves the entries of `queue` that an older Redis layout still holds
    /// into the current one; returns how many moved.
    pub async fn adopt_untagged(&self, queue: &str) -> Result<u64, QueueError> {
        match self {
            Queue::Redis(q) => q.adopt_untagged(queue).await,
            Queue::Embedded(_) => Ok(0),
        }
    }

    /// Takes or renews a lease that lets one process at a time run the
    /// reconciler; true while `holder` holds it.
    pub async fn lead(&self, holder: &str, ttl: Duration) -> Result<bool, QueueError> {
        match self {
            Queue::Redis(q) => q.lead(holder, ttl).await,
            Queue::Embedded(_) => Ok(true),
        }
    }

    /// Checks that the backend answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            Queue::Redis(q) => q.ping().await,
            Queue::Embedded(_) => Ok(()),
        }
    }
}
