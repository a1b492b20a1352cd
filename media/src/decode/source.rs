//! Where an input's bytes come from, and how each backend gets at them.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use symphonia::core::io::MediaSource;
use tempfile::TempDir;

use super::error::DecodeError;
use crate::metadata::{self, ScanError, Spliced};

/// Name FFmpeg sees: no extension, so its probe goes by content alone.
const NEUTRAL_NAME: &str = "audio";

/// Anything a caller can hand over as an input.
pub(super) trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

/// A caller's reader, shared so that it is still at hand when one backend gives up on it.
#[derive(Clone)]
pub(super) struct SharedReader {
    inner: Arc<Mutex<dyn ReadSeek>>,
    len: u64,
}

impl SharedReader {
    pub(super) fn new(mut reader: impl ReadSeek + 'static) -> io::Result<Self> {
        let len = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(0))?;
        Ok(Self {
            inner: Arc::new(Mutex::new(reader)),
            len,
        })
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, dyn ReadSeek + 'static>> {
        self.inner
            .lock()
            .map_err(|_| io::Error::other("input reader poisoned by a panic"))
    }
}

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock()?.read(buf)
    }
}

impl Seek for SharedReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

impl MediaSource for SharedReader {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// An input as the caller gave it.
pub(super) enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Any seekable reader.
    Reader(SharedReader),
}

impl Input {
    pub(super) fn byte_len(&self) -> io::Result<u64> {
        match self {
            Self::File(path) => Ok(fs::metadata(path)?.len()),
            Self::Reader(reader) => Ok(reader.len),
        }
    }

    /// A fresh source at the first byte.
    fn whole(&self) -> io::Result<Box<dyn MediaSource>> {
        match self {
            Self::File(path) => Ok(Box::new(File::open(path)?)),
            Self::Reader(reader) => {
                let mut reader = reader.clone();
                reader.seek(SeekFrom::Start(0))?;
                Ok(Box::new(reader))
            }
        }
    }

    /// A fresh source at the first byte, for our WAV reader and symphonia: the input
    /// without its leading ID3v2 tags and with no FLAC metadata but the stream info, so no
    /// picture is ever read (see `metadata`); and whether anything was left out.
    pub(super) fn audio_source(&self) -> Result<(Box<dyn MediaSource>, bool), DecodeError> {
        let mut source = self.whole()?;
        let layout = metadata::scan(&mut source).map_err(|e| match e {
            ScanError::Io(e) => DecodeError::Io(e),
            ScanError::Malformed(why) => DecodeError::Corrupt(why),
        })?;
        if layout.is_plain() {
            return Ok((source, false));
        }
        Ok((Box::new(Spliced::new(source, layout.audio_pieces())), true))
    }

    /// A path to the same audio under a name without an extension, for FFmpeg, which only
    /// opens paths through its safe API and would otherwise let a file name sway its probe.
    /// A file with nothing left out is linked, not copied; anything else is copied into the
    /// temporary directory as [`Input::audio_source`] gives it, so FFmpeg reads no picture
    /// either.
    pub(super) fn neutral_path(&self) -> Result<NeutralPath, DecodeError> {
        let dir = tempfile::Builder::new()
            .prefix("mixdown-decode")
            .tempdir()?;
        let path = dir.path().join(NEUTRAL_NAME);
        let (mut source, cut) = self.audio_source()?;
        match self {
            Self::File(original) if !cut => link(&fs::canonicalize(original)?, &path)?,
            _ => {
                io::copy(&mut source, &mut File::create(&path)?)?;
            }
        }
        Ok(NeutralPath { _dir: dir, path })
    }
}

#[cfg(unix)]
fn link(original: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(original, link)
}

#[cfg(not(unix))]
fn link(original: &Path, link: &Path) -> io::Result<()> {
    fs::copy(original, link).map(drop)
}

/// A path that lives as long as this value.
pub(super) struct NeutralPath {
    _dir: TempDir,
    path: PathBuf,
}

impl NeutralPath {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}
