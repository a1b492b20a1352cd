//! Embedded pictures found by their headers: where each one's image bytes lie, and which
//! one a track keeps as its cover. No image byte is read here.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use crate::tags::MAX_COVER_BYTES;

/// The picture type both FLAC and ID3v2 give a front cover.
const FRONT_COVER: u32 = 3;
/// Longest MIME type looked at; a longer one is no image type.
const MAX_MIME: usize = 256;
/// Bytes of an ID3v2 picture frame read to find where its image starts: room for a MIME
/// type and a description; a picture whose description runs longer is passed over.
const ID3_HEAD: u64 = 1024;

/// Where an embedded picture's image bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PictureAt {
    /// Its MIME type as the file declares it.
    pub(crate) mime: Option<String>,
    /// First byte of the image.
    pub(crate) offset: u64,
    /// Bytes of the image.
    pub(crate) len: u64,
}

/// The cover kept so far: the first front cover, else the first picture, of those not
/// empty and not over [`MAX_COVER_BYTES`].
#[derive(Debug, Default)]
pub(super) struct CoverChoice {
    front: Option<PictureAt>,
    first: Option<PictureAt>,
}

impl CoverChoice {
    fn offer(&mut self, picture: PictureAt, kind: u32) {
        if picture.len == 0 || picture.len > MAX_COVER_BYTES as u64 {
            return;
        }
        if kind == FRONT_COVER && self.front.is_none() {
            self.front = Some(picture.clone());
        }
        self.first.get_or_insert(picture);
    }

    pub(super) fn chosen(self) -> Option<PictureAt> {
        self.front.or(self.first)
    }
}

/// Offers the FLAC `PICTURE` block whose content is `block`.
pub(super) fn offer_flac<R: Read + Seek>(
    r: &mut R,
    block: Range<u64>,
    covers: &mut CoverChoice,
) -> io::Result<()> {
    r.seek(SeekFrom::Start(block.start))?;
    let kind = read_u32(r)?;
    let mime_len = read_u32(r)? as usize;
    if mime_len > MAX_MIME {
        return Ok(());
    }
    let mut mime = vec![0; mime_len];
    r.read_exact(&mut mime)?;
    let description = u64::from(read_u32(r)?);
    // Width, height, depth and colours come before the image's length.
    let dimensions_at = block.start + 12 + mime_len as u64 + description;
    if dimensions_at + 20 > block.end {
        return Ok(());
    }
    r.seek(SeekFrom::Start(dimensions_at + 16))?;
    let len = u64::from(read_u32(r)?);
    let offset = dimensions_at + 20;
    if offset + len <= block.end {
        let mime = String::from_utf8(mime).ok().filter(|m| !m.is_empty());
        covers.offer(PictureAt { mime, offset, len }, kind);
    }
    Ok(())
}

/// Offers the ID3v2 picture frame (`APIC`, or `PIC` in version 2.2) whose content is `frame`.
pub(super) fn offer_id3<R: Read + Seek>(
    r: &mut R,
    frame: Range<u64>,
    v22: bool,
    covers: &mut CoverChoice,
) -> io::Result<()> {
    let mut head = vec![0; (frame.end - frame.start).min(ID3_HEAD) as usize];
    r.seek(SeekFrom::Start(frame.start))?;
    r.read_exact(&mut head)?;
    if let Some((mime, kind, image_at)) = id3_head(&head, v22) {
        let offset = frame.start + image_at as u64;
        let len = frame.end - offset;
        covers.offer(PictureAt { mime, offset, len }, kind);
    }
    Ok(())
}

/// MIME type, picture type and where the image starts, from the first bytes of a frame.
fn id3_head(head: &[u8], v22: bool) -> Option<(Option<String>, u32, usize)> {
    let encoding = *head.first()?;
    let (mime, at) = if v22 {
        let format = head.get(1..4)?;
        let mime = match &format.to_ascii_uppercase()[..] {
            b"JPG" => Some("image/jpeg".to_owned()),
            b"PNG" => Some("image/png".to_owned()),
            _ => None,
        };
        (mime, 4)
    } else {
        let end = 1 + head.get(1..)?.iter().position(|&b| b == 0)?;
        let mime = std::str::from_utf8(&head[1..end]).ok();
        (mime.filter(|m| !m.is_empty()).map(str::to_owned), end + 1)
    };
    let kind = u32::from(*head.get(at)?);
    let description = head.get(at + 1..)?;
    let end = match encoding {
        // UTF-16 ends its text with two zero bytes on a character boundary.
        1 | 2 => description.chunks_exact(2).position(|c| c == [0, 0])? * 2 + 2,
        _ => description.iter().position(|&b| b == 0)? + 1,
    };
    Some((mime, kind, at + 1 + end))
}

pub(super) fn read_u32<R: Read>(r: &mut R) -> io::Result<u32> {
    let mut bytes = [0; 4];
    r.read_exact(&mut bytes)?;
    Ok(u32::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id3_picture_head_gives_mime_type_and_image_start() {
        let head = b"\x00image/png\x00\x03cover\x00\x89PNG";
        let (mime, kind, at) = id3_head(head, false).unwrap();
        assert_eq!(mime.as_deref(), Some("image/png"));
        assert_eq!(kind, FRONT_COVER);
        assert_eq!(&head[at..], b"\x89PNG");
        let utf16 = b"\x01image/jpeg\x00\x04\xff\xfec\x00\x00\x00\xff\xd8";
        let (_, kind, at) = id3_head(utf16, false).unwrap();
        assert_eq!((kind, &utf16[at..]), (4, &b"\xff\xd8"[..]));
        let v22 = b"\x00JPG\x03\x00\xff\xd8";
        let (mime, _, at) = id3_head(v22, true).unwrap();
        assert_eq!(mime.as_deref(), Some("image/jpeg"));
        assert_eq!(&v22[at..], b"\xff\xd8");
        assert!(id3_head(b"\x00image/png", false).is_none());
    }

    #[test]
    fn the_first_front_cover_within_the_limit_is_kept() {
        let at = |offset, len| PictureAt {
            mime: None,
            offset,
            len,
        };
        let mut covers = CoverChoice::default();
        covers.offer(at(0, MAX_COVER_BYTES as u64 + 1), FRONT_COVER);
        covers.offer(at(1, 10), 0);
        covers.offer(at(2, 0), FRONT_COVER);
        covers.offer(at(3, 10), FRONT_COVER);
        covers.offer(at(4, 10), FRONT_COVER);
        assert_eq!(covers.chosen().map(|p| p.offset), Some(3));
        let mut others = CoverChoice::default();
        others.offer(at(5, 10), 0);
        others.offer(at(6, 10), 4);
        assert_eq!(others.chosen().map(|p| p.offset), Some(5));
    }
}
