//! The embedded queue: the same ordering as the Redis queue, in process
//! memory. It starts empty at every start; the reconciler refills it from the
//! job store, which is the record.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::Notify;

use super::{Lease, QueueDepth, QueueEntry, ready_score};
use crate::{clock::Clock, ids::JobId, model::Priority, time::Timestamp};

#[derive(Debug, Default)]
struct Lane {
    ready: BTreeSet<(i64, JobId)>,
    ready_ids: HashMap<JobId, i64>,
    scheduled: BTreeSet<(Timestamp, JobId)>,
    scheduled_priority: HashMap<JobId, Priority>,
    leased: BTreeSet<(Timestamp, String)>,
    lease_deadlines: HashMap<String, Timestamp>,
}

impl Lane {
    fn add_ready(&mut self, id: JobId, score: i64) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.ready_ids.entry(id) {
            slot.insert(score);
            self.ready.insert((score, id));
        }
    }

    fn add_scheduled(&mut self, e: &QueueEntry) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.scheduled_priority.entry(e.id)
        {
            slot.insert(e.priority);
            self.scheduled.insert((e.run_at, e.id));
        }
    }

    fn promote_due(&mut self, now: Timestamp) {
        while let Some(&(run_at, id)) = self.scheduled.first() {
            if run_at > now {
                break;
            }
            self.scheduled.pop_first();
            if let Some(priority) = self.scheduled_priority.remove(&id) {
                self.add_ready(id, ready_score(priority, run_at));
            }
        }
    }

    fn return_expired_leases(&mut self, now: Timestamp) {
        while let Some((deadline, _)) = self.leased.first() {
            if *deadline > now {
                break;
            }
            let Some((_, member)) = self.leased.pop_first() else {
                break;
            };
            self.lease_deadlines.remove(&member);
            if let Ok(lease) = Lease::from_member(member.clone()) {
                let score = member.split(':').next().and_then(|s| s.parse().ok());
                self.add_ready(lease.id, score.unwrap_or(0));
            }
        }
    }

    fn lease(&mut self, max: usize, deadline: Timestamp) -> Vec<Lease> {
        let mut leases = Vec::new();
        while leases.len() < max {
            let Some((score, id)) = self.ready.pop_first() else {
                break;
            };
            self.ready_ids.remove(&id);
            let member = format!("{score}:{id}");
            self.leased.insert((deadline, member.clone()));
            self.lease_deadlines.insert(member.clone(), deadline);
            leases.extend(Lease::from_member(member));
        }
        leases
    }

    fn ack(&mut self, lease: &Lease) {
        if let Some(deadline) = self.lease_deadlines.remove(&lease.receipt) {
            self.leased.remove(&(deadline, lease.receipt.clone()));
        }
    }
}

#[derive(Debug, Default)]
struct State {
    lanes: HashMap<String, Lane>,
    redrive_mark: Option<Timestamp>,
}

/// A queue in this process's memory; clones share it.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    state: Arc<Mutex<State>>,
    pushed: Arc<Notify>,
    clock: Clock,
}

impl EmbeddedQueue {
    /// An empty queue that tells due from scheduled by `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            state: Arc::default(),
            pushed: Arc::default(),
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain collections behind, still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn push(&self, entries: &[QueueEntry]) {
        let now = self.clock.now();
        {
            let mut state = self.state();
            for e in entries {
                let lane = state.lanes.entry(e.queue.clone()).or_default();
                if e.run_at <= now {
                    lane.add_ready(e.id, e.ready_score());
                } else {
                    lane.add_scheduled(e);
                }
            }
        }
        self.pushed.notify_waiters();
    }

    pub(super) fn pop(&self, queue: &str, max: usize, lease: Duration) -> Vec<Lease> {
        let mut state = self.state();
        let Some(lane) = state.lanes.get_mut(queue) else {
            return Vec::new();
        };
        let now = self.clock.now();
        lane.return_expired_leases(now);
        lane.promote_due(now);
        lane.lease(max, now.plus(lease))
    }

    pub(super) fn ack(&self, queue: &str, leases: &[Lease]) {
        if let Some(lane) = self.state().lanes.get_mut(queue) {
            leases.iter().for_each(|l| lane.ack(l));
        }
    }

    pub(super) async fn wait_for_work(&self, queue: &str, limit: Duration) {
        let notified = self.pushed.notified();
        let next_due = self
            .state()
            .lanes
            .get(queue)
            .and_then(|l| l.scheduled.first().map(|(t, _)| *t));
        let wait = next_due.map_or(limit, |t| t.since(self.clock.now()).min(limit));
        let _ = tokio::time::timeout(wait, notified).await;
    }

    pub(super) fn depth(&self, queue: &str) -> QueueDepth {
        self.state()
            .lanes
            .get(queue)
            .map_or_else(QueueDepth::default, |l| QueueDepth {
                ready: (l.ready.len() + l.leased.len()) as u64,
                scheduled: l.scheduled.len() as u64,
            })
    }

    pub(super) fn redrive_mark(&self) -> Option<Timestamp> {
        self.state().redrive_mark
    }

    pub(super) fn set_redrive_mark(&self, mark: Timestamp) {
        self.state().redrive_mark = Some(mark);
    }
}
