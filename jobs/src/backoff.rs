//! When a failed attempt runs again: exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

/// How retry delays grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed attempt, before jitter.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
}

impl Backoff {
    /// Delay after failed attempt number `attempt` (from 1): `base·2^(attempt-1)`
    /// capped, then scaled by a random factor in [0.5, 1] so that jobs that
    /// failed together do not all come back together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(30))
            .min(self.cap);
        exp.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10 * 60),
        };
        for attempt in 1..=40 {
            let full = Duration::from_secs(1 << (attempt - 1).min(30)).min(b.cap);
            let d = b.delay(attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
