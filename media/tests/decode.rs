//! The decoder on real files of every supported kind, and on broken ones.

mod common;

use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use common::Fixtures;
use mixdown_media::decode::{
    Backend, Codec, Container, DecodeError, DecodeLimits, Decoder, ErrorCode,
};
use mixdown_media::format::{ChannelCount, SampleRate};

const SECONDS: f64 = 2.0;
const RATE: u32 = 44_100;

/// Decodes everything; returns the frame count and the largest block.
fn drain(decoder: &mut Decoder) -> Result<(u64, usize), DecodeError> {
    let mut expected_first = 0;
    let mut largest = 0;
    while let Some(block) = decoder.next_block()? {
        assert_eq!(block.first_frame(), expected_first, "blocks are contiguous");
        assert_eq!(block.samples().len(), block.pcm16().len());
        expected_first += block.frames() as u64;
        largest = largest.max(block.frames());
    }
    Ok((decoder.frames_decoded(), largest))
}

fn open(path: &Path) -> Result<Decoder, DecodeError> {
    Decoder::open_path(path, DecodeLimits::permissive())
}

fn decode_error(path: &Path) -> DecodeError {
    match open(path) {
        Err(error) => error,
        Ok(mut decoder) => drain(&mut decoder).expect_err("decoding should fail"),
    }
}

#[test]
fn every_supported_kind_is_probed_by_content_and_decoded_whole() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let cases = [
        (wav.clone(), Container::Wav, Codec::Pcm, Backend::Wav),
        (
            fixtures.ffmpeg(&wav, "music.mp3", &["-c:a", "libmp3lame", "-b:a", "128k"]),
            Container::MpegAudio,
            Codec::Mp3,
            Backend::Symphonia,
        ),
        (
            fixtures.ffmpeg(&wav, "music.flac", &[]),
            Container::Flac,
            Codec::Flac,
            Backend::Symphonia,
        ),
        (
            fixtures.ffmpeg(&wav, "music.m4a", &["-c:a", "aac", "-b:a", "128k"]),
            Container::Mp4,
            Codec::Aac,
            Backend::Ffmpeg,
        ),
        (
            fixtures.ffmpeg(&wav, "music.ogg", &["-c:a", "libvorbis"]),
            Container::Ogg,
            Codec::Vorbis,
            Backend::Symphonia,
        ),
        (
            fixtures.ffmpeg(&wav, "music.opus", &["-c:a", "libopus", "-b:a", "64k"]),
            Container::Ogg,
            Codec::Opus,
            Backend::Ffmpeg,
        ),
        (
            fixtures.ffmpeg(&wav, "adts-named.mp3", &["-c:a", "aac", "-f", "adts"]),
            Container::Adts,
            Codec::Aac,
            Backend::Symphonia,
        ),
    ];
    for (path, container, codec, backend) in cases {
        let mut decoder = open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let probe = decoder.probe().clone();
        let name = path.display();
        assert_eq!(probe.container, container, "{name}");
        assert_eq!(probe.codec, codec, "{name}");
        assert_eq!(probe.backend, backend, "{name}");
        assert_eq!(probe.format.channels.get(), 2, "{name}");
        let (frames, largest) = drain(&mut decoder).unwrap_or_else(|e| panic!("{name}: {e}"));
        let seconds = frames as f64 / f64::from(probe.format.sample_rate.hz());
        // Lossy codecs may add up to a frame or two of priming and padding.
        assert!((seconds - SECONDS).abs() < 0.1, "{name}: {seconds} s");
        assert!(largest <= 65_535, "{name}: a block of {largest} frames");
        if let Some(duration) = probe.duration {
            assert!(
                (duration.as_secs_f64() - SECONDS).abs() < 0.1,
                "{name}: {duration:?}"
            );
        }
    }
}

#[test]
fn the_probe_reports_rate_channels_duration_and_bit_rate() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", 48_000, SECONDS);
    let mono = fixtures.ffmpeg(&wav, "mono.mp3", &["-ac", "1", "-b:a", "96k"]);
    let decoder = open(&mono).expect("opens");
    let probe = decoder.probe();
    assert_eq!(probe.format.sample_rate.hz(), 48_000);
    assert_eq!(probe.format.channels, ChannelCount::MONO);
    let bit_rate = probe.bit_rate.expect("bit rate");
    assert!((90_000..110_000).contains(&bit_rate), "{bit_rate}");
    let wav_rate = open(&wav).expect("opens").probe().bit_rate;
    assert!(wav_rate.is_some_and(|rate| rate.abs_diff(48_000 * 2 * 16) < 2_000));
}

#[test]
fn a_reader_decodes_exactly_like_the_same_file_even_through_ffmpeg() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let opus = fixtures.ffmpeg(&wav, "music.opus", &["-c:a", "libopus"]);
    for path in [wav, opus] {
        let from_path = all_pcm16(&mut open(&path).expect("opens path"));
        let reader = Cursor::new(fs::read(&path).expect("reads"));
        let mut decoder =
            Decoder::open_reader(reader, DecodeLimits::permissive()).expect("opens reader");
        assert_eq!(all_pcm16(&mut decoder), from_path, "{}", path.display());
    }
}

/// Every sample in both views, one after the other.
fn all_samples(decoder: &mut Decoder) -> (Vec<f32>, Vec<i16>) {
    let (mut floats, mut pcm16) = (Vec::new(), Vec::new());
    while let Some(block) = decoder.next_block().expect("decodes") {
        floats.extend_from_slice(block.samples());
        pcm16.extend_from_slice(block.pcm16());
    }
    (floats, pcm16)
}

#[test]
fn integer_wav_is_read_straight_into_the_same_samples_symphonia_gives_for_aiff() {
    let fixtures = Fixtures::new();
    let source = fixtures.music("source.wav", RATE, 0.5);
    // sox writes WAVE_FORMAT_EXTENSIBLE above 16 bits or 2 channels, plain PCM below.
    for (bits, channels) in [
        ("8", "1"),
        ("16", "2"),
        ("24", "2"),
        ("32", "1"),
        ("16", "3"),
    ] {
        let convert = |name: &str| {
            let path = fixtures.path(name);
            // No dither: both files must hold the same samples.
            let status = std::process::Command::new("sox")
                .arg("-D")
                .arg(&source)
                .args(["-b", bits, "-c", channels])
                .arg(&path)
                .status()
                .expect("sox runs");
            assert!(status.success());
            path
        };
        let wav = convert(&format!("{bits}-{channels}.wav"));
        let aiff = convert(&format!("{bits}-{channels}.aiff"));
        let mut straight = open(&wav).expect("opens wav");
        let mut general = open(&aiff).expect("opens aiff");
        assert_eq!(straight.probe().backend, Backend::Wav, "{bits} bits");
        assert_eq!(general.probe().backend, Backend::Symphonia);
        assert_eq!(straight.probe().duration, general.probe().duration);
        let (floats, pcm16) = all_samples(&mut straight);
        assert!(!pcm16.is_empty());
        assert_eq!((floats, pcm16), all_samples(&mut general), "{bits} bits");
    }
}

#[test]
fn flac_decoded_packets_ahead_on_other_threads_gives_its_wavs_samples_in_order() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    // Small frames, so that many packets go round the decoding threads; 24 bits, so that both
    // views carry bits a 16-bit path would drop.
    let wav24 = fixtures.ffmpeg(&wav, "music24.wav", &["-c:a", "pcm_s24le"]);
    let flac = fixtures.ffmpeg(&wav24, "music.flac", &["-frame_size", "576"]);
    let mut decoder = open(&flac).expect("opens");
    let (frames, largest) = drain(&mut decoder).expect("decodes");
    assert_eq!(largest, 576);
    assert_eq!(frames, (f64::from(RATE) * SECONDS) as u64);
    assert_eq!(
        all_samples(&mut open(&flac).expect("opens")),
        all_samples(&mut open(&wav24).expect("opens"))
    );
}

#[test]
fn a_flac_cut_short_ends_in_order_with_the_frames_before_the_cut() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let flac =
        fs::read(fixtures.ffmpeg(&wav, "music.flac", &["-frame_size", "576"])).expect("reads");
    let cut = fixtures.bytes("cut.flac", &flac[..flac.len() / 2]);
    let mut decoder = open(&cut).expect("opens");
    let error = drain(&mut decoder).expect_err("decoding should fail");
    assert!(matches!(error, DecodeError::Truncated { .. }), "{error}");
    assert!(decoder.frames_decoded() > u64::from(RATE) / 2);
}

#[test]
fn a_float_or_streamed_wav_goes_to_symphonia() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let float = fixtures.ffmpeg(&wav, "float.wav", &["-c:a", "pcm_f32le"]);
    assert_eq!(
        open(&float).expect("opens").probe().backend,
        Backend::Symphonia
    );
    let mut header = fs::read(&wav).expect("reads");
    header[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let streamed = fixtures.bytes("streamed.wav", &header);
    let decoder = open(&streamed).expect("opens");
    assert_eq!(decoder.probe().backend, Backend::Symphonia);
}

#[test]
fn a_peaks_only_decoder_fills_the_16_bit_view_alone() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let mp3 = fixtures.ffmpeg(&wav, "music.mp3", &["-b:a", "128k"]);
    let flac = fixtures.ffmpeg(&wav, "music.flac", &[]);
    for path in [wav, mp3, flac] {
        let (_, expected) = all_samples(&mut open(&path).expect("opens"));
        let mut decoder = open(&path).expect("opens").peaks_only();
        let first = decoder.next_block().expect("decodes").expect("a block");
        assert_eq!(first.samples().len(), first.pcm16().len(), "opened whole");
        let mut pcm16 = first.pcm16().to_vec();
        while let Some(block) = decoder.next_block().expect("decodes") {
            assert!(block.samples().is_empty());
            pcm16.extend_from_slice(block.pcm16());
        }
        assert_eq!(pcm16, expected, "{}", path.display());
    }
}

#[test]
fn a_playlist_naming_a_local_file_is_not_audio() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let mp3 = fixtures.ffmpeg(&wav, "secret.mp3", &["-b:a", "128k"]);
    // An HLS playlist whose one segment is a file on the decoding host: read as audio,
    // it would decode that file (the worker's own disk) into the upload's outputs.
    for (name, text) in [
        (
            "list.m3u8",
            format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{}\n#EXT-X-ENDLIST\n",
                mp3.display()
            ),
        ),
        (
            "concat.txt",
            format!("ffconcat version 1.0\nfile '{}'\n", mp3.display()),
        ),
    ] {
        let playlist = fixtures.bytes(name, text.as_bytes());
        let error = decode_error(&playlist);
        assert_eq!(
            error.code(),
            ErrorCode::UnsupportedFormat,
            "{name}: {error}"
        );
    }
}

#[test]
fn every_container_ffmpeg_opens_is_one_mixdown_supports() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    // Audio FFmpeg can decode, in containers outside the supported list.
    for (name, args) in [
        ("music.caf", &["-c:a", "pcm_s16le"][..]),
        ("music.w64", &[][..]),
        ("music.au", &[][..]),
    ] {
        let file = fixtures.ffmpeg(&wav, name, args);
        let error = decode_error(&file);
        assert_eq!(
            error.code(),
            ErrorCode::UnsupportedFormat,
            "{name}: {error}"
        );
    }
}

fn all_pcm16(decoder: &mut Decoder) -> Vec<i16> {
    let mut samples = Vec::new();
    while let Some(block) = decoder.next_block().expect("decodes") {
        samples.extend_from_slice(block.pcm16());
    }
    samples
}

#[test]
fn a_text_file_named_mp3_is_an_unsupported_format() {
    let fixtures = Fixtures::new();
    let text = "These are the lyrics of the song, not the song.\n".repeat(40);
    let path = fixtures.bytes("lyrics.mp3", text.as_bytes());
    let error = decode_error(&path);
    assert_eq!(error.code(), ErrorCode::UnsupportedFormat, "{error}");
    assert!(error.is_client_error());
}

#[test]
fn zero_bytes_are_empty_audio() {
    let fixtures = Fixtures::new();
    let error = decode_error(&fixtures.bytes("nothing.mp3", &[]));
    assert!(matches!(error, DecodeError::Empty), "{error}");
    assert_eq!(error.code().as_str(), "empty_audio");
}

#[test]
fn a_wav_without_frames_is_empty_audio() {
    let fixtures = Fixtures::new();
    let full = fs::read(fixtures.music("music.wav", RATE, SECONDS)).expect("reads");
    let mut header_only = full[..44].to_vec();
    header_only[40..44].copy_from_slice(&0_u32.to_le_bytes());
    let error = decode_error(&fixtures.bytes("silence.wav", &header_only));
    assert_eq!(error.code(), ErrorCode::EmptyAudio, "{error}");
}

#[test]
fn a_truncated_mp3_is_corrupt_audio() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let mp3 = fs::read(fixtures.ffmpeg(&wav, "music.mp3", &["-b:a", "128k"])).expect("reads");
    let cut = fixtures.bytes("cut.mp3", &mp3[..mp3.len() / 2]);
    let error = decode_error(&cut);
    assert!(matches!(error, DecodeError::Truncated { .. }), "{error}");
    assert_eq!(error.code(), ErrorCode::CorruptAudio);
}

#[test]
fn a_wav_cut_short_of_the_size_its_header_declares_is_truncated() {
    let fixtures = Fixtures::new();
    let wav = fs::read(fixtures.music("music.wav", RATE, SECONDS)).expect("reads");
    let error = decode_error(&fixtures.bytes("cut.wav", &wav[..wav.len() / 2]));
    assert!(matches!(error, DecodeError::Truncated { .. }), "{error}");
    assert_eq!(error.code(), ErrorCode::CorruptAudio);
}

#[test]
fn nan_and_infinite_float_samples_reach_no_consumer() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let mut float =
        fs::read(fixtures.ffmpeg(&wav, "float.wav", &["-c:a", "pcm_f32le"])).expect("reads");
    let data = float
        .windows(4)
        .position(|tag| tag == b"data")
        .expect("a data chunk")
        + 8;
    let poison = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN];
    for (i, value) in poison.iter().cycle().take(4_000).enumerate() {
        let at = data + 4 * (i * 7);
        float[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
    let mut decoder = open(&fixtures.bytes("poisoned.wav", &float)).expect("opens");
    let (floats, pcm16) = all_samples(&mut decoder);
    assert!(
        floats.iter().all(|s| s.is_finite()),
        "every sample is a number"
    );
    // NaN is silence, an infinity full scale, in both views.
    assert_eq!(
        &floats[..22].iter().step_by(7).copied().collect::<Vec<_>>(),
        &[0.0, 1.0, -1.0, 0.0]
    );
    assert_eq!(
        &pcm16[..22].iter().step_by(7).copied().collect::<Vec<_>>(),
        &[0, i16::MAX, i16::MIN, 0]
    );
}

#[test]
fn a_channel_mask_that_overflows_symphonias_parser_is_corrupt_audio() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let surround = fixtures.ffmpeg(
        &wav,
        "surround.wav",
        &[
            "-c:a",
            "pcm_f32le",
            "-af",
            "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1",
        ],
    );
    let mut bytes = fs::read(&surround).expect("reads");
    let fmt = bytes
        .windows(4)
        .position(|tag| tag == b"fmt ")
        .expect("a fmt chunk")
        + 8;
    assert_eq!(
        u16::from_le_bytes([bytes[fmt], bytes[fmt + 1]]),
        0xfffe,
        "extensible"
    );
    // One speaker bit, the top one, for six channels: symphonia widens the mask by
    // shifting past 32 bits.
    bytes[fmt + 20..fmt + 24].copy_from_slice(&0x8000_0000_u32.to_le_bytes());
    // With overflow checks (test builds) the shift panics inside symphonia and the file is
    // refused; without them it wraps and the audio decodes. Either way, no panic escapes.
    let decoded = open(&fixtures.bytes("mask.wav", &bytes)).and_then(|mut d| drain(&mut d));
    assert!(cfg!(not(debug_assertions)) || decoded.is_err());
    if let Err(error) = decoded {
        assert_eq!(error.code(), ErrorCode::CorruptAudio, "{error}");
    }
}

#[test]
fn headers_of_65535_channels_overflowing_symphonias_frame_sizes_are_refused() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, SECONDS);
    let mut aiff = fs::read(fixtures.ffmpeg(&wav, "music.aiff", &[])).expect("reads");
    let comm = aiff
        .windows(4)
        .position(|tag| tag == b"COMM")
        .expect("a COMM chunk")
        + 8;
    aiff[comm..comm + 2].copy_from_slice(&u16::MAX.to_be_bytes());
    let mut pcm = fs::read(&wav).expect("reads");
    pcm[22..24].copy_from_slice(&u16::MAX.to_le_bytes());
    // Bytes per sample times 65,535 channels overflows the u16 symphonia computes a frame's
    // size (AIFF) and a block's alignment (WAV) in.
    for (name, bytes) in [("wide.aiff", aiff), ("wide.wav", pcm)] {
        let error = decode_error(&fixtures.bytes(name, &bytes));
        assert!(
            matches!(
                error.code(),
                ErrorCode::CorruptAudio | ErrorCode::UnsupportedFormat
            ),
            "{name}: {error}"
        );
    }
}

#[test]
fn a_wav_whose_data_chunk_outgrows_its_riff_chunk_is_corrupt_audio() {
    let fixtures = Fixtures::new();
    let mut wav = fs::read(fixtures.music("music.wav", RATE, SECONDS)).expect("reads");
    let data = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]);
    wav[40..44].copy_from_slice(&(data * 2).to_le_bytes());
    let error = decode_error(&fixtures.bytes("lying.wav", &wav));
    assert!(matches!(error, DecodeError::Corrupt(_)), "{error}");
}

#[test]
fn a_wav_whose_header_claims_no_channels_is_refused() {
    let fixtures = Fixtures::new();
    let mut wav = fs::read(fixtures.music("music.wav", RATE, SECONDS)).expect("reads");
    wav[22..24].copy_from_slice(&0_u16.to_le_bytes());
    let error = decode_error(&fixtures.bytes("no-channels.wav", &wav));
    assert_eq!(error.code(), ErrorCode::CorruptAudio, "{error}");
}

fn limits(seconds: u64, rate: u32, channels: u16) -> DecodeLimits {
    DecodeLimits {
        max_duration: Duration::from_secs(seconds),
        max_sample_rate: SampleRate::new(rate).expect("rate"),
        max_channels: ChannelCount::new(channels).expect("channels"),
    }
}

#[test]
fn a_declared_duration_beyond_the_limit_is_too_long_before_decoding() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, 3.0);
    let error = Decoder::open_path(&wav, limits(2, 48_000, 2))
        .err()
        .expect("too long");
    assert_eq!(error.code(), ErrorCode::TooLong, "{error}");
}

#[test]
fn audio_without_a_declared_duration_is_cut_off_once_it_passes_the_limit() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", RATE, 3.0);
    // Written to a pipe, the WAV carries no sizes; symphonia then declares no length.
    let output = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(&wav)
        .args(["-f", "wav", "-"])
        .output()
        .expect("ffmpeg runs");
    let streamed = fixtures.bytes("streamed.wav", &output.stdout);
    let mut decoder = Decoder::open_path(&streamed, limits(2, 48_000, 2)).expect("opens");
    assert_eq!(decoder.probe().duration, None);
    let error = drain(&mut decoder).expect_err("too long");
    assert_eq!(error.code(), ErrorCode::TooLong, "{error}");
    assert!(decoder.frames_decoded() <= u64::from(RATE) * 2 + 65_535);
    assert!(decoder.next_block().expect("ended").is_none());
}

#[test]
fn a_sample_rate_or_channel_count_above_the_limits_is_unsupported() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", 96_000, 0.5);
    let error = Decoder::open_path(&wav, limits(10, 48_000, 2))
        .err()
        .expect("rate");
    assert!(
        matches!(
            error,
            DecodeError::SampleRateAboveLimit { found: 96_000, .. }
        ),
        "{error}"
    );
    let error = Decoder::open_path(&wav, limits(10, 96_000, 1))
        .err()
        .expect("channels");
    assert!(
        matches!(error, DecodeError::TooManyChannels { found: 2, .. }),
        "{error}"
    );
    assert_eq!(error.code(), ErrorCode::UnsupportedFormat);
}
