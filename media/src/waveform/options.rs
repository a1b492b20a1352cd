//! Waveform options as types that cannot hold a value audiowaveform would refuse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use thiserror::Error;

use super::zoom::Zoom;
use crate::format::InvalidFormat;

/// A value that no waveform option, format field or header may take.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InvalidOption {
    /// Samples per pixel below 2 or beyond `i32`.
    #[error("invalid samples per pixel {0}: must be from 2 to 2147483647")]
    SamplesPerPixel(i64),
    /// Bits other than 8 or 16.
    #[error("invalid bits {0}: must be 8 or 16")]
    Bits(i64),
    /// A gain that is negative, infinite or NaN.
    #[error("invalid amplitude scale {0}: must be a finite number of at least 0")]
    Gain(f64),
    /// A sample rate or channel count out of range.
    #[error(transparent)]
    Format(#[from] InvalidFormat),
    /// A time span whose end lies before its start, or with a negative or non-finite bound.
    #[error("invalid time span {start} to {end} seconds")]
    TimeSpan {
        /// Start, in seconds.
        start: f64,
        /// End, in seconds.
        end: f64,
    },
    /// Text that does not spell a value of the named option.
    #[error("cannot read {text:?} as {option}")]
    Unreadable {
        /// The option being read.
        option: &'static str,
        /// The text given.
        text: String,
    },
}

fn unreadable(option: &'static str, text: &str) -> InvalidOption {
    InvalidOption::Unreadable {
        option,
        text: text.to_owned(),
    }
}

/// Audio frames summarised by one min/max pair: at least 2, at most `i32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct SamplesPerPixel(u32);

impl SamplesPerPixel {
    /// audiowaveform's default zoom.
    pub const DEFAULT: Self = Self(256);

    /// Accepts 2 ..= `i32::MAX`, the range audiowaveform writes and reads.
    pub fn new(frames: i64) -> Result<Self, InvalidOption> {
        match i32::try_from(frames) {
            Ok(value) if value >= 2 => Ok(Self(value.unsigned_abs())),
            _ => Err(InvalidOption::SamplesPerPixel(frames)),
        }
    }

    /// The frame count.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for SamplesPerPixel {
    type Error = InvalidOption;

    fn try_from(frames: i64) -> Result<Self, Self::Error> {
        Self::new(frames)
    }
}

impl From<SamplesPerPixel> for u32 {
    fn from(frames: SamplesPerPixel) -> Self {
        frames.0
    }
}

impl FromStr for SamplesPerPixel {
    type Err = InvalidOption;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let frames = text
            .parse::<i64>()
            .map_err(|_| unreadable("samples per pixel", text))?;
        Self::new(frames)
    }
}

/// Resolution of stored peak values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub enum Bits {
    /// Signed bytes: the 16-bit value divided by 256.
    Eight,
    /// Signed 16-bit values as generated.
    #[default]
    Sixteen,
}

impl Bits {
    /// 8 or 16.
    pub fn get(self) -> u8 {
        match self {
            Self::Eight => 8,
            Self::Sixteen => 16,
        }
    }
}

impl TryFrom<i64> for Bits {
    type Error = InvalidOption;

    fn try_from(bits: i64) -> Result<Self, Self::Error> {
        match bits {
            8 => Ok(Self::Eight),
            16 => Ok(Self::Sixteen),
            other => Err(InvalidOption::Bits(other)),
        }
    }
}

impl From<Bits> for u8 {
    fn from(bits: Bits) -> Self {
        bits.get()
    }
}

impl FromStr for Bits {
    type Err = InvalidOption;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bits = text.parse::<i64>().map_err(|_| unreadable("bits", text))?;
        Self::try_from(bits)
    }
}

/// An amplitude multiplier: finite and not negative.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Gain(f64);

impl Gain {
    /// Leaves every value as it is.
    pub const UNITY: Self = Self(1.0);

    /// Accepts finite values of at least 0.
    pub fn new(factor: f64) -> Result<Self, InvalidOption> {
        if factor.is_finite() && factor >= 0.0 {
            Ok(Self(factor))
        } else {
            Err(InvalidOption::Gain(factor))
        }
    }

    /// The multiplier.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Vertical zoom, as audiowaveform's `--amplitude-scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AmplitudeScale {
    /// A set gain; like audiowaveform, generated data ignores it and only renderers use it.
    Fixed(Gain),
    /// Stretch the loudest peak to full scale (see [`super::amplitude`]).
    Auto,
}

impl Default for AmplitudeScale {
    fn default() -> Self {
        Self::Fixed(Gain::UNITY)
    }
}

impl FromStr for AmplitudeScale {
    type Err = InvalidOption;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "auto" {
            return Ok(Self::Auto);
        }
        let factor = text
            .parse::<f64>()
            .map_err(|_| unreadable("amplitude scale", text))?;
        Gain::new(factor).map(Self::Fixed)
    }
}

/// Written as a JSON number, or the string `auto`.
impl Serialize for AmplitudeScale {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Fixed(gain) => serializer.serialize_f64(gain.get()),
            Self::Auto => serializer.serialize_str("auto"),
        }
    }
}

/// Read from a JSON number, or a string as the command line spells it.
impl<'de> Deserialize<'de> for AmplitudeScale {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScaleVisitor)
    }
}

struct ScaleVisitor;

impl de::Visitor<'_> for ScaleVisitor {
    type Value = AmplitudeScale;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of at least 0, or \"auto\"")
    }

    fn visit_f64<E: de::Error>(self, factor: f64) -> Result<Self::Value, E> {
        Gain::new(factor)
            .map(AmplitudeScale::Fixed)
            .map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, factor: i64) -> Result<Self::Value, E> {
        self.visit_f64(factor as f64)
    }

    fn visit_u64<E: de::Error>(self, factor: u64) -> Result<Self::Value, E> {
        self.visit_f64(factor as f64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.parse().map_err(E::custom)
    }
}

/// Whether channels are averaged into one waveform or kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChannelMode {
    /// One output channel: the integer mean of all input channels.
    #[default]
    Mixed,
    /// One output channel per input channel, as `--split-channels`.
    Split,
}

/// Everything that shapes generated peaks; defaults are audiowaveform's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WaveformOptions {
    /// Frames per pixel.
    pub zoom: Zoom,
    /// Stored resolution.
    pub bits: Bits,
    /// Vertical zoom.
    pub amplitude_scale: AmplitudeScale,
    /// Mix-down or split.
    pub channel_mode: ChannelMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_per_pixel_below_two_are_refused() {
        assert!(SamplesPerPixel::new(1).is_err());
        assert!("0".parse::<SamplesPerPixel>().is_err());
        assert_eq!(
            "2".parse::<SamplesPerPixel>().map(SamplesPerPixel::get),
            Ok(2)
        );
    }

    #[test]
    fn samples_per_pixel_beyond_i32_are_refused() {
        assert!(SamplesPerPixel::new(i64::from(i32::MAX) + 1).is_err());
    }

    #[test]
    fn bits_are_eight_or_sixteen_only() {
        assert_eq!("8".parse(), Ok(Bits::Eight));
        assert_eq!("16".parse(), Ok(Bits::Sixteen));
        assert_eq!("24".parse::<Bits>(), Err(InvalidOption::Bits(24)));
    }

    #[test]
    fn amplitude_scale_reads_auto_or_a_number_of_at_least_zero() {
        assert_eq!("auto".parse(), Ok(AmplitudeScale::Auto));
        let fixed = "1.5".parse::<AmplitudeScale>();
        assert_eq!(
            fixed,
            Ok(AmplitudeScale::Fixed(Gain::new(1.5).expect("gain")))
        );
        assert!("-1".parse::<AmplitudeScale>().is_err());
        assert!("NaN".parse::<AmplitudeScale>().is_err());
        assert!("loud".parse::<AmplitudeScale>().is_err());
    }

    #[test]
    fn options_read_from_json_as_from_the_command_line() {
        let scale: AmplitudeScale = serde_json::from_str("2").expect("number");
        assert_eq!(scale, "2".parse().expect("text"));
        let auto: AmplitudeScale = serde_json::from_str("\"auto\"").expect("auto");
        assert_eq!(auto, AmplitudeScale::Auto);
        assert!(serde_json::from_str::<AmplitudeScale>("-1").is_err());
        assert!(serde_json::from_str::<Bits>("12").is_err());
        assert!(serde_json::from_str::<SamplesPerPixel>("1").is_err());
        let zoom: SamplesPerPixel = serde_json::from_str("512").expect("zoom");
        assert_eq!(serde_json::to_string(&zoom).expect("writes"), "512");
        assert_eq!(serde_json::to_string(&Bits::Eight).expect("writes"), "8");
        let back = serde_json::to_string(&AmplitudeScale::Auto).expect("writes");
        assert_eq!(back, "\"auto\"");
    }

    #[test]
    fn defaults_are_audiowaveforms() {
        let options = WaveformOptions::default();
        assert_eq!(options.bits, Bits::Sixteen);
        assert_eq!(options.amplitude_scale, AmplitudeScale::Fixed(Gain::UNITY));
        assert_eq!(options.channel_mode, ChannelMode::Mixed);
        assert_eq!(
            options.zoom,
            Zoom::SamplesPerPixel(SamplesPerPixel::DEFAULT)
        );
    }
}
