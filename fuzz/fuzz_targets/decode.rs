//! Any bytes through the probe and every decoder backend, as an upload's ingest reads them.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::let_contained_panics_unwind();
    let Ok(mut decoder) = mixdown_media::decode::Decoder::open_reader(
        Cursor::new(data.to_vec()),
        common::upload_limits(),
    ) else {
        return;
    };
    let channels = decoder.format().channels.as_usize();
    let probe = decoder.probe().clone();
    let _ = (probe.container.name(), probe.codec.name(), probe.duration);
    let mut frames = 0u64;
    while let Ok(Some(block)) = decoder.next_block() {
        // Both views a transcode reads must agree with the block's own frame count.
        assert_eq!(block.samples().len(), block.frames() * channels);
        assert_eq!(block.pcm16().len(), block.frames() * channels);
        assert!(block.samples().iter().all(|s| s.is_finite()));
        frames += block.frames() as u64;
    }
    assert_eq!(frames, decoder.frames_decoded());
});
