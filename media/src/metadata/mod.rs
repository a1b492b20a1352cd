//! Where the metadata of a file's leading ID3v2 tags and native FLAC blocks sits, found by
//! reading headers alone. Pictures in them (up to 16 MiB each, in any number) are what a
//! decoder and a tag reader would otherwise hold whole: symphonia keeps every picture it
//! meets, and lofty every FLAC picture block. With the layout, the decoder reads a view of
//! the file without them, the tag reader one without pictures, and the one cover kept is
//! read alone.

mod flac;
mod id3v2;
mod picture;
mod spliced;

use std::io::{self, Read, Seek, SeekFrom};

pub(crate) use picture::PictureAt;
pub(crate) use spliced::{Piece, Spliced};

/// Back-to-back ID3v2 tags looked at; a writer that prepends a tag to a tagged file makes
/// two, and more than a few is no real file.
const MAX_ID3_TAGS: usize = 8;

/// Why a file's metadata could not be walked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The headers contradict the file.
    #[error("{0}")]
    Malformed(String),
}

/// Where the leading ID3v2 tags and the FLAC metadata of a file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    len: u64,
    id3: Vec<id3v2::Id3Tag>,
    /// Where what follows the ID3v2 tags starts.
    after_id3: u64,
    flac: Option<flac::FlacMeta>,
    cover: Option<PictureAt>,
}

/// Reads the headers of `r`'s metadata.
pub(crate) fn scan<R: Read + Seek>(r: &mut R) -> Result<Layout, ScanError> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut id3_covers = picture::CoverChoice::default();
    let mut id3 = Vec::new();
    let mut at = 0;
    while id3.len() < MAX_ID3_TAGS {
        let Some(header) = id3v2::Header::read_at(r, at, len)? else {
            break;
        };
        let tag = id3v2::walk(r, at, header, len, &mut id3_covers)?;
        at = tag.range.end;
        id3.push(tag);
    }
    let mut flac_covers = picture::CoverChoice::default();
    let flac = match starts_with(r, at, flac::MARKER)? {
        true => Some(flac::walk(r, at, len, &mut flac_covers)?),
        false => None,
    };
    r.seek(SeekFrom::Start(0))?;
    Ok(Layout {
        len,
        id3,
        after_id3: at,
        flac,
        // The container's own pictures before those of a tag put in front of it.
        cover: flac_covers.chosen().or(id3_covers.chosen()),
    })
}

fn starts_with<R: Read + Seek>(r: &mut R, at: u64, marker: &[u8; 4]) -> io::Result<bool> {
    r.seek(SeekFrom::Start(at))?;
    let mut bytes = [0; 4];
    match r.read_exact(&mut bytes) {
        Ok(()) => Ok(&bytes == marker),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

impl Layout {
    /// Whether the file has neither a leading ID3v2 tag nor FLAC metadata: its views are
    /// the file itself.
    pub(crate) fn is_plain(&self) -> bool {
        self.id3.is_empty() && self.flac.is_none()
    }

    /// The file as a decoder needs it: no ID3v2 tag, and of FLAC's metadata only the
    /// stream info.
    pub(crate) fn audio_pieces(&self) -> Vec<Piece> {
        match &self.flac {
            Some(flac) => vec![
                Piece::Made(flac.lone_header()),
                Piece::Source(flac.stream_info.clone()),
                Piece::Source(flac.audio_start..self.len),
            ],
            None => vec![Piece::Source(self.after_id3..self.len)],
        }
    }

    /// The file as a tag reader needs it: each ID3v2 tag without its pictures (a tag that
    /// cannot be walked is left out), then the rest as it is.
    pub(crate) fn tag_pieces(&self) -> Vec<Piece> {
        let mut pieces: Vec<Piece> = self
            .id3
            .iter()
            .flat_map(|tag| tag.without_pictures.clone().unwrap_or_default())
            .collect();
        pieces.push(Piece::Source(self.after_id3..self.len));
        pieces
    }

    /// Where the cover is: the first front cover, else the first picture, within the size
    /// limit; FLAC's own pictures before an ID3v2 tag's.
    pub(crate) fn cover(&self) -> Option<&PictureAt> {
        self.cover.as_ref()
    }
}

#[cfg(test)]
mod tests;
