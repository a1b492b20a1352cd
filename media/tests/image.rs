//! Waveform images of real audio, decoded back and checked pixel by pixel.

mod common;

use std::num::NonZeroU32;
use std::path::Path;

use common::Fixtures;
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::image::{
    BarShape, Bars, Columns, ImageStyle, Rgba, WaveformStyle, render_png, render_svg,
};
use mixdown_media::waveform::{ChannelMode, Peaks, WaveformOptions, peaks_from_decoder};

const WIDTH: u32 = 50;
const HEIGHT: u32 = 40;
const WAVE: Rgba = Rgba::opaque(0x3A, 0x66, 0xC6);
const BACKGROUND: Rgba = Rgba::opaque(0xFF, 0xFF, 0xFF);

fn non_zero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("non-zero")
}

fn peaks(path: &Path, channel_mode: ChannelMode) -> Peaks {
    let mut decoder = Decoder::open_path(path, DecodeLimits::permissive()).expect("opens");
    let options = WaveformOptions {
        channel_mode,
        ..WaveformOptions::default()
    };
    peaks_from_decoder(&mut decoder, &options).expect("peaks")
}

fn style(waveform_style: WaveformStyle) -> ImageStyle {
    ImageStyle {
        height: non_zero(HEIGHT),
        background: BACKGROUND,
        waveform: WAVE,
        style: waveform_style,
        axis_labels: false,
        ..ImageStyle::default()
    }
}

/// The PNG decoded back into rows of colours.
fn pixels(png: &[u8]) -> Vec<Vec<Rgba>> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buffer = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buffer).expect("PNG data");
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    buffer[..info.buffer_size()]
        .chunks_exact(4)
        .map(|p| Rgba {
            r: p[0],
            g: p[1],
            b: p[2],
            a: p[3],
        })
        .collect::<Vec<_>>()
        .chunks(WIDTH as usize)
        .map(<[Rgba]>::to_vec)
        .collect()
}

fn png_of(path: &Path, mode: ChannelMode, waveform_style: WaveformStyle) -> Vec<Vec<Rgba>> {
    let columns = Columns::fit(&peaks(path, mode), non_zero(WIDTH));
    pixels(&render_png(&columns, &style(waveform_style)).expect("renders"))
}

#[test]
fn a_full_scale_square_wave_fills_the_whole_height() {
    let fixtures = Fixtures::new();
    let square = fixtures.synth("square.wav", 1, 1.0, &["square", "100", "gain", "-n"]);
    let rows = png_of(&square, ChannelMode::Mixed, WaveformStyle::Normal);
    assert!(rows.iter().flatten().all(|&pixel| pixel == WAVE));
}

#[test]
fn silence_draws_only_the_centre_line() {
    let fixtures = Fixtures::new();
    let silence = fixtures.synth("silence.wav", 1, 1.0, &["sine", "100", "vol", "0"]);
    let rows = png_of(&silence, ChannelMode::Mixed, WaveformStyle::Normal);
    for (y, row) in rows.iter().enumerate() {
        let expected = if y == HEIGHT as usize / 2 {
            WAVE
        } else {
            BACKGROUND
        };
        assert!(row.iter().all(|&pixel| pixel == expected), "row {y}");
    }
}

#[test]
fn split_channels_get_a_band_each() {
    let fixtures = Fixtures::new();
    // Left channel a full-scale square wave, right channel silent.
    let stereo = fixtures.synth(
        "split.wav",
        2,
        1.0,
        &[
            "square", "100", "sine", "100", "gain", "-n", "remix", "1", "2v0",
        ],
    );
    let rows = png_of(&stereo, ChannelMode::Split, WaveformStyle::Normal);
    let band = HEIGHT as usize / 2;
    assert!(rows[..band].iter().flatten().all(|&pixel| pixel == WAVE));
    assert!(rows[band + band / 2].iter().all(|&pixel| pixel == WAVE));
    assert!(rows[band + 1].iter().all(|&pixel| pixel == BACKGROUND));
}

#[test]
fn bars_leave_gaps_and_rounded_bars_clip_their_corners() {
    let fixtures = Fixtures::new();
    let square = fixtures.synth("square.wav", 1, 1.0, &["square", "100", "gain", "-n"]);
    let bars = |shape| {
        WaveformStyle::Bars(Bars {
            width: non_zero(4),
            gap: 2,
            shape,
        })
    };
    let square_bars = png_of(&square, ChannelMode::Mixed, bars(BarShape::Square));
    let middle = &square_bars[HEIGHT as usize / 2];
    assert_eq!(
        &middle[..6],
        &[WAVE, WAVE, WAVE, WAVE, BACKGROUND, BACKGROUND]
    );
    assert_eq!(square_bars[0][0], WAVE);
    let rounded = png_of(&square, ChannelMode::Mixed, bars(BarShape::Rounded));
    assert_eq!(rounded[0][0], BACKGROUND);
    assert_eq!(rounded[0][1], WAVE);
    assert_eq!(rounded[HEIGHT as usize / 2][0], WAVE);
}

#[test]
fn an_svg_draws_every_column_and_labels_its_time_ticks() {
    let fixtures = Fixtures::new();
    let sine = fixtures.synth("sine.wav", 1, 30.0, &["sine", "100"]);
    let columns = Columns::fit(&peaks(&sine, ChannelMode::Mixed), non_zero(800));
    let labelled = ImageStyle {
        axis_labels: true,
        ..style(WaveformStyle::Normal)
    };
    let svg = render_svg(&columns, &labelled);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"40\"")
    );
    assert_eq!(svg.matches("<rect x=").count(), 800);
    for label in [">0:00<", ">0:05<", ">0:25<"] {
        assert!(svg.contains(label), "{label} missing");
    }
    assert!(svg.trim_end().ends_with("</svg>"));
}
