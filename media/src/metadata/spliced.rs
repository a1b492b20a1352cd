//! A reader over pieces of another: ranges of the source and a few bytes of our own,
//! presented as one seekable stream. It lets a decoder or a tag reader see a file with its
//! pictures cut out, without copying the file.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use symphonia::core::io::MediaSource;

/// One stretch of the presented stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// These bytes of the source.
    Source(Range<u64>),
    /// Bytes made here (a rewritten header).
    Made(Vec<u8>),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Self::Source(range) => range.end - range.start,
            Self::Made(bytes) => bytes.len() as u64,
        }
    }
}

/// The pieces, back to back, read from `source`.
pub(crate) struct Spliced<R> {
    source: R,
    pieces: Vec<Piece>,
    /// Where each piece starts in the presented stream.
    starts: Vec<u64>,
    len: u64,
    pos: u64,
    /// Where the source is, so a read that follows another seeks nothing.
    source_pos: Option<u64>,
}

impl<R: Read + Seek> Spliced<R> {
    pub(crate) fn new(source: R, pieces: Vec<Piece>) -> Self {
        let pieces: Vec<Piece> = pieces.into_iter().filter(|p| p.len() > 0).collect();
        let mut starts = Vec::with_capacity(pieces.len());
        let mut len = 0;
        for piece in &pieces {
            starts.push(len);
            len += piece.len();
        }
        Self {
            source,
            pieces,
            starts,
            len,
            pos: 0,
            source_pos: None,
        }
    }

    fn read_source(&mut self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        if self.source_pos != Some(at) {
            self.source.seek(SeekFrom::Start(at))?;
        }
        let n = self.source.read(buf)?;
        self.source_pos = Some(at + n as u64);
        Ok(n)
    }
}

impl<R: Read + Seek> Read for Spliced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let index = self.starts.partition_point(|&start| start <= self.pos) - 1;
        let offset = self.pos - self.starts[index];
        let room = (self.pieces[index].len() - offset).min(buf.len() as u64) as usize;
        let n = match &self.pieces[index] {
            Piece::Made(bytes) => {
                let from = offset as usize;
                buf[..room].copy_from_slice(&bytes[from..from + room]);
                room
            }
            Piece::Source(range) => {
                let at = range.start + offset;
                self.read_source(at, &mut buf[..room])?
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Spliced<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = target;
        Ok(target)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Spliced<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn spliced() -> Spliced<Cursor<Vec<u8>>> {
        let source = Cursor::new((0u8..100).collect::<Vec<u8>>());
        let pieces = vec![
            Piece::Made(b"ab".to_vec()),
            Piece::Source(10..13),
            Piece::Source(50..52),
            Piece::Made(Vec::new()),
            Piece::Source(98..100),
        ];
        Spliced::new(source, pieces)
    }

    #[test]
    fn pieces_read_back_to_back_as_one_stream() {
        let mut all = Vec::new();
        spliced().read_to_end(&mut all).unwrap();
        assert_eq!(all, [b'a', b'b', 10, 11, 12, 50, 51, 98, 99]);
    }

    #[test]
    fn seeking_lands_inside_any_piece() {
        let mut view = spliced();
        assert_eq!(view.seek(SeekFrom::End(-3)).unwrap(), 6);
        let mut rest = Vec::new();
        view.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [51, 98, 99]);
        view.seek(SeekFrom::Start(1)).unwrap();
        let mut two = [0; 2];
        view.read_exact(&mut two).unwrap();
        assert_eq!(two, [b'b', 10]);
        assert!(view.seek(SeekFrom::Current(-10)).is_err());
    }
}
