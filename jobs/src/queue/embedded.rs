//! The embedded queue: the same ordering as the Redis queue, in process
//! memory. It starts empty at every start; the reconciler refills it from the
//! job store, which is the record.

use std::{
    collections::{BTreeSet, HashMap, hash_map::Entry},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::Notify;

use super::{
    Lease, QueueDepth, QueueEntry,
    fairness::{TenantWeights, turns_before},
    ready_score,
};
use crate::{
    clock::Clock,
    ids::{JobId, TenantId},
    model::Priority,
    time::Timestamp,
};

/// A leased id and where it returns to.
#[derive(Debug, Clone, Copy)]
struct Held {
    deadline: Timestamp,
    tenant: TenantId,
    score: i64,
}

#[derive(Debug, Default)]
struct Lane {
    /// Tenants with due work, by virtual time.
    turns: BTreeSet<(i64, TenantId)>,
    turn_of: HashMap<TenantId, i64>,
    /// The virtual time of the last turn taken.
    clock: i64,
    ready: HashMap<TenantId, BTreeSet<(i64, JobId)>>,
    ready_ids: HashMap<JobId, TenantId>,
    scheduled: BTreeSet<(Timestamp, JobId)>,
    scheduled_entry: HashMap<JobId, (TenantId, Priority)>,
    leased: BTreeSet<(Timestamp, String)>,
    held: HashMap<String, Held>,
}

impl Lane {
    fn add_ready(&mut self, tenant: TenantId, id: JobId, score: i64) {
        let Entry::Vacant(slot) = self.ready_ids.entry(id) else {
            return;
        };
        slot.insert(tenant);
        self.ready.entry(tenant).or_default().insert((score, id));
        if let Entry::Vacant(turn) = self.turn_of.entry(tenant) {
            // A tenant back from idling starts level with the least waiting:
            // its idle spell earns it no turns ahead of them.
            let start = self.turns.first().map_or(self.clock, |(t, _)| *t);
            turn.insert(start);
            self.turns.insert((start, tenant));
        }
    }

    fn add_scheduled(&mut self, e: &QueueEntry) {
        if let Entry::Vacant(slot) = self.scheduled_entry.entry(e.id) {
            slot.insert((e.tenant, e.priority));
            self.scheduled.insert((e.run_at, e.id));
        }
    }

    fn promote_due(&mut self, now: Timestamp) {
        while let Some(&(run_at, id)) = self.scheduled.first() {
            if run_at > now {
                break;
            }
            self.scheduled.pop_first();
            if let Some((tenant, priority)) = self.scheduled_entry.remove(&id) {
                self.add_ready(tenant, id, ready_score(priority, run_at));
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
            if let (Some(held), Ok(lease)) = (self.held.remove(&member), Lease::from_member(member))
            {
                self.add_ready(held.tenant, lease.id, held.score);
            }
        }
    }

    fn lease(&mut self, max: usize, deadline: Timestamp, weights: &TenantWeights) -> Vec<Lease> {
        let mut leases = Vec::new();
        while leases.len() < max {
            let Some(&(time, tenant)) = self.turns.first() else {
                break;
            };
            let next = self.turns.iter().nth(1).map(|(t, _)| *t);
            let step = weights.step(&tenant);
            let turns = turns_before(time, next, step, max - leases.len());
            let taken = self.take_turns(tenant, turns, deadline);
            self.clock = time;
            self.turns.remove(&(time, tenant));
            if self.ready.get(&tenant).is_some_and(|r| !r.is_empty()) {
                let after = time + step * taken.len() as i64;
                self.turns.insert((after, tenant));
                self.turn_of.insert(tenant, after);
            } else {
                self.ready.remove(&tenant);
                self.turn_of.remove(&tenant);
            }
            leases.extend(taken);
        }
        leases
    }

    /// Leases up to `turns` of `tenant`'s best due jobs.
    fn take_turns(&mut self, tenant: TenantId, turns: usize, deadline: Timestamp) -> Vec<Lease> {
        let mut leases = Vec::new();
        let Some(ready) = self.ready.get_mut(&tenant) else {
            return leases;
        };
        while leases.len() < turns {
            let Some((score, id)) = ready.pop_first() else {
                break;
            };
            self.ready_ids.remove(&id);
            let member = format!("{score}:{tenant}:{id}");
            self.leased.insert((deadline, member.clone()));
            let held = Held {
                deadline,
                tenant,
                score,
            };
            self.held.insert(member.clone(), held);
            leases.extend(Lease::from_member(member));
        }
        leases
    }

    fn ack(&mut self, lease: &Lease) {
        if let Some(held) = self.held.remove(&lease.receipt) {
            self.leased.remove(&(held.deadline, lease.receipt.clone()));
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
    weights: Arc<TenantWeights>,
}

impl EmbeddedQueue {
    /// An empty queue that tells due from scheduled by `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            state: Arc::default(),
            pushed: Arc::default(),
            clock,
            weights: Arc::default(),
        }
    }

    /// The queue with tenants taking turns by `weights`.
    pub fn with_weights(self, weights: TenantWeights) -> Self {
        Self {
            weights: Arc::new(weights),
            ..self
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
                    lane.add_ready(e.tenant, e.id, ready_score(e.priority, e.run_at));
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
        lane.lease(max, now.plus(lease), &self.weights)
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
                ready: (l.ready_ids.len() + l.leased.len()) as u64,
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
