//! Mixdown's peaks against audiowaveform 1.10.3's own output, byte for byte.

use std::fs;
use std::num::NonZeroU32;
use std::path::PathBuf;

use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::waveform::{
    AmplitudeScale, Bits, ChannelMode, Gain, Peaks, SamplesPerPixel, WaveformOptions, Zoom,
    decode_dat, encode_dat, encode_json, peaks_from_decoder,
};

const INPUTS: [&str; 3] = ["mono_22k", "stereo_44k", "stereo_48k_24bit"];

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/waveform")
}

fn zoom(frames: i64) -> Zoom {
    Zoom::SamplesPerPixel(SamplesPerPixel::new(frames).expect("valid zoom"))
}

/// The option sets, named as in the reference file names.
fn option_sets() -> Vec<(&'static str, WaveformOptions)> {
    let base = WaveformOptions::default();
    let per_second = NonZeroU32::new(100).expect("non-zero");
    vec![
        (
            "b8z256",
            WaveformOptions {
                bits: Bits::Eight,
                zoom: zoom(256),
                ..base
            },
        ),
        (
            "b16z512",
            WaveformOptions {
                bits: Bits::Sixteen,
                zoom: zoom(512),
                ..base
            },
        ),
        (
            "b8pixelspersecond100",
            WaveformOptions {
                bits: Bits::Eight,
                zoom: Zoom::PixelsPerSecond(per_second),
                ..base
            },
        ),
        (
            "b16z64splitchannels",
            WaveformOptions {
                bits: Bits::Sixteen,
                zoom: zoom(64),
                channel_mode: ChannelMode::Split,
                ..base
            },
        ),
        (
            "b8z128amplitudescale1_5",
            WaveformOptions {
                bits: Bits::Eight,
                zoom: zoom(128),
                amplitude_scale: AmplitudeScale::Fixed(Gain::new(1.5).expect("valid gain")),
                ..base
            },
        ),
    ]
}

fn peaks_of(input: &str, options: &WaveformOptions) -> Peaks {
    let path = reference_dir().join(format!("{input}.wav"));
    let mut decoder = Decoder::open_path(&path, DecodeLimits::permissive())
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    peaks_from_decoder(&mut decoder, options).expect("WAV decodes into peaks")
}

fn reference(input: &str, set: &str, extension: &str) -> Vec<u8> {
    let path = reference_dir().join(format!("{input}__{set}.{extension}"));
    fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn first_difference(ours: &[u8], theirs: &[u8]) -> Option<usize> {
    let common = ours.iter().zip(theirs).position(|(a, b)| a != b);
    common.or_else(|| (ours.len() != theirs.len()).then(|| ours.len().min(theirs.len())))
}

fn assert_same(name: &str, ours: &[u8], theirs: &[u8]) {
    if let Some(at) = first_difference(ours, theirs) {
        let window = |bytes: &[u8]| {
            bytes
                .get(at.saturating_sub(8)..(at + 8).min(bytes.len()))
                .map(<[u8]>::to_vec)
        };
        panic!(
            "{name}: first difference at byte {at} (ours {} bytes, audiowaveform {} bytes): ours {:?}, theirs {:?}",
            ours.len(),
            theirs.len(),
            window(ours),
            window(theirs),
        );
    }
}

#[test]
fn every_dat_file_matches_audiowaveform_byte_for_byte() {
    for input in INPUTS {
        for (set, options) in option_sets() {
            let ours = encode_dat(&peaks_of(input, &options), options.bits).expect("encodes");
            assert_same(
                &format!("{input}__{set}.dat"),
                &ours,
                &reference(input, set, "dat"),
            );
        }
    }
}

#[test]
fn every_json_file_matches_audiowaveform_byte_for_byte() {
    for input in INPUTS {
        for (set, options) in option_sets() {
            let ours = encode_json(&peaks_of(input, &options), options.bits);
            assert_same(
                &format!("{input}__{set}.json"),
                ours.as_bytes(),
                &reference(input, set, "json"),
            );
        }
    }
}

#[test]
fn every_reference_dat_file_decodes_and_encodes_back_to_the_same_bytes() {
    for input in INPUTS {
        for (set, _) in option_sets() {
            let bytes = reference(input, set, "dat");
            let decoded = decode_dat(bytes.as_slice()).expect("decodes");
            let again = encode_dat(&decoded.peaks, decoded.bits).expect("encodes");
            assert_same(&format!("{input}__{set}.dat round trip"), &again, &bytes);
        }
    }
}

#[test]
fn the_streamed_generator_gives_the_same_peaks_whatever_the_chunk_size() {
    use mixdown_media::waveform::PeaksBuilder;

    let options = WaveformOptions {
        zoom: zoom(100),
        channel_mode: ChannelMode::Split,
        ..Default::default()
    };
    let whole = peaks_of("stereo_44k", &options);
    let path = reference_dir().join("stereo_44k.wav");
    let mut samples = Vec::new();
    let mut decoder = Decoder::open_path(&path, DecodeLimits::permissive()).expect("opens");
    while let Some(block) = decoder.next_block().expect("decodes") {
        samples.extend_from_slice(block.pcm16());
    }
    for chunk in [1, 3, 1000] {
        let mut builder = PeaksBuilder::new(decoder.format(), &options).expect("zoom");
        samples.chunks(chunk).for_each(|part| builder.push(part));
        assert_eq!(builder.finish(), whole, "chunk size {chunk}");
    }
}
