//! The options as given: every one optional, spelled as audiowaveform spells them (`_` for
//! `-` in JSON), so that a command line and a job payload read into the same type.

use std::num::{NonZeroU32, NonZeroUsize};

use serde::{Deserialize, Serialize};

use crate::image::{BarShape, Rgba};
use crate::waveform::{AmplitudeScale, Bits, SamplesPerPixel};

/// What a waveform file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// audiowaveform's binary data.
    Dat,
    /// audiowaveform's JSON, or with `summary` a list of points.
    Json,
    /// A PNG image.
    Png,
    /// An SVG image.
    Svg,
}

impl FileFormat {
    const ALL: [FileFormat; 4] = [Self::Dat, Self::Json, Self::Png, Self::Svg];

    /// The format a file extension names, in any case.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(extension))
    }

    /// The extension of files of this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Dat => "dat",
            Self::Json => "json",
            Self::Png => "png",
            Self::Svg => "svg",
        }
    }

    /// The MIME type of files of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Dat => "application/octet-stream",
            Self::Json => "application/json",
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// How an image draws the waveform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum StyleName {
    /// One column per pixel.
    #[default]
    Normal,
    /// Separate bars.
    Bars,
}

/// The options of `mixdown waveform` and of a `waveform` job, before they are checked
/// together ([`WaveformFileOptions::check`](super::WaveformFileOptions::check)); an
/// absent one takes audiowaveform's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
pub struct WaveformFileOptions {
    /// Output format: dat, json, png or svg (on the command line, by default the output's
    /// extension).
    #[cfg_attr(feature = "clap", arg(long = "output-format", value_enum))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// Frames per pixel (at least 2; default 256).
    #[cfg_attr(feature = "clap", arg(short = 'z', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoom: Option<SamplesPerPixel>,
    /// Pixels per second of audio, instead of --zoom.
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixels_per_second: Option<NonZeroU32>,
    /// Bits per stored value: 8 or 16 (default 16).
    #[cfg_attr(feature = "clap", arg(short = 'b', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<Bits>,
    /// One waveform per channel instead of their mix.
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub split_channels: bool,
    /// Vertical zoom: a number (images only; default 1.0) or `auto` (data too).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amplitude_scale: Option<AmplitudeScale>,
    /// Start time in seconds (default 0): where an image begins; with --end, sets the zoom.
    #[cfg_attr(feature = "clap", arg(short = 's', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// End time in seconds: fits --start..--end into --width pixels.
    #[cfg_attr(feature = "clap", arg(short = 'e', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// Writes this many normalised points (0 to 1) as a JSON list instead of peaks.
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<NonZeroUsize>,
    /// Image width in pixels (default 800).
    #[cfg_attr(feature = "clap", arg(short = 'w', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<NonZeroU32>,
    /// Image height in pixels (default 250).
    #[cfg_attr(feature = "clap", arg(short = 'h', long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<NonZeroU32>,
    /// Image background, hex RRGGBB[AA] (default FFFFFF).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_color: Option<Rgba>,
    /// Waveform colour, hex RRGGBB[AA] (default 3A66C6).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waveform_color: Option<Rgba>,
    /// Colour of time ticks and labels, hex RRGGBB[AA] (default 000000).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis_label_color: Option<Rgba>,
    /// Columns or bars (default normal).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    #[serde(alias = "style", skip_serializing_if = "Option::is_none")]
    pub waveform_style: Option<StyleName>,
    /// Bar width in pixels (default 8).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bar_width: Option<NonZeroU32>,
    /// Gap between bars in pixels (default 4).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bar_gap: Option<u32>,
    /// Bar ends (default square).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bar_style: Option<BarShape>,
    /// Leaves out time ticks and labels.
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_axis_labels: bool,
}
