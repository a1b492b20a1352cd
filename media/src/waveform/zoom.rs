//! Zoom: how many audio frames one pixel of waveform covers.

use std::num::NonZeroU32;

use super::options::{InvalidOption, SamplesPerPixel};
use crate::format::SampleRate;

/// A stretch of audio time in seconds: finite, `0 <= start <= end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeSpan {
    start: f64,
    end: f64,
}

impl TimeSpan {
    /// Accepts finite bounds with `0 <= start <= end`.
    pub fn new(start: f64, end: f64) -> Result<Self, InvalidOption> {
        let ordered = start.is_finite() && end.is_finite() && 0.0 <= start && start <= end;
        if ordered {
            Ok(Self { start, end })
        } else {
            Err(InvalidOption::TimeSpan { start, end })
        }
    }

    /// Start, in seconds.
    pub fn start(self) -> f64 {
        self.start
    }

    /// End, in seconds.
    pub fn end(self) -> f64 {
        self.end
    }
}

/// How many frames one pixel covers, as audiowaveform's `--zoom`, `--pixels-per-second`
/// or `--start`/`--end` with `--width`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zoom {
    /// A set number of frames per pixel.
    SamplesPerPixel(SamplesPerPixel),
    /// Pixels per second of audio.
    PixelsPerSecond(NonZeroU32),
    /// The span fits `width` pixels; the span sets the zoom only and selects no frames.
    Fit {
        /// The audio time to fit.
        span: TimeSpan,
        /// Pixels available.
        width: NonZeroU32,
    },
}

impl Default for Zoom {
    fn default() -> Self {
        Self::SamplesPerPixel(SamplesPerPixel::DEFAULT)
    }
}

impl Zoom {
    /// Frames per pixel at `sample_rate`, rounded down as audiowaveform does.
    pub fn samples_per_pixel(
        self,
        sample_rate: SampleRate,
    ) -> Result<SamplesPerPixel, InvalidOption> {
        let rate = i64::from(sample_rate.hz());
        match self {
            Self::SamplesPerPixel(frames) => Ok(frames),
            Self::PixelsPerSecond(pixels) => SamplesPerPixel::new(rate / i64::from(pixels.get())),
            Self::Fit { span, width } => {
                // Truncation toward zero matches the C++ cast of the product.
                let frames = ((span.end - span.start) * f64::from(sample_rate.hz())) as i64;
                SamplesPerPixel::new(frames / i64::from(width.get()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(hz: u32) -> SampleRate {
        SampleRate::new(hz).expect("rate")
    }

    fn non_zero(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).expect("non-zero")
    }

    #[test]
    fn pixels_per_second_divide_the_sample_rate_rounding_down() {
        let zoom = Zoom::PixelsPerSecond(non_zero(100));
        assert_eq!(
            zoom.samples_per_pixel(rate(22050))
                .map(SamplesPerPixel::get),
            Ok(220)
        );
    }

    #[test]
    fn a_span_fitted_to_a_width_truncates_frames_then_divides() {
        let span = TimeSpan::new(1.0, 3.5).expect("span");
        let zoom = Zoom::Fit {
            span,
            width: non_zero(800),
        };
        // 2.5 s at 44100 Hz is 110250 frames; 110250 / 800 = 137.8.
        assert_eq!(
            zoom.samples_per_pixel(rate(44100))
                .map(SamplesPerPixel::get),
            Ok(137)
        );
    }

    #[test]
    fn a_span_ending_before_it_starts_is_refused() {
        assert!(TimeSpan::new(2.0, 1.0).is_err());
        assert!(TimeSpan::new(-1.0, 1.0).is_err());
        assert!(TimeSpan::new(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn an_empty_span_gives_a_zoom_below_two_and_is_refused() {
        let zoom = Zoom::Fit {
            span: TimeSpan::new(1.0, 1.0).expect("span"),
            width: non_zero(10),
        };
        assert_eq!(
            zoom.samples_per_pixel(rate(44100)),
            Err(InvalidOption::SamplesPerPixel(0))
        );
    }
}
