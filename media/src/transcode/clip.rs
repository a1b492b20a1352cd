//! The part of the source a preset encodes (a preview, say), in time and in frames.

use std::num::NonZeroU64;
use std::ops::Range;
use std::time::Duration;

use crate::decode::PcmBlock;
use crate::format::SampleRate;

/// A start and an optional length, in milliseconds of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Clip {
    start_ms: u64,
    duration_ms: Option<NonZeroU64>,
}

impl Clip {
    /// A clip from `start_ms` (default 0) lasting `duration_ms` (default: to the end); an
    /// empty clip is refused.
    pub(crate) fn new(start_ms: Option<u64>, duration_ms: Option<u64>) -> Result<Self, String> {
        let duration_ms = duration_ms
            .map(|ms| NonZeroU64::new(ms).ok_or("a clip must last at least 1 ms"))
            .transpose()?;
        Ok(Self {
            start_ms: start_ms.unwrap_or(0),
            duration_ms,
        })
    }

    /// The start as a spec writes it: `None` for the beginning.
    pub(crate) fn start_ms(&self) -> Option<u64> {
        (self.start_ms > 0).then_some(self.start_ms)
    }

    /// The length as a spec writes it: `None` for "to the end".
    pub(crate) fn duration_ms(&self) -> Option<u64> {
        self.duration_ms.map(NonZeroU64::get)
    }

    pub(crate) fn start(&self) -> Duration {
        Duration::from_millis(self.start_ms)
    }

    pub(crate) fn max_duration(&self) -> Option<Duration> {
        self.duration_ms.map(|ms| Duration::from_millis(ms.get()))
    }

    /// The clip in frames at `rate`, rounded to the nearest frame.
    pub(crate) fn frames(&self, rate: SampleRate) -> FrameWindow {
        let to_frames = |ms: u64| (u128::from(ms) * u128::from(rate.hz()) + 500) / 1000;
        let start = saturate(to_frames(self.start_ms));
        let end = self
            .duration_ms
            .map(|ms| start.saturating_add(saturate(to_frames(ms.get()))));
        FrameWindow { start, end }
    }
}

fn saturate(frames: u128) -> u64 {
    u64::try_from(frames).unwrap_or(u64::MAX)
}

/// Frames `start..end` of the source (`end` unbounded when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameWindow {
    start: u64,
    end: Option<u64>,
}

impl FrameWindow {
    /// Every frame.
    pub(crate) const ALL: Self = Self {
        start: 0,
        end: None,
    };

    /// Whether any of `frames` lies in the window.
    pub(crate) fn overlaps(&self, frames: &Range<u64>) -> bool {
        frames.end > self.start && self.end.is_none_or(|end| frames.start < end)
    }

    /// Whether the window ends at or before `frame`, so nothing from there on is wanted.
    pub(crate) fn ends_by(&self, frame: u64) -> bool {
        self.end.is_some_and(|end| end <= frame)
    }

    /// The interleaved samples of `block` that lie in the window.
    pub(crate) fn cut<'a>(&self, block: &'a PcmBlock) -> &'a [f32] {
        let channels = block.format().channels.as_usize();
        let first = block.first_frame();
        let frames = block.frames() as u64;
        let from = self.start.clamp(first, first + frames) - first;
        let to = self.end.unwrap_or(u64::MAX).clamp(first, first + frames) - first;
        let sample = |frame: u64| usize::try_from(frame).unwrap_or(usize::MAX) * channels;
        &block.samples()[sample(from)..sample(to.max(from))]
    }
}

/// The frames a block covers in the whole stream.
pub(crate) fn span(block: &PcmBlock) -> Range<u64> {
    let first = block.first_frame();
    first..first + block.frames() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{AudioFormat, ChannelCount};

    fn block(first_frame: u64, frames: usize) -> PcmBlock {
        let format = AudioFormat {
            sample_rate: SampleRate::new(1000).expect("rate"),
            channels: ChannelCount::new(2).expect("channels"),
        };
        let mut block = PcmBlock::new(format);
        block.reset(format, first_frame);
        for sample in 0..frames * 2 {
            block.push_float(sample as f32);
        }
        block
    }

    #[test]
    fn a_zero_length_clip_is_refused() {
        assert!(Clip::new(None, Some(0)).is_err());
    }

    #[test]
    fn milliseconds_become_frames_at_the_source_rate() {
        let clip = Clip::new(Some(1500), Some(30_000)).expect("clip");
        let window = clip.frames(SampleRate::new(44_100).expect("rate"));
        assert_eq!(
            window,
            FrameWindow {
                start: 66_150,
                end: Some(66_150 + 1_323_000)
            }
        );
    }

    #[test]
    fn a_block_is_cut_to_the_frames_inside_the_window() {
        let window = FrameWindow {
            start: 12,
            end: Some(14),
        };
        let inside = block(10, 5);
        assert_eq!(window.cut(&inside), &[4.0, 5.0, 6.0, 7.0]);
        assert!(window.overlaps(&span(&inside)));
        assert!(window.ends_by(15));
        let after = block(14, 5);
        assert!(!window.overlaps(&span(&after)));
        assert!(window.cut(&after).is_empty());
    }

    #[test]
    fn the_whole_window_takes_every_block_whole() {
        let whole = block(7, 3);
        assert_eq!(FrameWindow::ALL.cut(&whole).len(), 6);
        assert!(!FrameWindow::ALL.ends_by(u64::MAX));
    }
}
