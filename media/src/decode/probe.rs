//! What an input holds, as found when it is opened.

use std::time::Duration;

use crate::format::AudioFormat;

/// The container (or elementary stream framing) of an input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Container {
    /// RIFF WAVE.
    Wav,
    /// AIFF or AIFF-C.
    Aiff,
    /// A bare MPEG audio stream, usually `.mp3`.
    MpegAudio,
    /// Bare AAC in ADTS frames.
    Adts,
    /// ISO base media (MP4, M4A, MOV).
    Mp4,
    /// Ogg.
    Ogg,
    /// Native FLAC.
    Flac,
    /// Matroska or WebM.
    Matroska,
    /// Anything else FFmpeg reads, by its demuxer name.
    Other(String),
}

impl Container {
    /// Recognises the demuxer names of symphonia and FFmpeg.
    pub(crate) fn from_demuxer(name: &str) -> Self {
        match name {
            "wave" | "wav" => Self::Wav,
            "aiff" => Self::Aiff,
            "mp1" | "mp2" | "mp3" => Self::MpegAudio,
            "aac" => Self::Adts,
            "mov,mp4,m4a,3gp,3g2,mj2" => Self::Mp4,
            "ogg" => Self::Ogg,
            "flac" => Self::Flac,
            "matroska,webm" => Self::Matroska,
            other => Self::Other(other.to_owned()),
        }
    }

    /// A short lowercase name for logs and rows.
    pub fn name(&self) -> &str {
        match self {
            Self::Wav => "wav",
            Self::Aiff => "aiff",
            // FFmpeg's demuxer name, and what the track answer promises.
            Self::MpegAudio => "mp3",
            Self::Adts => "adts",
            Self::Mp4 => "mp4",
            Self::Ogg => "ogg",
            Self::Flac => "flac",
            Self::Matroska => "matroska",
            Self::Other(name) => name,
        }
    }
}

/// The codec of the decoded audio track.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Uncompressed PCM of any width, integer or float.
    Pcm,
    /// MPEG-1/2 Layer III.
    Mp3,
    /// AAC.
    Aac,
    /// FLAC.
    Flac,
    /// Vorbis.
    Vorbis,
    /// Opus.
    Opus,
    /// Apple Lossless.
    Alac,
    /// Anything else FFmpeg decodes, by its codec name.
    Other(String),
}

impl Codec {
    /// Recognises the codec names of symphonia and FFmpeg.
    pub(crate) fn from_decoder(name: &str) -> Self {
        match name {
            pcm if pcm.starts_with("pcm_") || pcm == "pcm" => Self::Pcm,
            "mp3" | "mp3float" => Self::Mp3,
            "aac" => Self::Aac,
            "flac" => Self::Flac,
            "vorbis" | "libvorbis" => Self::Vorbis,
            "opus" | "libopus" => Self::Opus,
            "alac" => Self::Alac,
            other => Self::Other(other.to_owned()),
        }
    }

    /// A short lowercase name for logs and rows.
    pub fn name(&self) -> &str {
        match self {
            Self::Pcm => "pcm",
            Self::Mp3 => "mp3",
            Self::Aac => "aac",
            Self::Flac => "flac",
            Self::Vorbis => "vorbis",
            Self::Opus => "opus",
            Self::Alac => "alac",
            Self::Other(name) => name,
        }
    }
}

/// Which library decodes an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Mixdown's own reader of integer PCM WAV, tried first.
    Wav,
    /// Pure Rust, for the other formats it knows.
    Symphonia,
    /// FFmpeg's libraries, for what symphonia cannot read.
    Ffmpeg,
}

/// The facts about an input known once its first block is decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Container, found from the bytes and never from a file name.
    pub container: Container,
    /// Codec of the track being decoded.
    pub codec: Codec,
    /// Sample rate and channels of the decoded PCM.
    pub format: AudioFormat,
    /// Duration the container declares; `None` when it declares none.
    pub duration: Option<Duration>,
    /// Average bits per second over the whole input, when the duration is declared.
    pub bit_rate: Option<u64>,
    /// The library that decodes it.
    pub backend: Backend,
}

/// What a backend knows after opening: everything but the PCM format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub(crate) container: Container,
    pub(crate) codec: Codec,
    pub(crate) duration: Option<Duration>,
    /// Frames the container declares, when it is trusted to be exact enough to spot truncation.
    pub(crate) declared_frames: Option<u64>,
    pub(crate) backend: Backend,
}

impl Header {
    /// The probe once the PCM format and the input size are known.
    pub(crate) fn into_probe(self, format: AudioFormat, byte_len: Option<u64>) -> Probe {
        let bit_rate = match (byte_len, self.duration) {
            (Some(bytes), Some(duration)) if !duration.is_zero() => {
                Some((bytes as f64 * 8.0 / duration.as_secs_f64()).round() as u64)
            }
            _ => None,
        };
        Probe {
            container: self.container,
            codec: self.codec,
            format,
            duration: self.duration,
            bit_rate,
            backend: self.backend,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demuxer_names_of_both_backends_map_to_the_same_container() {
        assert_eq!(
            Container::from_demuxer("wave"),
            Container::from_demuxer("wav")
        );
        assert_eq!(
            Container::from_demuxer("mov,mp4,m4a,3gp,3g2,mj2"),
            Container::Mp4
        );
        assert_eq!(Container::from_demuxer("caf").name(), "caf");
    }

    #[test]
    fn every_pcm_variant_is_one_codec() {
        assert_eq!(Codec::from_decoder("pcm_s24le"), Codec::Pcm);
        assert_eq!(Codec::from_decoder("pcm_f32be"), Codec::Pcm);
        assert_eq!(Codec::from_decoder("mp3float"), Codec::Mp3);
        assert_eq!(
            Codec::from_decoder("wavpack"),
            Codec::Other("wavpack".into())
        );
    }
}
