//! How far a transcode is, told to the caller at a bounded rate; the caller's answer is
//! how a run is cancelled or timed out.

use std::time::{Duration, Instant};

/// Least time between two progress calls.
const INTERVAL: Duration = Duration::from_millis(250);

/// Whether a run goes on after a progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// End the run with [`super::TranscodeError::Stopped`].
    Stop,
}

/// Calls the caller's progress function at most every [`INTERVAL`].
pub(crate) struct Reporter<'a> {
    callback: &'a mut dyn FnMut(f64) -> Flow,
    expected_frames: Option<u64>,
    last: Option<Instant>,
}

impl<'a> Reporter<'a> {
    /// Fractions are frames decoded over `expected_frames`, or 0 when that is unknown.
    pub(crate) fn new(
        callback: &'a mut dyn FnMut(f64) -> Flow,
        expected_frames: Option<u64>,
    ) -> Self {
        Self {
            callback,
            expected_frames: expected_frames.filter(|&frames| frames > 0),
            last: None,
        }
    }

    /// Reports `frames_done` unless the last report is too recent; the first call always
    /// reports, so a run cancelled before it starts stops at once.
    pub(crate) fn report(&mut self, frames_done: u64) -> Flow {
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < INTERVAL) {
            return Flow::Continue;
        }
        self.last = Some(now);
        let fraction = self.expected_frames.map_or(0.0, |expected| {
            (frames_done as f64 / expected as f64).min(1.0)
        });
        (self.callback)(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_spaced_and_capped_at_one() {
        let mut seen = Vec::new();
        let mut callback = |fraction| {
            seen.push(fraction);
            Flow::Continue
        };
        let mut reporter = Reporter::new(&mut callback, Some(100));
        reporter.report(150);
        reporter.report(160);
        assert_eq!(seen, [1.0]);
    }

    #[test]
    fn an_unknown_length_reports_zero() {
        let mut seen = Vec::new();
        let mut callback = |fraction| {
            seen.push(fraction);
            Flow::Stop
        };
        assert_eq!(Reporter::new(&mut callback, None).report(10), Flow::Stop);
        assert_eq!(seen, [0.0]);
    }
}
