//! Live events: what changed in a tenant's jobs, tracks and feeds, kept a
//! while per tenant so that a subscriber who reconnects gets what it missed.
//! In the fleet, a capped Redis stream per tenant that any API replica (or a
//! gateway) reads; embedded, a bounded ring per tenant in memory. Ids have
//! the stream's form, `{millis}-{seq}`, in both.
//!
//! Publishing never fails its caller: a lost event is logged, and the job
//! store stays the record of every state.

mod entry;
mod memory;
mod redis;
mod tail;
mod topics;

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;
use tracing::warn;

use self::tail::Tail;
pub use self::{
    entry::{Entry, EntryKind, Event, EventId, Route},
    memory::MemoryEvents,
    redis::RedisEvents,
    topics::{Delivery, Topics, TopicsError},
};
use crate::ids::TenantId;

/// Most entries read from the log at once when catching up.
const PAGE: usize = 500;

/// A failure of the events backend.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// Redis could not be reached or refused a command.
    #[error("redis error: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// How much of each tenant's log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Most entries per tenant (Redis: `XADD MAXLEN ~`, so about this many).
    pub max_len: u64,
    /// How long entries stay at least, unless the cap comes first
    /// (Redis: a quiet tenant's stream expires this long after its last entry).
    pub window: Duration,
}

impl Retention {
    fn cap(&self) -> usize {
        usize::try_from(self.max_len).unwrap_or(usize::MAX).max(1)
    }
}

/// Entries read together, and the id the reader had reached before them.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    prev: EventId,
    entries: Vec<Arc<Entry>>,
}

impl Batch {
    fn empty(prev: EventId) -> Self {
        Self {
            prev,
            entries: Vec::new(),
        }
    }

    /// The id the reader has reached with this batch.
    fn last(&self) -> EventId {
        self.entries.last().map_or(self.prev, |e| e.id)
    }
}

/// The live events backend in use.
#[derive(Debug, Clone)]
pub enum Events {
    /// Redis streams, shared by the fleet.
    Redis(RedisEvents),
    /// In process memory, for the embedded mode.
    Memory(MemoryEvents),
}

impl Events {
    /// Appends `events` to the tenant's log, in order, and waits until they
    /// are written (one round trip). Never fails the caller: an event Redis
    /// refuses is logged and lost.
    pub async fn publish(&self, tenant: TenantId, events: &[Event]) {
        let records: Vec<_> = events.iter().map(|e| (tenant, e.record())).collect();
        if records.is_empty() {
            return;
        }
        match self {
            Events::Redis(r) => r.publish(records).await,
            Events::Memory(m) => m.append(records),
        }
    }

    /// The same without waiting, for the hot paths of workers: the events
    /// are written in the background, in order, after those posted before
    /// (a `publish` meanwhile may be written first).
    pub fn post(&self, events: &[(TenantId, Event)]) {
        let records: Vec<_> = events.iter().map(|(t, e)| (*t, e.record())).collect();
        if records.is_empty() {
            return;
        }
        match self {
            Events::Redis(r) => r.post(records),
            Events::Memory(m) => m.append(records),
        }
    }

    /// Subscribes to the tenant's log after `after` (a `Last-Event-ID`), or
    /// after its newest entry. An `after` beyond the newest entry (from
    /// before Redis lost its data) counts as the newest, so that a
    /// subscriber never waits for ids the log will not reach soon.
    pub async fn subscribe(
        &self,
        tenant: TenantId,
        after: Option<EventId>,
    ) -> Result<Subscription, EventsError> {
        let (newest, added, source) = match self {
            Events::Redis(r) => {
                let newest = r.newest(tenant).await?;
                let tail = r.tail(tenant, newest);
                let source = Source::Redis {
                    events: r.clone(),
                    _tail: tail.clone(),
                };
                (newest, tail.added(), source)
            }
            Events::Memory(m) => {
                let (newest, added) = m.watch(tenant);
                (newest, added, Source::Memory(m.clone()))
            }
        };
        Ok(Subscription {
            tenant,
            last: after.map_or(newest, |a| a.min(newest)),
            added,
            source,
        })
    }
}

/// Where a subscription reads.
#[derive(Debug)]
enum Source {
    Redis {
        events: RedisEvents,
        /// Kept, so the tenant's reader runs while this subscription lives.
        _tail: Arc<Tail>,
    },
    Memory(MemoryEvents),
}

/// One subscriber's place in its tenant's log.
#[derive(Debug)]
pub struct Subscription {
    tenant: TenantId,
    last: EventId,
    added: watch::Receiver<Arc<Batch>>,
    source: Source,
}

impl Subscription {
    /// The id of the last entry returned (or skipped).
    pub fn last_id(&self) -> EventId {
        self.last
    }

    /// The next entries, oldest first: those the log still holds after the
    /// last one returned, then new ones as they come. A failed read is
    /// logged and tried again; `None` once the log's reader is gone.
    pub async fn next(&mut self) -> Option<Vec<Arc<Entry>>> {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.step().await {
                Ok(Some(entries)) if !entries.is_empty() => return Some(entries),
                Ok(Some(_)) => {}
                Ok(None) => self.added.changed().await.ok()?,
                Err(err) => {
                    warn!(error = %err, "reading live events failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// What the reader's latest batch brings past `last`: first, from the
    /// log, any gap between `last` and the batch (a late start, a batch
    /// missed while busy), then the batch itself. `None` when nothing is new.
    async fn step(&mut self) -> Result<Option<Vec<Arc<Entry>>>, EventsError> {
        let batch = self.added.borrow_and_update().clone();
        if batch.last() <= self.last {
            return Ok(None);
        }
        if batch.prev > self.last {
            let page = self.range(batch.prev).await?;
            if let Some(newest) = page.last() {
                self.last = newest.id;
                return Ok(Some(page));
            }
        }
        let fresh = batch.entries.iter().filter(|e| e.id > self.last);
        let fresh = fresh.cloned().collect();
        self.last = batch.last();
        Ok(Some(fresh))
    }

    async fn range(&self, upto: EventId) -> Result<Vec<Arc<Entry>>, EventsError> {
        match &self.source {
            Source::Redis { events, .. } => events.range(self.tenant, self.last, upto, PAGE).await,
            Source::Memory(m) => Ok(m.range(self.tenant, self.last, upto, PAGE)),
        }
    }
}
