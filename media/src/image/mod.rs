//! Waveform images as PNG or SVG: peaks in, bytes out.
//!
//! Each channel gets a horizontal band of equal height; a column's min and max map linearly
//! to rows, full scale (±32768, times the amplitude gain) at the band's edges and silence on
//! its centre row, so silence draws a one-pixel centre line and a full-scale square wave fills
//! the band. The `bars` style draws one bar per `bar_width + bar_gap` columns, symmetric about
//! the centre, as tall as the loudest column under it; `rounded` bars have semicircular ends.
//! Axis labels are tick marks every 1, 2, 5, 10, 15 or 30 s or 1, 2, 5, 10, 30 or 60 min,
//! whichever leaves at least 80 columns between ticks. SVG shows the time beside each tick;
//! PNG shows the ticks only, because drawing text would need a font, which this crate
//! does not carry.

mod color;
mod columns;
mod png;
mod svg;

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

pub use color::{InvalidColor, Rgba};
pub use columns::Columns;
pub use png::{ImageError, render_png};
pub use svg::render_svg;

use crate::waveform::{Gain, MinMax};

/// Tick spacings to choose from, in seconds.
const TICK_STEPS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Fewest columns between two ticks.
const MIN_TICK_SPACING: f64 = 80.0;

/// Length of a tick mark in pixels.
const TICK_LENGTH: u32 = 6;

/// Full scale of a 16-bit value: `|i16::MIN|`.
const FULL_SCALE: f64 = 32768.0;

/// How the waveform is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaveformStyle {
    /// One column per image column.
    Normal,
    /// Separate bars.
    Bars(Bars),
}

/// Shape and spacing of bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bars {
    /// Columns per bar.
    pub width: NonZeroU32,
    /// Columns between bars.
    pub gap: u32,
    /// Ends of each bar.
    pub shape: BarShape,
}

/// Ends of a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BarShape {
    /// Square ends.
    #[default]
    Square,
    /// Semicircular ends.
    Rounded,
}

/// Everything about an image but the columns it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageStyle {
    /// Image height in pixels.
    pub height: NonZeroU32,
    /// Fill behind the waveform.
    pub background: Rgba,
    /// Waveform fill.
    pub waveform: Rgba,
    /// Colour of ticks and labels.
    pub axis_label: Rgba,
    /// Columns or bars.
    pub style: WaveformStyle,
    /// Whether to draw time ticks (and, in SVG, labels).
    pub axis_labels: bool,
    /// Vertical zoom applied when drawing.
    pub gain: Gain,
}

impl Default for ImageStyle {
    /// audiowaveform's defaults: 250 pixels high, blue on white, black labels, shown.
    fn default() -> Self {
        Self {
            height: NonZeroU32::new(250).expect("non-zero"),
            background: Rgba::opaque(0xFF, 0xFF, 0xFF),
            waveform: Rgba::opaque(0x3A, 0x66, 0xC6),
            axis_label: Rgba::opaque(0, 0, 0),
            style: WaveformStyle::Normal,
            axis_labels: true,
            gain: Gain::UNITY,
        }
    }
}

/// A filled rectangle in pixels; `rounded` ends are semicircles across the width.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    rounded: bool,
}

/// The waveform shapes of `columns` drawn with `style`.
fn shapes(columns: &Columns, style: &ImageStyle) -> Vec<Shape> {
    let bands = u32::from(columns.channels().get());
    let band_height = (style.height.get() / bands).max(1);
    (0..columns.channels().get())
        .flat_map(|channel| {
            let top = u32::from(channel) * band_height;
            let band = Band {
                top,
                height: band_height,
                gain: style.gain.get(),
            };
            match style.style {
                WaveformStyle::Normal => normal(columns, channel, band),
                WaveformStyle::Bars(bars) => bar_shapes(columns, channel, band, bars),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Band {
    top: u32,
    height: u32,
    gain: f64,
}

impl Band {
    /// Row of `value`: full positive scale at the top edge, full negative at the bottom.
    fn row(self, value: i16) -> u32 {
        let half = f64::from(self.height) / 2.0;
        let offset = (half - f64::from(value) * self.gain * half / FULL_SCALE).floor();
        let last = f64::from(self.height - 1);
        // Clamped into the band, so the cast cannot wrap.
        self.top + offset.clamp(0.0, last) as u32
    }

    fn span(self, x: u32, width: u32, pair: MinMax, rounded: bool) -> Shape {
        let (top, bottom) = (self.row(pair.max), self.row(pair.min));
        Shape {
            x,
            y: top,
            width,
            height: bottom - top + 1,
            rounded,
        }
    }
}

fn normal(columns: &Columns, channel: u16, band: Band) -> Vec<Shape> {
    (0..columns.width())
        .filter_map(|column| {
            let pair = columns.get(column, channel)?;
            let x = u32::try_from(column).ok()?;
            Some(band.span(x, 1, pair, false))
        })
        .collect()
}

fn bar_shapes(columns: &Columns, channel: u16, band: Band, bars: Bars) -> Vec<Shape> {
    let step = (bars.width.get() + bars.gap) as usize;
    let rounded = bars.shape == BarShape::Rounded;
    (0..columns.width())
        .step_by(step)
        .filter_map(|start| {
            let under = start..(start + bars.width.get() as usize).min(columns.width());
            let width = u32::try_from(under.len()).ok()?;
            let loudest = under
                .filter_map(|column| columns.get(column, channel))
                .map(|pair| pair.magnitude())
                .max()?;
            let peak = i16::try_from(loudest).unwrap_or(i16::MAX);
            let pair = MinMax {
                min: peak.saturating_neg(),
                max: peak,
            };
            Some(band.span(u32::try_from(start).ok()?, width, pair, rounded))
        })
        .collect()
}

/// A time tick: its column and the label for its time.
#[derive(Debug, Clone, PartialEq)]
struct Tick {
    x: u32,
    label: String,
}

fn ticks(columns: &Columns) -> Vec<Tick> {
    let per_column = columns.seconds_per_column();
    if per_column <= 0.0 {
        return Vec::new();
    }
    let step = TICK_STEPS
        .into_iter()
        .find(|step| step / per_column >= MIN_TICK_SPACING)
        .unwrap_or(TICK_STEPS[TICK_STEPS.len() - 1]);
    let start = columns.seconds_at(0.0);
    let width = columns.width() as f64;
    let mut tick = (start / step).ceil() * step;
    let mut found = Vec::new();
    while (tick - start) / per_column < width {
        // Inside the image by the loop condition, so the cast cannot wrap.
        let x = ((tick - start) / per_column).round() as u32;
        found.push(Tick {
            x,
            label: clock(tick),
        });
        tick += step;
    }
    found
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(seconds: f64) -> String {
    // Whole seconds of a finite, non-negative time.
    let total = seconds.round() as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_labels_switch_to_hours_after_an_hour() {
        assert_eq!(clock(65.0), "1:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn rows_put_full_scale_at_the_edges_and_silence_in_the_middle() {
        let band = Band {
            top: 10,
            height: 100,
            gain: 1.0,
        };
        assert_eq!(band.row(i16::MAX), 10);
        assert_eq!(band.row(i16::MIN), 109);
        assert_eq!(band.row(0), 60);
    }
}
