//! One-pass transcoding with the real encoders, checked by FFmpeg's own tools.

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::time::Instant;

use common::Fixtures;
use mixdown_media::decode::{DecodeLimits, Decoder, PcmBlock};
use mixdown_media::loudness::LoudnessMeter;
use mixdown_media::transcode::{
    BlockSink, Flow, OutputCodec, Preset, PresetSpec, Rendition, SinkError, TranscodeError,
    default_presets, transcode,
};
use support::{decode_f32, decoded_seconds, files_under, likeness, music, packet_bit_rate, probe};

/// Durations may differ from the source by this much, in seconds.
const DURATION_TOLERANCE: f64 = 0.05;

/// How far the AAC encoder's average rate may stray from its target (measured: +1.6% on
/// the test signal).
const AAC_RATE_TOLERANCE: f64 = 0.05;

/// How far libopus's VBR average may stray from its target (measured: −6.4%).
const OPUS_RATE_TOLERANCE: f64 = 0.12;

/// Frames an encoder may shift the decoded audio by (AAC's 1024-frame priming stays in
/// MPEG-TS, where nothing signals it).
const MAX_LAG: i64 = 2048;

fn open(path: &Path) -> Decoder {
    Decoder::open_path(path, DecodeLimits::permissive()).expect("decodable")
}

fn run(input: &Path, presets: &[Preset], out: &Path) -> Result<Vec<Rendition>, TranscodeError> {
    transcode(&mut open(input), presets, out, &mut [], &mut |_| {
        Flow::Continue
    })
}

fn preset(spec: &str) -> Preset {
    let mut fields = spec.split(' ');
    let mut next = || fields.next().expect("a field").to_owned();
    let (name, codec, container, bit_rate) = (next(), next(), next(), next());
    let json = format!(
        r#"{{"name":"{name}","codec":"{codec}","container":"{container}","bit_rate":{bit_rate}}}"#
    );
    let spec: PresetSpec = serde_json::from_str(&json).expect("a spec");
    Preset::try_from(spec).expect("a valid preset")
}

/// Counts what it is fed.
#[derive(Default)]
struct Counter {
    frames: u64,
    finished: u32,
    fail_after_blocks: Option<u32>,
}

impl BlockSink for Counter {
    fn push(&mut self, block: &PcmBlock) -> Result<(), SinkError> {
        self.frames += block.frames() as u64;
        match &mut self.fail_after_blocks {
            Some(0) => Err(SinkError::new("the sink is full")),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.finished += 1;
        Ok(())
    }
}

#[test]
fn every_default_rendition_is_what_its_preset_says_and_sounds_like_the_source() {
    let fixtures = Fixtures::new();
    let input = fixtures.path("music.wav");
    music(&input, 44_100, 2, 35.0);
    let out = fixtures.path("out");
    let mut decoder = open(&input);
    let mut meter = LoudnessMeter::new(decoder.format()).expect("measurable");
    let mut counter = Counter::default();
    let mut reports = Vec::new();
    let renditions = transcode(
        &mut decoder,
        &default_presets(),
        &out,
        &mut [&mut meter, &mut counter],
        &mut |fraction| {
            reports.push((Instant::now(), fraction));
            Flow::Continue
        },
    )
    .expect("transcoded");

    assert_eq!((counter.frames, counter.finished), (35 * 44_100, 1));
    assert!(meter.loudness().integrated_lufs.is_some());
    check_progress(&reports);
    let names: Vec<&str> = renditions.iter().map(|r| r.preset.as_str()).collect();
    assert_eq!(names, ["mp3_128", "aac_hls_160", "opus_64", "preview_mp3"]);
    for rendition in &renditions {
        check_files(rendition, &out);
    }
    check_mp3(&renditions[0], &out, 35.0);
    check_hls(&renditions[1], &out, 35.0);
    check_opus(&renditions[2], &out, 35.0);
    check_mp3(&renditions[3], &out, 30.0);
    for rendition in &renditions {
        check_sound(rendition, &out, &input);
    }
}

fn check_progress(reports: &[(Instant, f64)]) {
    assert!(reports.len() >= 2, "{reports:?}");
    for pair in reports.windows(2) {
        let spacing = pair[1].0 - pair[0].0;
        assert!(spacing.as_millis() >= 240, "reports {spacing:?} apart");
        assert!(pair[0].1 <= pair[1].1, "progress went back");
    }
    assert!(
        reports
            .iter()
            .all(|&(_, fraction)| (0.0..=1.0).contains(&fraction))
    );
}

fn check_files(rendition: &Rendition, out: &Path) {
    let listed: Vec<&str> = rendition.files.iter().map(|f| f.path.as_str()).collect();
    assert!(listed.contains(&rendition.main.as_str()), "{listed:?}");
    for file in &rendition.files {
        let bytes = fs::metadata(out.join(&file.path)).expect("written").len();
        assert_eq!(bytes, file.bytes, "{}", file.path);
    }
}

fn check_mp3(rendition: &Rendition, out: &Path, seconds: f64) {
    let found = probe(&out.join(&rendition.main));
    assert_eq!(rendition.mime, "audio/mpeg");
    assert_eq!(found.codec, "mp3");
    assert_eq!((found.sample_rate, found.channels), (44_100, 2));
    assert_eq!(found.bit_rate, Some(128_000), "CBR at exactly 128k");
    // The container's duration counts whole 1152-frame MP3 frames, LAME's delay included;
    // the decoded length honours the gapless info in the LAME tag.
    assert_close(found.duration, seconds, &rendition.preset);
    let path = out.join(&rendition.main);
    assert_close(decoded_seconds(&path, 44_100), seconds, &rendition.preset);
    assert_close(rendition.duration.as_secs_f64(), seconds, &rendition.preset);
}

fn check_opus(rendition: &Rendition, out: &Path, seconds: f64) {
    let path = out.join(&rendition.main);
    let found = probe(&path);
    assert_eq!(rendition.mime, "audio/ogg");
    assert_eq!(found.codec, "opus");
    assert_eq!((found.sample_rate, found.channels), (48_000, 2));
    assert_close(found.duration, seconds, &rendition.preset);
    assert_close(decoded_seconds(&path, 48_000), seconds, &rendition.preset);
    // libopus runs in VBR, as the ffmpeg CLI does by default.
    let bit_rate = packet_bit_rate(&path);
    let off = bit_rate / 64_000.0 - 1.0;
    assert!(off.abs() < OPUS_RATE_TOLERANCE, "opus at {bit_rate} bit/s");
}

fn check_hls(rendition: &Rendition, out: &Path, seconds: f64) {
    let playlist_path = out.join(&rendition.main);
    let playlist = fs::read_to_string(&playlist_path).expect("a playlist");
    assert_eq!(rendition.mime, "application/vnd.apple.mpegurl");
    assert!(playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{playlist}");
    assert!(
        playlist.trim_end().ends_with("#EXT-X-ENDLIST"),
        "{playlist}"
    );
    let segments: Vec<f64> = playlist
        .lines()
        .filter_map(|line| line.strip_prefix("#EXTINF:"))
        .map(|rest| rest.trim_end_matches(',').parse().expect("a duration"))
        .collect();
    assert_eq!(segments.len(), 4, "{playlist}");
    for &segment in &segments {
        assert!(
            segment <= 10.0 + DURATION_TOLERANCE,
            "a segment of {segment} s"
        );
    }
    assert_close(segments.iter().sum(), seconds, &rendition.preset);
    // Every segment the playlist names is a file the rendition lists.
    let dir = Path::new(&rendition.main).parent().expect("in a directory");
    for name in playlist.lines().filter(|line| line.ends_with(".ts")) {
        let listed = dir.join(name).to_string_lossy().into_owned();
        assert!(rendition.files.iter().any(|f| f.path == listed), "{listed}");
    }
    let found = probe(&playlist_path);
    assert_eq!(
        (found.codec.as_str(), found.profile.as_str()),
        ("aac", "LC")
    );
    assert_eq!((found.sample_rate, found.channels), (44_100, 2));
    let bit_rate = packet_bit_rate(&playlist_path);
    let off = bit_rate / 160_000.0 - 1.0;
    assert!(off.abs() < AAC_RATE_TOLERANCE, "aac at {bit_rate} bit/s");
    // MPEG-TS does not signal AAC's 1024 frames of priming, so they play too.
    assert_close(
        decoded_seconds(&playlist_path, 44_100),
        seconds,
        &rendition.preset,
    );
}

fn assert_close(found: f64, expected: f64, what: &str) {
    assert!(
        (found - expected).abs() <= DURATION_TOLERANCE,
        "{what}: {found} s instead of {expected} s"
    );
}

fn check_sound(rendition: &Rendition, out: &Path, input: &Path) {
    let (rate, channels) = (rendition.sample_rate, rendition.channels);
    let reference = decode_f32(input, rate, channels);
    let encoded = decode_f32(&out.join(&rendition.main), rate, channels);
    let found = likeness(&reference, &encoded, usize::from(channels), MAX_LAG);
    let (lag, min_snr_db) = expected_likeness(rendition.codec);
    assert_eq!(found.lag, lag, "{}: {found:?}", rendition.preset);
    assert!(found.snr_db > min_snr_db, "{}: {found:?}", rendition.preset);
}

/// The lag a codec's decoded output shows, and the least signal-to-noise ratio in dB it
/// must reach. Measured on the test signal: MP3 128k 19.9 dB, AAC 160k 21.5 dB, Opus 64k
/// 14.8 dB (a codec that shaped the wrong audio, or a misalignment, gives about 0 dB).
/// LAME's delay and Opus's pre-skip are signalled and trimmed; AAC's priming in MPEG-TS
/// is not.
fn expected_likeness(codec: OutputCodec) -> (i64, f64) {
    match codec {
        OutputCodec::Mp3 => (0, 17.0),
        OutputCodec::Aac => (1024, 18.5),
        OutputCodec::Opus => (0, 12.0),
    }
}

/// The (sample rate, channels) ffprobe finds in each rendition of `input`.
fn output_formats(fixtures: &Fixtures, input: &Path, presets: &[Preset]) -> Vec<(u32, u16)> {
    let out = fixtures.path("out");
    run(input, presets, &out)
        .expect("transcoded")
        .iter()
        .map(|rendition| probe(&out.join(&rendition.main)))
        .map(|found| (found.sample_rate, found.channels))
        .collect()
}

#[test]
fn a_mono_source_at_a_rate_the_codecs_lack_gets_the_nearest_rate_and_stays_mono() {
    let fixtures = Fixtures::new();
    let input = fixtures.path("mono.wav");
    music(&input, 22_050, 1, 3.0);
    let presets = [
        preset("mp3 mp3 mp3 96000"),
        preset("aac aac hls 64000"),
        preset("opus opus ogg 32000"),
    ];
    let formats = output_formats(&fixtures, &input, &presets);
    assert_eq!(formats, [(32_000, 1), (44_100, 1), (48_000, 1)]);
}

#[test]
fn a_surround_source_is_mixed_down_to_stereo() {
    let fixtures = Fixtures::new();
    let input = fixtures.synth("surround.wav", 6, 2.0, &["sine", "440"]);
    let presets = [preset("mp3 mp3 mp3 128000"), preset("opus opus ogg 64000")];
    let formats = output_formats(&fixtures, &input, &presets);
    assert_eq!(formats, [(32_000, 2), (48_000, 2)]);
}

#[test]
fn a_truncated_input_fails_as_corrupt_and_leaves_no_output() {
    let fixtures = Fixtures::new();
    let whole = fixtures.path("whole.wav");
    music(&whole, 44_100, 2, 4.0);
    let bytes = fs::read(&whole).expect("read");
    let cut = fixtures.bytes("cut.wav", &bytes[..bytes.len() / 2]);
    let out = fixtures.path("out");
    let error = run(&cut, &default_presets(), &out).expect_err("truncated");
    assert_eq!(error.code(), "corrupt_audio", "{error}");
    assert!(files_under(&out).is_empty(), "{:?}", files_under(&out));
}

#[test]
fn stopping_from_the_progress_callback_ends_the_run_and_leaves_no_output() {
    let fixtures = Fixtures::new();
    let input = fixtures.path("music.wav");
    music(&input, 44_100, 2, 20.0);
    let out = fixtures.path("out");
    let mut calls = 0;
    let error = transcode(
        &mut open(&input),
        &default_presets(),
        &out,
        &mut [],
        &mut |_| {
            calls += 1;
            if calls == 2 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        },
    )
    .expect_err("stopped");
    assert_eq!(error.code(), "stopped");
    assert!(files_under(&out).is_empty(), "{:?}", files_under(&out));
}

#[test]
fn a_failing_sink_fails_the_run() {
    let fixtures = Fixtures::new();
    let input = fixtures.path("music.wav");
    music(&input, 44_100, 2, 2.0);
    let out = fixtures.path("out");
    let mut counter = Counter {
        fail_after_blocks: Some(3),
        ..Counter::default()
    };
    let error = transcode(
        &mut open(&input),
        &default_presets(),
        &out,
        &mut [&mut counter],
        &mut |_| Flow::Continue,
    )
    .expect_err("the sink failed");
    assert_eq!(error.code(), "sink_failed");
    assert_eq!(counter.finished, 0);
    assert!(files_under(&out).is_empty());
}

#[test]
fn a_clip_that_starts_after_the_audio_fails_and_a_repeated_name_is_refused() {
    let fixtures = Fixtures::new();
    let input = fixtures.path("short.wav");
    music(&input, 44_100, 2, 1.0);
    let out = fixtures.path("out");
    let mut late = preset("late mp3 mp3 128000").spec();
    late.start_ms = Some(5_000);
    let late = Preset::try_from(late).expect("valid");
    let error = run(&input, &[late], &out).expect_err("empty clip");
    assert_eq!(error.code(), "clip_outside_audio");
    let twice = [preset("x mp3 mp3 128000"), preset("x opus ogg 64000")];
    let error = run(&input, &twice, &out).expect_err("same name");
    assert_eq!(error.code(), "duplicate_preset");
}
