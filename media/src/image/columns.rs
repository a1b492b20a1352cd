//! The min/max pairs an image draws, one per column and channel.

use std::num::NonZeroU32;

use crate::format::ChannelCount;
use crate::waveform::{MinMax, Peaks};

/// What each image column shows: a pair per channel, or nothing past the end of the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    channels: ChannelCount,
    pairs: Vec<Option<MinMax>>,
    start_seconds: f64,
    seconds_per_column: f64,
}

impl Columns {
    /// All of `peaks` squeezed (or stretched) into `width` columns, each the lowest min and
    /// highest max of its share of pixels.
    pub fn fit(peaks: &Peaks, width: NonZeroU32) -> Self {
        let pixels = peaks.len();
        let columns = width.get() as usize;
        let pairs = (0..columns)
            .flat_map(|column| {
                let start = column * pixels / columns;
                let end = ((column + 1) * pixels / columns).max(start + 1);
                (0..peaks.channels().get()).map(move |channel| merged(peaks, start..end, channel))
            })
            .collect();
        let seconds = pixels as f64 * pixel_seconds(peaks);
        Self {
            channels: peaks.channels(),
            pairs,
            start_seconds: 0.0,
            seconds_per_column: seconds / columns as f64,
        }
    }

    /// `width` pixels of `peaks` from `first_pixel` on, one per column.
    pub fn window(peaks: &Peaks, first_pixel: usize, width: NonZeroU32) -> Self {
        let pairs = (first_pixel..first_pixel + width.get() as usize)
            .flat_map(|pixel| (0..peaks.channels().get()).map(move |ch| peaks.get(pixel, ch)))
            .collect();
        Self {
            channels: peaks.channels(),
            pairs,
            start_seconds: first_pixel as f64 * pixel_seconds(peaks),
            seconds_per_column: pixel_seconds(peaks),
        }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.pairs.len() / self.channels.as_usize()
    }

    /// Channels drawn, one band each.
    pub fn channels(&self) -> ChannelCount {
        self.channels
    }

    /// The pair of `channel` at `column`.
    pub fn get(&self, column: usize, channel: u16) -> Option<MinMax> {
        let index = column * self.channels.as_usize() + usize::from(channel);
        self.pairs.get(index).copied().flatten()
    }

    /// Audio time at the left edge of `column`.
    pub fn seconds_at(&self, column: f64) -> f64 {
        self.start_seconds + column * self.seconds_per_column
    }

    /// Audio time each column covers.
    pub fn seconds_per_column(&self) -> f64 {
        self.seconds_per_column
    }
}

fn pixel_seconds(peaks: &Peaks) -> f64 {
    f64::from(peaks.samples_per_pixel().get()) / f64::from(peaks.sample_rate().hz())
}

fn merged(peaks: &Peaks, pixels: std::ops::Range<usize>, channel: u16) -> Option<MinMax> {
    pixels
        .filter_map(|pixel| peaks.get(pixel, channel))
        .reduce(|a, b| MinMax {
            min: a.min.min(b.min),
            max: a.max.max(b.max),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SampleRate;
    use crate::waveform::SamplesPerPixel;

    fn mono(values: &[(i16, i16)]) -> Peaks {
        let pairs = values
            .iter()
            .map(|&(min, max)| MinMax { min, max })
            .collect();
        let spp = SamplesPerPixel::new(100).expect("spp");
        let rate = SampleRate::new(1000).expect("rate");
        Peaks::new(rate, spp, ChannelCount::MONO, pairs).expect("peaks")
    }

    fn width(columns: u32) -> NonZeroU32 {
        NonZeroU32::new(columns).expect("non-zero")
    }

    #[test]
    fn fitting_merges_neighbouring_pixels() {
        let columns = Columns::fit(&mono(&[(-1, 1), (-5, 2), (0, 9), (-3, 3)]), width(2));
        assert_eq!(columns.get(0, 0), Some(MinMax { min: -5, max: 2 }));
        assert_eq!(columns.get(1, 0), Some(MinMax { min: -3, max: 9 }));
        assert_eq!(columns.seconds_per_column(), 0.2);
    }

    #[test]
    fn a_window_past_the_end_leaves_columns_empty() {
        let columns = Columns::window(&mono(&[(-1, 1), (-2, 2)]), 1, width(3));
        assert_eq!(columns.get(0, 0), Some(MinMax { min: -2, max: 2 }));
        assert_eq!(columns.get(1, 0), None);
        assert_eq!(columns.seconds_at(0.0), 0.1);
    }
}
