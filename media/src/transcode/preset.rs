//! Presets: the data form a config file or a job payload carries ([`PresetSpec`]), and the
//! checked form an encode runs from ([`Preset`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::clip::Clip;
use super::codec::{OutputCodec, OutputContainer};
use crate::format::{AudioFormat, ChannelCount, SampleRate};

/// Segment length of HLS presets that do not set one, in seconds.
pub const DEFAULT_SEGMENT_SECONDS: u32 = 10;

/// Longest HLS segment a preset may ask for, in seconds.
const MAX_SEGMENT_SECONDS: u32 = 60;

/// Longest preset name, in characters.
const MAX_NAME_LEN: usize = 32;

/// A preset as written in a config file or a job payload, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetSpec {
    /// 1–32 characters of `a-z`, `0-9` and `_`; output file names derive from it.
    pub name: String,
    /// `mp3`, `aac` or `opus`.
    pub codec: OutputCodec,
    /// `mp3` (with mp3), `hls` (with aac) or `ogg` (with opus).
    pub container: OutputContainer,
    /// Target bit rate in bits per second.
    pub bit_rate: u32,
    /// Output sample rate in Hz; by default the source's, or the nearest the codec supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// 1 or 2; by default the source's, at most 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
    /// HLS segment length in seconds (HLS only; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_seconds: Option<u32>,
    /// Where a clip starts in the source, in milliseconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// How long a clip lasts at most, in milliseconds (default: to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// A field of a [`PresetSpec`] that no preset may hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid preset field `{field}`: {reason}")]
pub struct InvalidPreset {
    field: &'static str,
    reason: String,
}

impl InvalidPreset {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The name of the offending field, as spelled in the spec.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

/// A checked preset: a codec in its container, at a bit rate the encoder takes as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PresetSpec", into = "PresetSpec")]
pub struct Preset {
    name: PresetName,
    delivery: Delivery,
    bit_rate: u32,
    sample_rate: Option<SampleRate>,
    channels: Option<ChannelCount>,
    clip: Clip,
}

/// How the encoded audio is packaged; the codec follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Mp3File,
    Hls { segment_seconds: u32 },
    OggOpus,
}

/// A preset name: 1–32 characters of `a-z`, `0-9` and `_`, so safe as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PresetName(String);

impl PresetName {
    fn parse(name: String) -> Result<Self, InvalidPreset> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(allowed) {
            return Err(InvalidPreset::new(
                "name",
                format!("{name:?} is not 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and _"),
            ));
        }
        Ok(Self(name))
    }
}

impl TryFrom<PresetSpec> for Preset {
    type Error = InvalidPreset;

    fn try_from(spec: PresetSpec) -> Result<Self, Self::Error> {
        let codec = spec.codec;
        let delivery = delivery(codec, spec.container, spec.segment_seconds)?;
        if !codec.accepts_bit_rate(spec.bit_rate) {
            return Err(InvalidPreset::new(
                "bit_rate",
                format!(
                    "{} bit/s: {} takes {}",
                    spec.bit_rate,
                    codec.name(),
                    codec.bit_rate_rule()
                ),
            ));
        }
        Ok(Self {
            name: PresetName::parse(spec.name)?,
            delivery,
            bit_rate: spec.bit_rate,
            sample_rate: spec
                .sample_rate
                .map(|hz| sample_rate(codec, hz))
                .transpose()?,
            channels: spec.channels.map(channels).transpose()?,
            clip: Clip::new(spec.start_ms, spec.duration_ms)
                .map_err(|reason| InvalidPreset::new("duration_ms", reason))?,
        })
    }
}

fn delivery(
    codec: OutputCodec,
    container: OutputContainer,
    segment_seconds: Option<u32>,
) -> Result<Delivery, InvalidPreset> {
    if codec.container() != container {
        return Err(InvalidPreset::new(
            "container",
            format!(
                "{} goes in {}, not {}",
                codec.name(),
                codec.container().name(),
                container.name()
            ),
        ));
    }
    match (codec, segment_seconds) {
        (OutputCodec::Aac, seconds) => {
            let seconds = seconds.unwrap_or(DEFAULT_SEGMENT_SECONDS);
            if !(1..=MAX_SEGMENT_SECONDS).contains(&seconds) {
                return Err(InvalidPreset::new(
                    "segment_seconds",
                    format!("{seconds} is not from 1 to {MAX_SEGMENT_SECONDS}"),
                ));
            }
            Ok(Delivery::Hls {
                segment_seconds: seconds,
            })
        }
        (_, Some(_)) => Err(InvalidPreset::new(
            "segment_seconds",
            "only HLS presets have segments",
        )),
        (OutputCodec::Mp3, None) => Ok(Delivery::Mp3File),
        (OutputCodec::Opus, None) => Ok(Delivery::OggOpus),
    }
}

fn sample_rate(codec: OutputCodec, hz: u32) -> Result<SampleRate, InvalidPreset> {
    let supported = codec.sample_rates();
    match SampleRate::new(hz) {
        Ok(rate) if supported.contains(&hz) => Ok(rate),
        _ => Err(InvalidPreset::new(
            "sample_rate",
            format!("{hz} Hz: {} runs at {supported:?} Hz", codec.name()),
        )),
    }
}

fn channels(count: u16) -> Result<ChannelCount, InvalidPreset> {
    match ChannelCount::new(count) {
        Ok(channels) if count <= 2 => Ok(channels),
        _ => Err(InvalidPreset::new(
            "channels",
            format!("{count} is neither 1 nor 2"),
        )),
    }
}

impl Preset {
    /// The data form, as it would be written in a config file.
    pub fn spec(&self) -> PresetSpec {
        PresetSpec {
            name: self.name.0.clone(),
            codec: self.codec(),
            container: self.container(),
            bit_rate: self.bit_rate,
            sample_rate: self.sample_rate.map(SampleRate::hz),
            channels: self.channels.map(ChannelCount::get),
            segment_seconds: self.segment_seconds(),
            start_ms: self.clip.start_ms(),
            duration_ms: self.clip.duration_ms(),
        }
    }

    /// The preset's name; output file names derive from it alone.
    pub fn name(&self) -> &str {
        &self.name.0
    }

    /// The codec.
    pub fn codec(&self) -> OutputCodec {
        match self.delivery {
            Delivery::Mp3File => OutputCodec::Mp3,
            Delivery::Hls { .. } => OutputCodec::Aac,
            Delivery::OggOpus => OutputCodec::Opus,
        }
    }

    /// The container.
    pub fn container(&self) -> OutputContainer {
        self.codec().container()
    }

    /// The media type of the file a player opens.
    pub fn mime(&self) -> &'static str {
        self.container().mime()
    }

    /// Target bit rate in bits per second.
    pub fn bit_rate(&self) -> u32 {
        self.bit_rate
    }

    /// HLS segment length in seconds; `None` for other containers.
    pub fn segment_seconds(&self) -> Option<u32> {
        match self.delivery {
            Delivery::Hls { segment_seconds } => Some(segment_seconds),
            Delivery::Mp3File | Delivery::OggOpus => None,
        }
    }

    /// Where the clip starts in the source.
    pub fn start(&self) -> Duration {
        self.clip.start()
    }

    /// How long the clip lasts at most; `None` for the whole source from [`Self::start`].
    pub fn max_duration(&self) -> Option<Duration> {
        self.clip.max_duration()
    }

    pub(crate) fn clip(&self) -> &Clip {
        &self.clip
    }

    /// Sample rate and channels of this preset's output for a source of `source` format.
    pub fn output_format(&self, source: AudioFormat) -> AudioFormat {
        let codec = self.codec();
        let sample_rate = self.sample_rate.unwrap_or_else(|| {
            SampleRate::new(codec.nearest_sample_rate(source.sample_rate.hz()))
                .expect("every codec rate is a valid sample rate")
        });
        let channels = self.channels.unwrap_or_else(|| {
            source
                .channels
                .min(ChannelCount::new(2).expect("2 channels"))
        });
        AudioFormat {
            sample_rate,
            channels,
        }
    }
}

impl From<Preset> for PresetSpec {
    fn from(preset: Preset) -> Self {
        preset.spec()
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {} kbit/s in {})",
            self.name(),
            self.codec().name(),
            self.bit_rate / 1000,
            self.container().name()
        )
    }
}

/// The platform's streaming set: `mp3_128` (MP3 128k CBR, progressive), `aac_hls_160`
/// (AAC-LC 160k, HLS VOD in 10 s segments), `opus_64` (Opus 64k in Ogg) and `preview_mp3`
/// (the first 30 s, MP3 128k).
pub fn default_presets() -> Vec<Preset> {
    use OutputCodec as C;
    use OutputContainer as K;
    let spec = |name: &str, codec, container, bit_rate, duration_ms| PresetSpec {
        name: name.to_owned(),
        codec,
        container,
        bit_rate,
        sample_rate: None,
        channels: None,
        segment_seconds: None,
        start_ms: None,
        duration_ms,
    };
    [
        spec("mp3_128", C::Mp3, K::Mp3, 128_000, None),
        spec("aac_hls_160", C::Aac, K::Hls, 160_000, None),
        spec("opus_64", C::Opus, K::Ogg, 64_000, None),
        spec("preview_mp3", C::Mp3, K::Mp3, 128_000, Some(30_000)),
    ]
    .into_iter()
    .map(|spec| Preset::try_from(spec).expect("the built-in presets are valid"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(codec: OutputCodec, container: OutputContainer, bit_rate: u32) -> PresetSpec {
        PresetSpec {
            name: "test_1".to_owned(),
            codec,
            container,
            bit_rate,
            sample_rate: None,
            channels: None,
            segment_seconds: None,
            start_ms: None,
            duration_ms: None,
        }
    }

    fn field_of(spec: PresetSpec) -> &'static str {
        Preset::try_from(spec).expect_err("invalid").field()
    }

    fn format(hz: u32, channels: u16) -> AudioFormat {
        AudioFormat {
            sample_rate: SampleRate::new(hz).expect("rate"),
            channels: ChannelCount::new(channels).expect("channels"),
        }
    }

    #[test]
    fn the_default_presets_round_trip_through_their_specs() {
        let presets = default_presets();
        let names: Vec<&str> = presets.iter().map(Preset::name).collect();
        assert_eq!(names, ["mp3_128", "aac_hls_160", "opus_64", "preview_mp3"]);
        for preset in presets {
            assert_eq!(Preset::try_from(preset.spec()), Ok(preset));
        }
    }

    #[test]
    fn names_outside_the_file_safe_alphabet_are_refused() {
        for name in ["", "Mp3", "a-b", "../x", &"a".repeat(33)] {
            let mut bad = spec(OutputCodec::Mp3, OutputContainer::Mp3, 128_000);
            bad.name = name.to_owned();
            assert_eq!(field_of(bad), "name", "{name:?}");
        }
    }

    #[test]
    fn a_codec_in_another_codecs_container_is_refused() {
        let bad = spec(OutputCodec::Aac, OutputContainer::Mp3, 128_000);
        assert_eq!(field_of(bad), "container");
    }

    #[test]
    fn bit_rates_the_encoder_would_change_are_refused() {
        assert_eq!(
            field_of(spec(OutputCodec::Mp3, OutputContainer::Mp3, 100_000)),
            "bit_rate"
        );
        assert_eq!(
            field_of(spec(OutputCodec::Opus, OutputContainer::Ogg, 300_000)),
            "bit_rate"
        );
    }

    #[test]
    fn segments_belong_to_hls_only() {
        let mut bad = spec(OutputCodec::Mp3, OutputContainer::Mp3, 128_000);
        bad.segment_seconds = Some(6);
        assert_eq!(field_of(bad), "segment_seconds");
        let hls = Preset::try_from(spec(OutputCodec::Aac, OutputContainer::Hls, 160_000));
        assert_eq!(hls.map(|p| p.segment_seconds()), Ok(Some(10)));
    }

    #[test]
    fn opus_runs_only_at_48_khz() {
        let mut bad = spec(OutputCodec::Opus, OutputContainer::Ogg, 64_000);
        bad.sample_rate = Some(44_100);
        assert_eq!(field_of(bad), "sample_rate");
    }

    #[test]
    fn more_than_two_channels_are_refused() {
        let mut bad = spec(OutputCodec::Opus, OutputContainer::Ogg, 64_000);
        bad.channels = Some(6);
        assert_eq!(field_of(bad), "channels");
    }

    #[test]
    fn the_output_follows_the_source_within_what_the_codec_supports() {
        let mp3 =
            Preset::try_from(spec(OutputCodec::Mp3, OutputContainer::Mp3, 128_000)).expect("valid");
        assert_eq!(mp3.output_format(format(44_100, 1)), format(44_100, 1));
        assert_eq!(mp3.output_format(format(22_050, 6)), format(32_000, 2));
        let mut mono = spec(OutputCodec::Opus, OutputContainer::Ogg, 64_000);
        mono.channels = Some(1);
        let mono = Preset::try_from(mono).expect("valid");
        assert_eq!(mono.output_format(format(44_100, 2)), format(48_000, 1));
    }
}
