//! What ingest and the transcode pass read besides PCM: tags and cover art,
//! and the waveform levels a track keeps.

mod common;

use common::Fixtures;
use mixdown_media::{
    decode::{DecodeLimits, Decoder},
    tags::{MAX_TAG_CHARS, read_tags},
    waveform::{
        Bits, DEFAULT_SUMMARY_POINTS, SamplesPerPixel, WaveformOptions, Zoom, encode_dat,
        encode_json,
        levels::{LevelsWriter, PEAKS_JS_ZOOMS},
        peaks_from_decoder,
    },
};

#[test]
fn tags_and_the_front_cover_are_read_and_bounded() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", 44_100, 1.0);
    let cover = fixtures.path("cover.png");
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=blue:s=16x16:d=1", "-frames:v", "1"])
        .arg(&cover)
        .status()
        .unwrap();
    assert!(made.success());
    let long_comment = "x".repeat(5000);
    let long_title = "é".repeat(MAX_TAG_CHARS + 10);
    let mp3 = fixtures.path("tagged.mp3");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .arg("-i")
        .arg(&cover)
        .args([
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "png",
        ])
        .args(["-id3v2_version", "3", "-disposition:v", "attached_pic"])
        .args(["-metadata", &format!("title={long_title}")])
        .args([
            "-metadata",
            "artist=Someone",
            "-metadata",
            "album=Somewhere",
        ])
        .args(["-metadata", &format!("comment={long_comment}")])
        .arg(&mp3)
        .status()
        .unwrap();
    assert!(status.success());
    let tags = read_tags(&mp3);
    assert_eq!(tags.text["artist"], "Someone");
    assert_eq!(tags.text["album"], "Somewhere");
    assert_eq!(tags.text["title"].chars().count(), MAX_TAG_CHARS);
    assert!(
        !tags.text.contains_key("comment"),
        "only known tags are kept"
    );
    let cover = tags.cover.expect("the cover is read");
    assert_eq!(cover.mime.as_deref(), Some("image/png"));
    assert!(cover.data.starts_with(b"\x89PNG"));

    // Untagged audio and text have no tags, and that is no error.
    assert_eq!(read_tags(&wav).text.len(), 0);
    let text = fixtures.bytes("notes.mp3", b"just words");
    assert!(read_tags(&text).text.is_empty() && read_tags(&text).cover.is_none());
}

#[test]
fn every_level_matches_the_whole_file_generator_byte_for_byte() {
    let fixtures = Fixtures::new();
    let wav = fixtures.music("music.wav", 44_100, 7.3);
    let out = tempfile::tempdir().unwrap();
    let mut decoder = Decoder::open_path(&wav, DecodeLimits::permissive()).unwrap();
    let mut writer =
        LevelsWriter::create(out.path(), decoder.format(), DEFAULT_SUMMARY_POINTS).unwrap();
    while let Some(block) = decoder.next_block().unwrap() {
        writer.push(block.pcm16()).unwrap();
    }
    let levels = writer.finish().unwrap();
    assert_eq!(levels.summary.points().len(), DEFAULT_SUMMARY_POINTS.get());
    let zooms: Vec<u32> = levels.dat.iter().map(|l| l.zoom).collect();
    assert_eq!(zooms, PEAKS_JS_ZOOMS);
    for level in &levels.dat {
        let options = WaveformOptions {
            zoom: Zoom::SamplesPerPixel(SamplesPerPixel::new(i64::from(level.zoom)).unwrap()),
            bits: Bits::Eight,
            ..WaveformOptions::default()
        };
        let mut decoder = Decoder::open_path(&wav, DecodeLimits::permissive()).unwrap();
        let peaks = peaks_from_decoder(&mut decoder, &options).unwrap();
        let written = std::fs::read(&level.path).unwrap();
        assert_eq!(
            written,
            encode_dat(&peaks, Bits::Eight).unwrap(),
            "zoom {}",
            level.zoom
        );
        if level.zoom == levels.json.zoom {
            let json = std::fs::read_to_string(&levels.json.path).unwrap();
            assert_eq!(json, encode_json(&peaks, Bits::Eight));
        }
    }
}
