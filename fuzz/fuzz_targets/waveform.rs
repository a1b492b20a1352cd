//! Any bytes through the waveform job's path: peaks-only decode, peaks, `.dat`, JSON and
//! images, with options taken from the input's first byte.
#![no_main]

use std::{io::Cursor, num::NonZeroU32};

use libfuzzer_sys::fuzz_target;
use mixdown_media::{
    decode::Decoder,
    image::{BarShape, Bars, Columns, ImageStyle, WaveformStyle, render_png, render_svg},
    waveform::{
        AmplitudeScale, Bits, ChannelMode, SamplesPerPixel, WaveformOptions, Zoom, decode_dat,
        encode_dat, encode_json, peaks_from_decoder,
    },
};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::let_contained_panics_unwind();
    let Some((&knobs, audio)) = data.split_first() else {
        return;
    };
    let options = WaveformOptions {
        zoom: Zoom::SamplesPerPixel(
            SamplesPerPixel::new(2 << (knobs & 0x0f)).expect("at least two frames"),
        ),
        bits: if knobs & 0x10 == 0 {
            Bits::Sixteen
        } else {
            Bits::Eight
        },
        amplitude_scale: if knobs & 0x20 == 0 {
            AmplitudeScale::default()
        } else {
            AmplitudeScale::Auto
        },
        channel_mode: if knobs & 0x40 == 0 {
            ChannelMode::Mixed
        } else {
            ChannelMode::Split
        },
    };
    let Ok(decoder) = Decoder::open_reader(Cursor::new(audio.to_vec()), common::upload_limits())
    else {
        return;
    };
    let mut decoder = decoder.peaks_only();
    let Ok(peaks) = peaks_from_decoder(&mut decoder, &options) else {
        return;
    };
    let dat = encode_dat(&peaks, options.bits).expect("peaks of any audio encode");
    let read = decode_dat(dat.as_slice()).expect("what was written reads back");
    if options.bits == Bits::Sixteen {
        assert_eq!(read.peaks.pairs(), peaks.pairs());
    }
    let _ = encode_json(&peaks, options.bits);
    let width = NonZeroU32::new(1 + u32::from(knobs)).expect("non-zero");
    let columns = Columns::fit(&peaks, width);
    let mut style = ImageStyle::default();
    if knobs & 0x80 != 0 {
        style.style = WaveformStyle::Bars(Bars {
            width: NonZeroU32::new(3).expect("non-zero"),
            gap: 1,
            shape: BarShape::Rounded,
        });
    }
    let _ = render_png(&columns, &style);
    let _ = render_svg(&columns, &style);
});
