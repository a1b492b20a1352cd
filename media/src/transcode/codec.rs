//! The codecs and containers Mixdown encodes to, and what each accepts.

use serde::{Deserialize, Serialize};

/// MPEG-1 Layer III bit rates (bits/s). Only MPEG-1 sample rates are offered for MP3, so
/// every one of these is valid at every rate, and LAME writes exactly this rate in CBR.
const MP3_BIT_RATES: [u32; 14] = [
    32_000, 40_000, 48_000, 56_000, 64_000, 80_000, 96_000, 112_000, 128_000, 160_000, 192_000,
    224_000, 256_000, 320_000,
];

/// An audio codec a preset encodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputCodec {
    /// MPEG-1 Layer III through LAME, constant bit rate.
    Mp3,
    /// AAC-LC through FFmpeg's native encoder.
    Aac,
    /// Opus through libopus, always at 48 kHz.
    Opus,
}

/// The container a preset's encoded audio is packaged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputContainer {
    /// A progressive `.mp3` file.
    Mp3,
    /// HTTP Live Streaming: a VOD playlist over MPEG-TS segments.
    Hls,
    /// An `.ogg` file.
    Ogg,
}

impl OutputCodec {
    /// The lowercase name used in presets and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Aac => "aac",
            Self::Opus => "opus",
        }
    }

    /// The only container this codec is packaged in.
    pub fn container(self) -> OutputContainer {
        match self {
            Self::Mp3 => OutputContainer::Mp3,
            Self::Aac => OutputContainer::Hls,
            Self::Opus => OutputContainer::Ogg,
        }
    }

    /// Sample rates the encoder is run at, ascending.
    pub fn sample_rates(self) -> &'static [u32] {
        match self {
            // MPEG-1 rates only: the lower MPEG-2 rates cap the bit rate at 160k.
            Self::Mp3 => &[32_000, 44_100, 48_000],
            // Both carry 256k even in mono (the encoder allows 6144 bits per channel per
            // 1024-frame packet).
            Self::Aac => &[44_100, 48_000],
            Self::Opus => &[48_000],
        }
    }

    /// Whether the encoder takes `bits_per_second` as is, whatever the rate and channels.
    pub fn accepts_bit_rate(self, bits_per_second: u32) -> bool {
        match self {
            Self::Mp3 => MP3_BIT_RATES.contains(&bits_per_second),
            Self::Aac => (32_000..=256_000).contains(&bits_per_second),
            // libopus refuses more than 256k per channel, so mono bounds the range.
            Self::Opus => (6_000..=256_000).contains(&bits_per_second),
        }
    }

    /// A description of the bit rates [`Self::accepts_bit_rate`] takes, for error messages.
    pub(crate) fn bit_rate_rule(self) -> &'static str {
        match self {
            Self::Mp3 => {
                "one of 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 kbit/s"
            }
            Self::Aac => "from 32000 to 256000 bit/s",
            Self::Opus => "from 6000 to 256000 bit/s",
        }
    }

    /// `source_hz` if the encoder runs at it, else the nearest rate it runs at (the higher
    /// one on a tie, to lose nothing).
    pub fn nearest_sample_rate(self, source_hz: u32) -> u32 {
        let rates = self.sample_rates();
        rates
            .iter()
            .copied()
            .min_by_key(|&rate| (rate.abs_diff(source_hz), u32::MAX - rate))
            .unwrap_or(rates[0])
    }

    /// The FFmpeg encoder's name.
    pub(crate) fn encoder_name(self) -> &'static str {
        match self {
            Self::Mp3 => "libmp3lame",
            Self::Aac => "aac",
            Self::Opus => "libopus",
        }
    }
}

impl OutputContainer {
    /// The lowercase name used in presets and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Hls => "hls",
            Self::Ogg => "ogg",
        }
    }

    /// The media type of the file a player opens.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Hls => "application/vnd.apple.mpegurl",
            Self::Ogg => "audio/ogg",
        }
    }

    /// The FFmpeg muxer's name.
    pub(crate) fn muxer_name(self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supported_source_rate_is_kept_and_others_go_to_the_nearest() {
        assert_eq!(OutputCodec::Mp3.nearest_sample_rate(44_100), 44_100);
        assert_eq!(OutputCodec::Mp3.nearest_sample_rate(22_050), 32_000);
        assert_eq!(OutputCodec::Aac.nearest_sample_rate(96_000), 48_000);
        assert_eq!(OutputCodec::Aac.nearest_sample_rate(8_000), 44_100);
        assert_eq!(OutputCodec::Opus.nearest_sample_rate(44_100), 48_000);
    }

    #[test]
    fn a_rate_halfway_between_two_goes_up() {
        assert_eq!(OutputCodec::Aac.nearest_sample_rate(46_050), 48_000);
    }

    #[test]
    fn mp3_takes_only_standard_bit_rates() {
        assert!(OutputCodec::Mp3.accepts_bit_rate(128_000));
        assert!(!OutputCodec::Mp3.accepts_bit_rate(130_000));
        assert!(!OutputCodec::Mp3.accepts_bit_rate(384_000));
    }

    #[test]
    fn every_codec_has_its_own_container() {
        assert_eq!(OutputCodec::Aac.container(), OutputContainer::Hls);
        assert_eq!(OutputCodec::Opus.container().mime(), "audio/ogg");
    }
}
