//! The time the stores and the runtime read: the system's; the system's set
//! to the database's, so that times written by many hosts (heartbeats, due
//! times, changes) compare with each other; or one a test moves by hand, so
//! that backoff, leases, lockouts and expiry are tested by moving time rather
//! than by waiting for it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::time::Timestamp;

/// Where "now" comes from; cheap to clone, and clones read the same time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// A clock that moves only when told to.
    Manual(ManualClock),
    /// The system's clock, set to another's (the database's).
    Synced(SyncedClock),
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => system_now(),
            Clock::Manual(m) => m.now(),
            Clock::Synced(s) => s.now(),
        }
    }
}

/// The system's clock moved by the offset to a reference clock, as last
/// measured; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct SyncedClock(Arc<AtomicI64>);

impl SyncedClock {
    /// The system's clock, until a first [`sync`](Self::sync).
    pub fn new() -> Self {
        Self::default()
    }

    /// The current instant on the reference clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(system_now().millis() + self.offset_ms())
    }

    /// How far the reference clock is ahead of the system's, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Takes the reference clock's reading `theirs`, asked for at `sent`
    /// and answered at `received` (system times): it was read halfway.
    pub fn sync(&self, sent: Timestamp, theirs: Timestamp, received: Timestamp) {
        let halfway = sent.millis() + (received.millis() - sent.millis()) / 2;
        self.0.store(theirs.millis() - halfway, Ordering::SeqCst);
    }

    /// The system's current instant, for timing a reading.
    pub fn system_now() -> Timestamp {
        system_now()
    }
}

impl From<SyncedClock> for Clock {
    fn from(synced: SyncedClock) -> Self {
        Clock::Synced(synced)
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Self {
        Clock::Manual(manual)
    }
}

fn system_now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// A clock that starts at the system's time and then moves only by
/// [`advance`](Self::advance); clones share it.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at the system's current time.
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(system_now().millis())))
    }

    /// The instant the clock shows.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let manual = ManualClock::new();
        let clock = Clock::from(manual.clone());
        let start = clock.now();
        assert_eq!(clock.now(), start);
        manual.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start.plus(Duration::from_secs(90)));
    }

    #[test]
    fn a_synced_clock_reads_the_reference_time_halfway_through_the_round_trip() {
        let synced = SyncedClock::new();
        let sent = Timestamp::from_millis(1_000_000);
        let received = Timestamp::from_millis(1_000_040);
        // The reference read 5 s ahead, 20 ms into the round trip.
        synced.sync(sent, Timestamp::from_millis(1_005_020), received);
        assert_eq!(synced.offset_ms(), 5_000);
        let clock = Clock::from(synced.clone());
        let ahead = clock.now().millis() - system_now().millis();
        assert!((4_990..=5_000).contains(&ahead), "{ahead}");
    }

    #[test]
    fn the_system_clock_reads_the_wall_time() {
        let before = system_now();
        assert!(Clock::System.now() >= before);
    }
}
