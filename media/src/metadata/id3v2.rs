//! ID3v2 tags at the start of a file, walked frame by frame by their headers: how long each
//! tag is, its pictures, and its other frames, from which a tag without pictures is rebuilt.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use super::ScanError;
use super::picture::{CoverChoice, offer_id3};
use super::spliced::Piece;

/// More frames than a real tag has; the frames past it are left out of the rebuilt tag.
const MAX_FRAMES: usize = 4096;
/// Largest frame kept in a rebuilt tag: tag values are cut to a thousand characters anyway,
/// so a larger frame is lyrics, a blob, or an attempt to make the tag reader hold much.
const MAX_KEPT_FRAME: u64 = 64 << 10;
/// Most bytes of frames a rebuilt tag keeps.
const MAX_KEPT_TAG: u64 = 1 << 20;

const UNSYNCHRONISED: u8 = 0x80;
const EXTENDED_HEADER: u8 = 0x40;
const FOOTER: u8 = 0x10;

/// An ID3v2 tag's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    version: u8,
    revision: u8,
    flags: u8,
    /// Bytes after the header, footer excluded.
    size: u64,
}

impl Header {
    /// The header at `at`, if an ID3v2 tag starts there.
    pub(super) fn read_at<R: Read + Seek>(
        r: &mut R,
        at: u64,
        len: u64,
    ) -> std::io::Result<Option<Self>> {
        if at + 10 > len {
            return Ok(None);
        }
        r.seek(SeekFrom::Start(at))?;
        let mut bytes = [0; 10];
        r.read_exact(&mut bytes)?;
        let known = &bytes[..3] == b"ID3" && (2..=4).contains(&bytes[3]) && bytes[4] != 0xFF;
        Ok(synchsafe(&bytes[6..]).filter(|_| known).map(|size| Self {
            version: bytes[3],
            revision: bytes[4],
            flags: bytes[5],
            size,
        }))
    }

    fn total(&self) -> u64 {
        let footer = if self.flags & FOOTER != 0 { 10 } else { 0 };
        10 + self.size + footer
    }

    /// Whether the frames can be told apart in the bytes as stored: not when the whole
    /// tag is unsynchronised (before version 2.4) or compressed (2.2).
    fn walkable(&self) -> bool {
        let whole_tag_unsync = self.version < 4 && self.flags & UNSYNCHRONISED != 0;
        let compressed = self.version == 2 && self.flags & 0x40 != 0;
        !whole_tag_unsync && !compressed
    }
}

/// One ID3v2 tag: where it is, and the same tag without pictures when it could be walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Id3Tag {
    /// The whole tag, header to footer.
    pub(super) range: Range<u64>,
    /// The tag rebuilt from its header and the frames kept.
    pub(super) without_pictures: Option<Vec<Piece>>,
}

/// Walks the tag at `at` whose header is `header`, offering its pictures.
pub(super) fn walk<R: Read + Seek>(
    r: &mut R,
    at: u64,
    header: Header,
    len: u64,
    covers: &mut CoverChoice,
) -> Result<Id3Tag, ScanError> {
    let range = at..at + header.total();
    if range.end > len {
        return Err(ScanError::Malformed(
            "an ID3v2 tag runs past the end of the file".into(),
        ));
    }
    let body = at + 10..at + 10 + header.size;
    let without_pictures = if header.walkable() {
        let kept = frames(r, &header, body, covers)?;
        Some(rebuilt(&header, kept))
    } else {
        None
    };
    Ok(Id3Tag {
        range,
        without_pictures,
    })
}

/// Walks the frames in `body`, offering pictures; returns the ranges of the frames kept.
fn frames<R: Read + Seek>(
    r: &mut R,
    header: &Header,
    body: Range<u64>,
    covers: &mut CoverChoice,
) -> Result<Vec<Range<u64>>, ScanError> {
    let v22 = header.version == 2;
    let frame_header = if v22 { 6 } else { 10 };
    let mut at = body.start + extended_header(r, header, body.start)?;
    let mut kept: Vec<Range<u64>> = Vec::new();
    let mut kept_bytes = 0;
    for _ in 0..MAX_FRAMES {
        if at + frame_header > body.end {
            break;
        }
        r.seek(SeekFrom::Start(at))?;
        let mut bytes = [0; 10];
        r.read_exact(&mut bytes[..frame_header as usize])?;
        if bytes[0] == 0 {
            break; // padding
        }
        let (id, size, plain) = match header.version {
            2 => (
                &bytes[..3],
                u64::from(u32::from_be_bytes([0, bytes[3], bytes[4], bytes[5]])),
                true,
            ),
            3 => (
                &bytes[..4],
                u64::from(u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])),
                bytes[9] & 0xE0 == 0,
            ),
            _ => {
                let size = synchsafe(&bytes[4..8]).unwrap_or_else(|| {
                    u64::from(u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))
                });
                (
                    &bytes[..4],
                    size,
                    bytes[9] & 0x4F == 0 && header.flags & UNSYNCHRONISED == 0,
                )
            }
        };
        let frame = at..at + frame_header + size;
        if frame.end > body.end {
            break;
        }
        if id == b"APIC" || (v22 && id == b"PIC") {
            if plain {
                offer_id3(r, frame.start + frame_header..frame.end, v22, covers)?;
            }
        } else if size <= MAX_KEPT_FRAME && kept_bytes + frame_header + size <= MAX_KEPT_TAG {
            kept_bytes += frame_header + size;
            match kept.last_mut() {
                Some(last) if last.end == frame.start => last.end = frame.end,
                _ => kept.push(frame.clone()),
            }
        }
        at = frame.end;
    }
    Ok(kept)
}

/// Bytes of the extended header at `at`, if the tag has one.
fn extended_header<R: Read + Seek>(r: &mut R, header: &Header, at: u64) -> Result<u64, ScanError> {
    if header.version == 2 || header.flags & EXTENDED_HEADER == 0 {
        return Ok(0);
    }
    r.seek(SeekFrom::Start(at))?;
    let mut bytes = [0; 4];
    r.read_exact(&mut bytes)?;
    // Version 2.3 counts the bytes after the size field; 2.4 counts the whole header.
    Ok(match header.version {
        3 => 4 + u64::from(u32::from_be_bytes(bytes)),
        _ => synchsafe(&bytes).unwrap_or(u64::MAX / 4),
    })
}

/// The tag as a header (without extended header or footer) and its kept frames; nothing
/// when no frame is kept.
fn rebuilt(header: &Header, kept: Vec<Range<u64>>) -> Vec<Piece> {
    let size: u64 = kept.iter().map(|r| r.end - r.start).sum();
    if size == 0 {
        return Vec::new();
    }
    let mut bytes = b"ID3".to_vec();
    bytes.extend([
        header.version,
        header.revision,
        header.flags & !(EXTENDED_HEADER | FOOTER),
    ]);
    bytes.extend((0..4).rev().map(|i| ((size >> (7 * i)) & 0x7F) as u8));
    let mut pieces = vec![Piece::Made(bytes)];
    pieces.extend(kept.into_iter().map(Piece::Source));
    pieces
}

/// A 28-bit size stored in four 7-bit bytes; `None` when a byte has its top bit set.
fn synchsafe(bytes: &[u8]) -> Option<u64> {
    bytes
        .iter()
        .try_fold(0u64, |n, &b| (b < 0x80).then_some((n << 7) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchsafe_sizes_refuse_a_top_bit() {
        assert_eq!(synchsafe(&[0, 0, 0x02, 0x01]), Some(257));
        assert_eq!(synchsafe(&[0x7F, 0x7F, 0x7F, 0x7F]), Some((1 << 28) - 1));
        assert_eq!(synchsafe(&[0, 0, 0x80, 0]), None);
    }
}
