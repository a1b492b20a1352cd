//! The embedded mode's live events: per tenant, a bounded ring of entries in
//! process memory and a wakeup for its subscribers. Ids have the Redis
//! stream's form, taken from the stores' clock.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::watch;

use super::{
    Batch, Retention,
    entry::{Entry, EventId, Record},
};
use crate::{clock::Clock, ids::TenantId};

/// One tenant's entries, oldest first.
#[derive(Debug)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    last: EventId,
    added: watch::Sender<Arc<Batch>>,
}

impl Default for Ring {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            last: EventId::ZERO,
            added: watch::Sender::new(Arc::new(Batch::empty(EventId::ZERO))),
        }
    }
}

impl Ring {
    fn append(&mut self, now_ms: u64, record: Record) -> Arc<Entry> {
        self.last = self.last.next(now_ms);
        let entry = Arc::new(Entry::new(self.last, record));
        self.entries.push_back(entry.clone());
        entry
    }

    /// Drops what is past the cap, and what is older than the window.
    fn trim(&mut self, now_ms: u64, retention: &Retention) {
        let excess = self.entries.len().saturating_sub(retention.cap());
        self.entries.drain(..excess);
        let window = u64::try_from(retention.window.as_millis()).unwrap_or(u64::MAX);
        let oldest_kept = now_ms.saturating_sub(window);
        let stale = self
            .entries
            .partition_point(|e| e.id.millis() < oldest_kept);
        self.entries.drain(..stale);
    }
}

/// Live events in this process's memory; clones share them.
#[derive(Debug, Clone)]
pub struct MemoryEvents {
    rings: Arc<Mutex<HashMap<TenantId, Ring>>>,
    clock: Clock,
    retention: Retention,
}

impl MemoryEvents {
    /// An empty log with ids from `clock`, keeping what `retention` says.
    pub fn new(clock: Clock, retention: Retention) -> Self {
        Self {
            rings: Arc::default(),
            clock,
            retention,
        }
    }

    fn rings(&self) -> MutexGuard<'_, HashMap<TenantId, Ring>> {
        // A panic while holding the lock leaves plain collections behind, still usable.
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().millis()).unwrap_or(0)
    }

    /// Appends the records, in order, and wakes each tenant's subscribers once.
    pub(super) fn append(&self, records: Vec<(TenantId, Record)>) {
        let now = self.now_ms();
        let mut added: HashMap<TenantId, Batch> = HashMap::new();
        let mut rings = self.rings();
        for (tenant, record) in records {
            let ring = rings.entry(tenant).or_default();
            let batch = added
                .entry(tenant)
                .or_insert_with(|| Batch::empty(ring.last));
            batch.entries.push(ring.append(now, record));
        }
        for (tenant, batch) in added {
            if let Some(ring) = rings.get_mut(&tenant) {
                ring.trim(now, &self.retention);
                ring.added.send_replace(Arc::new(batch));
            }
        }
    }

    /// The id of the tenant's newest entry, and the wakeup of its appends.
    pub(super) fn watch(&self, tenant: TenantId) -> (EventId, watch::Receiver<Arc<Batch>>) {
        let mut rings = self.rings();
        let ring = rings.entry(tenant).or_default();
        (ring.last, ring.added.subscribe())
    }

    /// Up to `count` of the tenant's entries after `after`, up to `upto`.
    pub(super) fn range(
        &self,
        tenant: TenantId,
        after: EventId,
        upto: EventId,
        count: usize,
    ) -> Vec<Arc<Entry>> {
        let rings = self.rings();
        let Some(ring) = rings.get(&tenant) else {
            return Vec::new();
        };
        let start = ring.entries.partition_point(|e| e.id <= after);
        ring.entries
            .range(start..)
            .take_while(|e| e.id <= upto)
            .take(count)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{clock::ManualClock, events::Event, ids::JobId};

    fn record() -> Record {
        let event = Event::JobProgress {
            job_id: JobId::new(),
            progress: 0.5,
        };
        event.record()
    }

    fn kept(events: &MemoryEvents, tenant: TenantId) -> usize {
        let newest = events.watch(tenant).0;
        events
            .range(tenant, EventId::ZERO, newest, usize::MAX)
            .len()
    }

    #[test]
    fn a_ring_keeps_its_cap_and_its_window() {
        let clock = ManualClock::new();
        let retention = Retention {
            max_len: 3,
            window: Duration::from_secs(60),
        };
        let events = MemoryEvents::new(clock.clone().into(), retention);
        let (tenant, other) = (TenantId::new(), TenantId::new());
        events.append((0..5).map(|_| (tenant, record())).collect());
        events.append(vec![(other, record())]);
        assert_eq!((kept(&events, tenant), kept(&events, other)), (3, 1));
        clock.advance(Duration::from_secs(61));
        events.append(vec![(tenant, record())]);
        assert_eq!(kept(&events, tenant), 1);
    }

    #[test]
    fn ids_increase_within_one_millisecond() {
        let retention = Retention {
            max_len: 10,
            window: Duration::from_secs(60),
        };
        let events = MemoryEvents::new(ManualClock::new().into(), retention);
        let tenant = TenantId::new();
        events.append((0..3).map(|_| (tenant, record())).collect());
        let newest = events.watch(tenant).0;
        let ids: Vec<String> = events
            .range(tenant, EventId::ZERO, newest, 10)
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        let millis = newest.millis();
        assert_eq!(ids, [0, 1, 2].map(|seq| format!("{millis}-{seq}")));
    }
}
