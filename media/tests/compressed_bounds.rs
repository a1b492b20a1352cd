//! How far peaks of compressed audio from our decoder stray from peaks of the WAV that
//! `ffmpeg -i x.ext x.wav` makes of the same file. The bounds found are written down in
//! the docs of `mixdown_media::waveform`.

mod common;

use std::path::Path;

use common::Fixtures;
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::waveform::{Peaks, WaveformOptions, peaks_from_decoder};

/// Largest difference allowed per 16-bit peak value for lossy codecs.
const LOSSY_BOUND: u32 = 4;

fn peaks(path: &Path) -> Peaks {
    let mut decoder = Decoder::open_path(path, DecodeLimits::permissive()).expect("opens");
    peaks_from_decoder(&mut decoder, &WaveformOptions::default()).expect("peaks")
}

/// Largest difference of any min or max, and the difference in pixel count.
fn distance(ours: &Peaks, theirs: &Peaks) -> (u32, usize) {
    let largest = ours
        .pairs()
        .iter()
        .zip(theirs.pairs())
        .flat_map(|(a, b)| [a.min.abs_diff(b.min), a.max.abs_diff(b.max)])
        .map(u32::from)
        .max()
        .unwrap_or(0);
    (largest, ours.len().abs_diff(theirs.len()))
}

/// Encodes the fixture with `codec_args`, then compares our peaks of it with the peaks of
/// FFmpeg's own 16-bit WAV decode of it.
fn bound(fixtures: &Fixtures, source: &Path, extension: &str, codec_args: &[&str]) -> (u32, usize) {
    let encoded = fixtures.ffmpeg(source, &format!("music.{extension}"), codec_args);
    let reference = fixtures.ffmpeg(&encoded, &format!("{extension}.wav"), &[]);
    let measured = distance(&peaks(&encoded), &peaks(&reference));
    eprintln!(
        "{extension}: max difference {} per value, {} pixels apart",
        measured.0, measured.1
    );
    measured
}

#[test]
fn flac_peaks_equal_the_peaks_of_ffmpegs_wav_exactly() {
    let fixtures = Fixtures::new();
    let source = fixtures.music("music.wav", 44_100, 4.0);
    assert_eq!(bound(&fixtures, &source, "flac", &[]), (0, 0));
}

#[test]
fn lossy_peaks_stay_within_the_documented_bounds_of_ffmpegs_wav() {
    let fixtures = Fixtures::new();
    let source = fixtures.music("music.wav", 44_100, 4.0);
    let mp3 = bound(
        &fixtures,
        &source,
        "mp3",
        &["-c:a", "libmp3lame", "-b:a", "128k"],
    );
    let aac = bound(&fixtures, &source, "m4a", &["-c:a", "aac", "-b:a", "128k"]);
    let opus = bound(
        &fixtures,
        &source,
        "opus",
        &["-c:a", "libopus", "-b:a", "64k"],
    );
    // Measured: 2 for each (FFmpeg's WAV rounds `x * 32768` to nearest, our view truncates
    // `x * 32767` as audiowaveform does for floats, and the MP3 decoders differ in the last
    // bit); the bound leaves room for other encoder builds.
    for (codec, measured) in [("mp3", mp3), ("aac", aac), ("opus", opus)] {
        assert_eq!(measured.1, 0, "{codec}: peak counts differ");
        assert!(measured.0 <= LOSSY_BOUND, "{codec}: {} apart", measured.0);
    }
}
