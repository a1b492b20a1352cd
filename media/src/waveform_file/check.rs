//! The options checked together and combined into what to write, with the defaults the
//! command line has always had.

use std::num::{NonZeroU32, NonZeroUsize};

use thiserror::Error;

use super::options::{FileFormat, StyleName, WaveformFileOptions};
use crate::format::AudioFormat;
use crate::image::{Bars, ImageStyle, WaveformStyle};
use crate::waveform::{
    AmplitudeScale, ChannelMode, Gain, InvalidOption, TimeSpan, WaveformOptions, Zoom,
};

/// Image width when none is given.
const DEFAULT_WIDTH: u32 = 800;
/// Image height when none is given.
const DEFAULT_HEIGHT: u32 = 250;
/// Bar width when none is given.
const DEFAULT_BAR_WIDTH: u32 = 8;
/// Gap between bars when none is given.
const DEFAULT_BAR_GAP: u32 = 4;

/// The largest values a caller takes; the command line takes anything its types hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Widest image (and widest span a zoom fits `start..end` into), pixels.
    pub max_width: u32,
    /// Tallest image, pixels.
    pub max_height: u32,
    /// Widest bar, and widest gap between bars, pixels.
    pub max_bar: u32,
    /// Most points of a summary.
    pub max_summary_points: usize,
}

impl Limits {
    /// No limit beyond the types'.
    pub const NONE: Self = Self {
        max_width: u32::MAX,
        max_height: u32::MAX,
        max_bar: u32::MAX,
        max_summary_points: usize::MAX,
    };
}

/// An option that cannot be used as given, named as a payload names it (the command line
/// spells the same name with `-`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct OptionError {
    /// The option.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> OptionError {
    OptionError {
        field,
        message: message.into(),
    }
}

/// A waveform file to write: the options checked, combined and completed with defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveformFile {
    pub(super) format: FileFormat,
    pub(super) content: Content,
    zoom_field: &'static str,
}

/// What the file holds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Content {
    /// Normalised points as a JSON list.
    Summary(NonZeroUsize),
    /// Peaks as `.dat` or audiowaveform JSON.
    Data(WaveformOptions),
    /// Peaks drawn.
    Image(Image),
}

/// An image of peaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Image {
    pub peaks: WaveformOptions,
    /// Where the image begins, seconds; `None` fits all of the audio into its width.
    pub start: Option<f64>,
    pub width: NonZeroU32,
    pub style: ImageStyle,
}

impl WaveformFile {
    /// The format written.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The option that set the zoom (`zoom`, `pixels_per_second` or `end`): the one to
    /// name when the zoom does not fit some audio.
    pub fn zoom_field(&self) -> &'static str {
        self.zoom_field
    }

    /// How many min/max pairs the peaks of `frames` frames of `audio` take: what the file,
    /// or the image drawn from them, holds in memory. A summary holds none.
    pub fn pairs(&self, audio: AudioFormat, frames: u64) -> Result<u64, InvalidOption> {
        let peaks = match &self.content {
            Content::Summary(_) => return Ok(0),
            Content::Data(peaks) => peaks,
            Content::Image(image) => &image.peaks,
        };
        let frames_per_pixel = peaks.zoom.samples_per_pixel(audio.sample_rate)?;
        let channels = match peaks.channel_mode {
            ChannelMode::Mixed => 1,
            ChannelMode::Split => u64::from(audio.channels.get()),
        };
        Ok(frames.div_ceil(u64::from(frames_per_pixel.get())) * channels)
    }
}

impl WaveformFileOptions {
    /// Checks the options together under `limits`; `fallback` is the format when none is
    /// given (the command line's output extension).
    pub fn check(
        &self,
        fallback: Option<FileFormat>,
        limits: &Limits,
    ) -> Result<WaveformFile, OptionError> {
        let format = self.format.or(fallback).ok_or_else(|| {
            invalid(
                "format",
                "is required: dat, json, png or svg (or, on the command line, the output's extension)",
            )
        })?;
        let width = at_most("width", self.width, DEFAULT_WIDTH, limits.max_width)?;
        let (zoom, set_by) = self.zoom(width)?;
        let peaks = WaveformOptions {
            zoom,
            bits: self.bits.unwrap_or_default(),
            amplitude_scale: self.amplitude_scale.unwrap_or_default(),
            channel_mode: if self.split_channels {
                ChannelMode::Split
            } else {
                ChannelMode::Mixed
            },
        };
        let content = match (self.summary, format) {
            (Some(points), FileFormat::Json) if points.get() > limits.max_summary_points => {
                let most = limits.max_summary_points;
                return Err(invalid("summary", format!("must be at most {most}")));
            }
            (Some(points), FileFormat::Json) => Content::Summary(points),
            (Some(_), _) => return Err(invalid("summary", "is a JSON list: format must be json")),
            (None, FileFormat::Dat | FileFormat::Json) => Content::Data(peaks),
            (None, FileFormat::Png | FileFormat::Svg) => Content::Image(Image {
                peaks,
                // A zoom given places the image at `start`; without one it shows all.
                start: set_by.map(|_| self.start.unwrap_or(0.0)),
                width,
                style: self.image_style(limits)?,
            }),
        };
        Ok(WaveformFile {
            format,
            content,
            zoom_field: set_by.unwrap_or("zoom"),
        })
    }

    /// The zoom and the option that set it, if one did.
    fn zoom(&self, width: NonZeroU32) -> Result<(Zoom, Option<&'static str>), OptionError> {
        let start = self.start.unwrap_or(0.0);
        if !(start.is_finite() && start >= 0.0) {
            return Err(invalid(
                "start",
                "must be a number of seconds of at least 0",
            ));
        }
        match (self.zoom, self.pixels_per_second, self.end) {
            (Some(_), Some(_), _) => Err(invalid(
                "pixels_per_second",
                "cannot be given with zoom: both set the zoom",
            )),
            (Some(frames), None, _) => Ok((Zoom::SamplesPerPixel(frames), Some("zoom"))),
            (None, Some(pixels), _) => {
                Ok((Zoom::PixelsPerSecond(pixels), Some("pixels_per_second")))
            }
            (None, None, Some(end)) => {
                let span = TimeSpan::new(start, end).map_err(|e| invalid("end", e.to_string()))?;
                Ok((Zoom::Fit { span, width }, Some("end")))
            }
            (None, None, None) => Ok((Zoom::default(), None)),
        }
    }

    fn image_style(&self, limits: &Limits) -> Result<ImageStyle, OptionError> {
        let defaults = ImageStyle::default();
        let style = match self.waveform_style.unwrap_or_default() {
            StyleName::Normal => WaveformStyle::Normal,
            StyleName::Bars => WaveformStyle::Bars(Bars {
                width: at_most(
                    "bar_width",
                    self.bar_width,
                    DEFAULT_BAR_WIDTH,
                    limits.max_bar,
                )?,
                gap: match self.bar_gap {
                    Some(gap) if gap > limits.max_bar => {
                        let most = limits.max_bar;
                        return Err(invalid("bar_gap", format!("must be at most {most}")));
                    }
                    gap => gap.unwrap_or(DEFAULT_BAR_GAP),
                },
                shape: self.bar_style.unwrap_or_default(),
            }),
        };
        Ok(ImageStyle {
            height: at_most("height", self.height, DEFAULT_HEIGHT, limits.max_height)?,
            background: self.background_color.unwrap_or(defaults.background),
            waveform: self.waveform_color.unwrap_or(defaults.waveform),
            axis_label: self.axis_label_color.unwrap_or(defaults.axis_label),
            style,
            axis_labels: !self.no_axis_labels,
            gain: match self.amplitude_scale.unwrap_or_default() {
                AmplitudeScale::Fixed(gain) => gain,
                // Auto scaling already stretched the peaks themselves.
                AmplitudeScale::Auto => Gain::UNITY,
            },
        })
    }
}

/// `value`, or `default` when absent, if it is at most `most`.
fn at_most(
    field: &'static str,
    value: Option<NonZeroU32>,
    default: u32,
    most: u32,
) -> Result<NonZeroU32, OptionError> {
    let value = value.map_or(default, NonZeroU32::get);
    if value > most {
        return Err(invalid(field, format!("must be at most {most}")));
    }
    NonZeroU32::new(value).ok_or_else(|| invalid(field, "must be at least 1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};

    fn limits() -> Limits {
        Limits {
            max_width: 1000,
            max_height: 500,
            max_bar: 50,
            max_summary_points: 100,
        }
    }

    fn json(text: &str) -> WaveformFileOptions {
        serde_json::from_str(text).expect("options")
    }

    fn refused(text: &str) -> &'static str {
        json(text).check(None, &limits()).expect_err(text).field
    }

    #[test]
    fn each_bad_option_is_named() {
        assert_eq!(refused(r#"{}"#), "format");
        assert_eq!(refused(r#"{"format": "png", "width": 1001}"#), "width");
        assert_eq!(refused(r#"{"format": "png", "height": 501}"#), "height");
        let bars = r#"{"format": "png", "style": "bars", "bar_width": 51}"#;
        assert_eq!(refused(bars), "bar_width");
        let gap = r#"{"format": "svg", "waveform_style": "bars", "bar_gap": 51}"#;
        assert_eq!(refused(gap), "bar_gap");
        assert_eq!(
            refused(r#"{"format": "dat", "zoom": 64, "pixels_per_second": 10}"#),
            "pixels_per_second"
        );
        assert_eq!(
            refused(r#"{"format": "json", "start": 3, "end": 2}"#),
            "end"
        );
        assert_eq!(refused(r#"{"format": "json", "start": -1}"#), "start");
        assert_eq!(refused(r#"{"format": "png", "summary": 10}"#), "summary");
        assert_eq!(refused(r#"{"format": "json", "summary": 101}"#), "summary");
    }

    #[test]
    fn the_command_line_defaults_fill_what_is_absent() {
        let file = json(r#"{"format": "png"}"#)
            .check(None, &Limits::NONE)
            .expect("file");
        let Content::Image(image) = file.content else {
            panic!("an image");
        };
        assert_eq!((image.width.get(), image.style.height.get()), (800, 250));
        assert_eq!(image.style, ImageStyle::default());
        assert_eq!(image.start, None, "fits the whole audio");
        assert_eq!(file.zoom_field(), "zoom");
        let fallback = WaveformFileOptions::default().check(Some(FileFormat::Dat), &Limits::NONE);
        assert_eq!(fallback.expect("file").format(), FileFormat::Dat);
    }

    #[test]
    fn pairs_follow_the_zoom_and_the_channels() {
        let audio = AudioFormat {
            sample_rate: SampleRate::new(44_100).expect("rate"),
            channels: ChannelCount::new(2).expect("channels"),
        };
        let split = json(r#"{"format": "dat", "zoom": 100, "split_channels": true}"#);
        let file = split.check(None, &Limits::NONE).expect("file");
        assert_eq!(file.pairs(audio, 1001), Ok(22));
        let fast = json(r#"{"format": "json", "pixels_per_second": 30000}"#);
        let file = fast.check(None, &Limits::NONE).expect("file");
        assert_eq!(file.zoom_field(), "pixels_per_second");
        assert!(file.pairs(audio, 1000).is_err(), "one frame per pixel");
    }

    #[test]
    fn options_round_trip_through_json_without_their_defaults() {
        let text = r#"{"format":"svg","zoom":512,"split_channels":true,"amplitude_scale":"auto","waveform_color":"FF000080","waveform_style":"bars","bar_style":"rounded"}"#;
        let options = json(text);
        assert_eq!(serde_json::to_string(&options).expect("writes"), text);
        let unknown = serde_json::from_str::<WaveformFileOptions>(r#"{"colour": "red"}"#);
        assert!(unknown.is_err());
    }
}
