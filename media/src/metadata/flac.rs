//! Native FLAC's metadata blocks, walked by their four-byte headers: where the stream info
//! is, where the audio frames start, and the pictures on the way.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use super::ScanError;
use super::picture::{CoverChoice, offer_flac};

/// The stream marker every native FLAC starts with.
pub(super) const MARKER: &[u8; 4] = b"fLaC";
/// More metadata blocks than a real file has; past this a file is refused, not walked on.
const MAX_BLOCKS: usize = 4096;
const STREAM_INFO: u8 = 0;
const PICTURE: u8 = 6;
/// The flag of a block header that marks the last metadata block.
const LAST: u8 = 0x80;

/// Where a FLAC stream's own metadata sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FlacMeta {
    /// The content of the `STREAMINFO` block (what a decoder needs).
    pub(super) stream_info: Range<u64>,
    /// The first byte after the last metadata block.
    pub(super) audio_start: u64,
}

impl FlacMeta {
    /// The marker and a `STREAMINFO` header flagged last, for a stream that keeps no other
    /// block.
    pub(super) fn lone_header(&self) -> Vec<u8> {
        let len = (self.stream_info.end - self.stream_info.start) as u32;
        let mut header = MARKER.to_vec();
        header.push(LAST | STREAM_INFO);
        header.extend_from_slice(&len.to_be_bytes()[1..]);
        header
    }
}

/// Walks the blocks of the FLAC stream whose marker is at `start`, offering its pictures.
pub(super) fn walk<R: Read + Seek>(
    r: &mut R,
    start: u64,
    len: u64,
    covers: &mut CoverChoice,
) -> Result<FlacMeta, ScanError> {
    let mut at = start + MARKER.len() as u64;
    let mut stream_info = None;
    for _ in 0..MAX_BLOCKS {
        r.seek(SeekFrom::Start(at))?;
        let mut header = [0; 4];
        r.read_exact(&mut header)?;
        let size = u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        let content = at + 4..at + 4 + size;
        if content.end > len {
            return Err(ScanError::Malformed(
                "FLAC metadata runs past the end of the file".into(),
            ));
        }
        match header[0] & !LAST {
            STREAM_INFO if stream_info.is_none() => stream_info = Some(content.clone()),
            PICTURE => offer_flac(r, content.clone(), covers)?,
            _ => {}
        }
        at = content.end;
        if header[0] & LAST != 0 {
            let stream_info = stream_info
                .ok_or_else(|| ScanError::Malformed("FLAC without stream info".into()))?;
            return Ok(FlacMeta {
                stream_info,
                audio_start: at,
            });
        }
    }
    Err(ScanError::Malformed(format!(
        "more than {MAX_BLOCKS} FLAC metadata blocks"
    )))
}
