//! A request body cut into an upload's parts as it arrives: at most one part
//! is held in memory, whatever the body's length.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::TusUpload;
use crate::objects::{ObjectError, ObjectStore, StoredPart};

/// The size of every part but an upload's last (S3 takes no smaller one but
/// the last, 5 MiB); a client sending chunks of this size never leaves a tail.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// How reading a body ended.
#[derive(Debug)]
pub enum Received {
    /// The body ended (or broke off, `broken` says why): the parts stored
    /// from it, in order, and the bytes after them (the old tail's bytes too
    /// when no part was filled), to keep as the new tail.
    Read {
        /// Parts the store acknowledged; recorded by the caller.
        parts: Vec<StoredPart>,
        /// The bytes past the last part.
        rest: Bytes,
        /// Body bytes read.
        read: u64,
        /// Why the body ended early: it broke off, or went past its limit.
        broken: Option<Broken>,
    },
    /// The store failed: the parts it took before, whose bytes are all that
    /// may be kept (the ones after them are lost with the failed part).
    StoreFailed {
        /// Parts the store acknowledged before it failed.
        parts: Vec<StoredPart>,
        /// The failure.
        error: ObjectError,
    },
}

/// Why a body was not read to its end.
#[derive(Debug)]
pub enum Broken {
    /// It held more than the upload takes.
    TooLong,
    /// The client's connection failed.
    Read(std::io::Error),
}

/// Reads `body` into parts of `upload` after the bytes `carry` (its tail),
/// at most `limit` body bytes; `observe` sees every body byte (a checksum).
/// Once the upload's declared length is reached, the bytes short of a part
/// go up as its last part.
pub async fn receive(
    objects: &ObjectStore,
    upload: &TusUpload,
    carry: Bytes,
    mut body: impl AsyncRead + Unpin,
    limit: u64,
    mut observe: impl FnMut(&[u8]),
) -> Received {
    let mut buf = BytesMut::with_capacity(PART_SIZE);
    buf.extend_from_slice(&carry);
    let mut parts = Vec::new();
    let mut number = upload.parts + 1;
    let mut read = 0u64;
    let broken = loop {
        let room = PART_SIZE - buf.len();
        let mut chunk = (&mut body).take(room as u64);
        let before = buf.len();
        match chunk.read_buf(&mut buf).await {
            Ok(0) if room > 0 => break None,
            Ok(_) => {}
            Err(e) => break Some(Broken::Read(e)),
        }
        let got = (buf.len() - before) as u64;
        read += got;
        if read > limit {
            buf.truncate(buf.len() - (read - limit) as usize);
            read = limit;
            observe(&buf[before..]);
            break Some(Broken::TooLong);
        }
        observe(&buf[before..]);
        if buf.len() == PART_SIZE {
            let part = buf.split().freeze();
            match objects
                .upload_part(&upload.data_key, &upload.multipart, number, part)
                .await
            {
                Ok(stored) => parts.push(stored),
                Err(error) => return Received::StoreFailed { parts, error },
            }
            number += 1;
            buf.reserve(PART_SIZE);
        }
    };
    let total = upload.stored + parts.iter().map(|p| p.size).sum::<u64>() + buf.len() as u64;
    if upload.length == Some(total) && !buf.is_empty() {
        let last = buf.split().freeze();
        match objects
            .upload_part(&upload.data_key, &upload.multipart, number, last)
            .await
        {
            Ok(stored) => parts.push(stored),
            Err(error) => return Received::StoreFailed { parts, error },
        }
    }
    Received::Read {
        parts,
        rest: buf.freeze(),
        read,
        broken,
    }
}
