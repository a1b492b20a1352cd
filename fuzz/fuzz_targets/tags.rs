//! Any bytes through the tag reader, as ingest reads an upload's title, artist and cover.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mixdown_media::tags::{MAX_COVER_BYTES, MAX_TAG_CHARS, read_tags};

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(data).expect("written");
    let tags = read_tags(file.path());
    for value in tags.text.values() {
        assert!(value.chars().count() <= MAX_TAG_CHARS);
    }
    if let Some(cover) = tags.cover {
        assert!(cover.data.len() <= MAX_COVER_BYTES);
    }
});
