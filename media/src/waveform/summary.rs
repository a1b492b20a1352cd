//! A fixed number of normalised amplitude points, whatever the duration, for list views.
//!
//! Each point is the peak magnitude (largest `|sample|` over all channels) of its stretch
//! of audio divided by 32768, so it lies in `0.0 ..= 1.0`. Audio longer than the point
//! count is max-pooled; shorter audio is stretched, a source value repeating over several
//! points. Streaming keeps at most twice the point count of buckets: when they fill up,
//! neighbours merge and each bucket then covers twice as many frames.

use std::num::NonZeroUsize;

use super::peaks::Peaks;
use crate::format::ChannelCount;

/// Points in a summary unless asked otherwise.
pub const DEFAULT_SUMMARY_POINTS: NonZeroUsize = NonZeroUsize::new(1800).expect("non-zero");

/// Magnitude that maps to 1.0: `|i16::MIN|`.
const FULL_SCALE: f32 = 32768.0;

/// Normalised amplitude points, all in `0.0 ..= 1.0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    points: Vec<f32>,
}

impl Summary {
    /// Summary of a finished peak set.
    pub fn from_peaks(peaks: &Peaks, points: NonZeroUsize) -> Self {
        let magnitudes: Vec<u16> = peaks
            .pixels()
            .map(|pixel| pixel.iter().map(|pair| pair.magnitude()).max().unwrap_or(0))
            .collect();
        Self::from_magnitudes(&magnitudes, points)
    }

    fn from_magnitudes(magnitudes: &[u16], points: NonZeroUsize) -> Self {
        let points = resample_max(magnitudes, points.get())
            .into_iter()
            .map(|magnitude| f32::from(magnitude) / FULL_SCALE)
            .collect();
        Self { points }
    }

    /// The points, oldest audio first.
    pub fn points(&self) -> &[f32] {
        &self.points
    }

    /// Gives the points up.
    pub fn into_points(self) -> Vec<f32> {
        self.points
    }
}

/// Maps `source` onto exactly `target` values: the maximum of each output's share of the
/// source, or, when the source is shorter, the source value under each output.
fn resample_max(source: &[u16], target: usize) -> Vec<u16> {
    if source.is_empty() {
        return vec![0; target];
    }
    (0..target)
        .map(|index| {
            let start = index * source.len() / target;
            let end = ((index + 1) * source.len() / target).max(start + 1);
            source[start..end].iter().copied().max().unwrap_or(0)
        })
        .collect()
}

/// Builds a [`Summary`] from interleaved 16-bit samples in chunks of any size, in memory
/// bounded by the point count, without knowing the length in advance.
#[derive(Debug, Clone)]
pub struct SummaryBuilder {
    points: NonZeroUsize,
    channels: usize,
    sample_in_frame: usize,
    frame_peak: u16,
    buckets: Vec<u16>,
    bucket_frames: u64,
    current: u16,
    frames_in_current: u64,
}

impl SummaryBuilder {
    /// A builder for `channels`-channel audio making `points` points.
    pub fn new(points: NonZeroUsize, channels: ChannelCount) -> Self {
        Self {
            points,
            channels: channels.as_usize(),
            sample_in_frame: 0,
            frame_peak: 0,
            buckets: Vec::with_capacity(2 * points.get()),
            bucket_frames: 1,
            current: 0,
            frames_in_current: 0,
        }
    }

    /// Consumes interleaved samples.
    pub fn push(&mut self, samples: &[i16]) {
        for &sample in samples {
            self.frame_peak = self.frame_peak.max(sample.unsigned_abs());
            self.sample_in_frame += 1;
            if self.sample_in_frame == self.channels {
                self.take_frame();
            }
        }
    }

    fn take_frame(&mut self) {
        self.current = self.current.max(self.frame_peak);
        self.frame_peak = 0;
        self.sample_in_frame = 0;
        self.frames_in_current += 1;
        if self.frames_in_current == self.bucket_frames {
            self.close_bucket();
        }
    }

    fn close_bucket(&mut self) {
        self.buckets.push(self.current);
        self.current = 0;
        self.frames_in_current = 0;
        if self.buckets.len() == 2 * self.points.get() {
            self.merge_neighbours();
        }
    }

    fn merge_neighbours(&mut self) {
        let merged: Vec<u16> = self
            .buckets
            .chunks(2)
            .map(|pair| pair.iter().copied().max().unwrap_or(0))
            .collect();
        self.buckets = merged;
        self.bucket_frames *= 2;
    }

    /// The summary; a last, shorter bucket counts like the others.
    pub fn finish(mut self) -> Summary {
        if self.frames_in_current > 0 {
            self.buckets.push(self.current);
        }
        Summary::from_magnitudes(&self.buckets, self.points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(count: usize) -> NonZeroUsize {
        NonZeroUsize::new(count).expect("non-zero")
    }

    #[test]
    fn a_longer_source_is_max_pooled() {
        assert_eq!(resample_max(&[1, 5, 2, 3, 9, 0], 3), vec![5, 3, 9]);
    }

    #[test]
    fn a_shorter_source_is_stretched() {
        assert_eq!(resample_max(&[1, 5], 4), vec![1, 1, 5, 5]);
    }

    #[test]
    fn an_empty_source_gives_silence() {
        assert_eq!(resample_max(&[], 3), vec![0, 0, 0]);
    }

    #[test]
    fn full_negative_scale_summarises_to_one() {
        let mut builder = SummaryBuilder::new(points(1), ChannelCount::MONO);
        builder.push(&[i16::MIN, 0]);
        assert_eq!(builder.finish().points(), &[1.0]);
    }

    #[test]
    fn merging_keeps_the_loudest_frame_of_each_stretch() {
        let mut builder = SummaryBuilder::new(points(2), ChannelCount::MONO);
        builder.push(&[0, 0, 0, 16384, 0, 0, 0, 0, 8192]);
        assert_eq!(builder.finish().points(), &[0.5, 0.25]);
    }

    /// Stereo sine, quiet for the first half and loud for the second.
    fn quiet_then_loud(frames: usize) -> Vec<i16> {
        (0..frames)
            .flat_map(|frame| {
                let level = if frame < frames / 2 { 3000.0 } else { 24000.0 };
                let value = (level * (frame as f64 * 0.05).sin()) as i16;
                [value, value / 2]
            })
            .collect()
    }

    fn stereo() -> ChannelCount {
        ChannelCount::new(2).expect("channels")
    }

    fn streamed(samples: &[i16], chunk: usize) -> Summary {
        let mut builder = SummaryBuilder::new(DEFAULT_SUMMARY_POINTS, stereo());
        samples.chunks(chunk).for_each(|part| builder.push(part));
        builder.finish()
    }

    fn from_generated_peaks(samples: &[i16]) -> Summary {
        use crate::format::{AudioFormat, SampleRate};
        use crate::waveform::generator::generate;
        use crate::waveform::options::WaveformOptions;

        let format = AudioFormat {
            sample_rate: SampleRate::new(44100).expect("rate"),
            channels: stereo(),
        };
        let peaks = generate(format, &WaveformOptions::default(), samples).expect("peaks");
        Summary::from_peaks(&peaks, DEFAULT_SUMMARY_POINTS)
    }

    fn mean(values: &[f32]) -> f32 {
        values.iter().sum::<f32>() / values.len() as f32
    }

    fn assert_quiet_then_loud(summary: &Summary) {
        let values = summary.points();
        assert_eq!(values.len(), DEFAULT_SUMMARY_POINTS.get());
        assert!(values.iter().all(|value| (0.0..=1.0).contains(value)));
        let (first, second) = values.split_at(values.len() / 2);
        assert!(
            mean(second) > 4.0 * mean(first),
            "{} vs {}",
            mean(first),
            mean(second)
        );
    }

    #[test]
    fn a_streamed_summary_has_the_fixed_length_in_range_and_shows_the_louder_half() {
        let samples = quiet_then_loud(1_000_003);
        assert_quiet_then_loud(&streamed(&samples, 4097));
    }

    #[test]
    fn a_summary_of_peaks_has_the_fixed_length_in_range_and_shows_the_louder_half() {
        assert_quiet_then_loud(&from_generated_peaks(&quiet_then_loud(1_000_003)));
    }

    #[test]
    fn audio_shorter_than_the_point_count_still_gives_every_point() {
        let samples = quiet_then_loud(500);
        assert_quiet_then_loud(&streamed(&samples, 7));
    }

    #[test]
    fn the_streamed_summary_does_not_depend_on_chunk_size() {
        let samples = quiet_then_loud(50_000);
        assert_eq!(streamed(&samples, 1), streamed(&samples, 50_001));
    }

    #[test]
    fn silence_summarises_to_zeros() {
        let summary = streamed(&[0; 10_000], 100);
        assert!(summary.points().iter().all(|&value| value == 0.0));
    }
}
