//! The time the stores and the runtime read: the system's, or one a test
//! moves by hand, so that backoff, leases, lockouts and expiry are tested by
//! moving time rather than by waiting for it.

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
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => system_now(),
            Clock::Manual(m) => m.now(),
        }
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
    fn the_system_clock_reads_the_wall_time() {
        let before = system_now();
        assert!(Clock::System.now() >= before);
    }
}
