//! The object store for originals and outputs: S3 (any S3-compatible server)
//! in the fleet, a local directory when embedded.

mod dir;
mod multipart;
mod s3;

use std::{
    fmt,
    ops::Range,
    path::Path,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use self::{
    dir::DirStore,
    multipart::{MultipartId, StoredPart},
    s3::{S3Settings, S3Store},
};

/// What a download wrote: the object's size and its SHA-256, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written.
    pub size: u64,
    /// SHA-256 of those bytes, hex.
    pub sha256: String,
}

/// What the store knows of one object without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// An object found by listing a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: ObjectKey,
    /// Its size and time of writing.
    pub meta: ObjectMeta,
}

/// A streamed read of one object.
pub type ObjectReader = std::pin::Pin<Box<dyn AsyncRead + Send>>;

/// A failure of the object store.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// No object under that key.
    #[error("no object at {0}")]
    NotFound(ObjectKey),
    /// The local directory failed.
    #[error("object directory: {0}")]
    Io(#[from] std::io::Error),
    /// The S3 service failed or could not be reached.
    #[error("s3: {0}")]
    S3(String),
}

impl ObjectError {
    fn s3(err: impl std::error::Error) -> Self {
        // The SDK's Display is terse; the source chain carries the reason.
        ObjectError::S3(crate::codes::error_chain(&err))
    }
}

/// Why a streamed write stopped; it leaves nothing under its key.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The body went past the limit.
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// Most bytes accepted.
        limit: u64,
    },
    /// Reading the body failed: the sender's fault (a broken request, a hang-up).
    #[error("reading the body failed: {0}")]
    Read(std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ObjectError),
}

/// Copies `body` into `out` in bounded chunks, refusing more than `limit` bytes.
async fn copy_bounded(
    mut body: impl AsyncRead + Unpin,
    out: &mut (impl AsyncWrite + Unpin),
    limit: u64,
) -> Result<u64, StreamError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = body.read(&mut buf).await.map_err(StreamError::Read)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(StreamError::TooLarge { limit });
        }
        out.write_all(&buf[..n]).await.map_err(ObjectError::Io)?;
    }
    out.flush().await.map_err(ObjectError::Io)?;
    Ok(total)
}

/// A key in the object store, built by Mixdown and never taken from user
/// input: lowercase ASCII letters, digits, `-`, `_`, `.` and `/`-separated
/// segments that are neither empty nor dot-only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The key if `text` is a well-formed key.
    pub fn new(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.chars().any(|c| c != '.')
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        };
        (text.len() <= 512 && text.split('/').all(segment_ok)).then_some(Self(text))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(text).ok_or("not an object key Mixdown made")
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> String {
        key.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The object store in use.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// An S3 bucket.
    S3(S3Store),
    /// A local directory.
    Dir(DirStore),
}

impl ObjectStore {
    /// Stores `body` under `key`, replacing what was there.
    pub async fn put_bytes(&self, key: &ObjectKey, body: Bytes) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => s.put_bytes(key, body).await,
            ObjectStore::Dir(d) => d.put_bytes(key, body).await,
        }
    }

    /// Stores the file at `path` under `key`, streaming it from disk.
    pub async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => s.put_file(key, path).await,
            ObjectStore::Dir(d) => d.put_file(key, path).await,
        }
    }

    /// Stores what `body` yields under `key`, at most `limit` bytes, without
    /// holding it whole in memory; returns its size. Any upload body (a raw
    /// request body, a multipart part) goes through here.
    pub async fn put_stream(
        &self,
        key: &ObjectKey,
        body: impl AsyncRead + Unpin + Send,
        limit: u64,
    ) -> Result<u64, StreamError> {
        match self {
            ObjectStore::S3(s) => s.put_stream(key, body, limit).await,
            ObjectStore::Dir(d) => d.put_stream(key, body, limit).await,
        }
    }

    /// The whole object under `key` (for small objects).
    pub async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.get_bytes(key).await,
            ObjectStore::Dir(d) => d.get_bytes(key).await,
        }
    }

    /// A reader of the object under `key`, for objects too large to hold.
    pub async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.read(key).await,
            ObjectStore::Dir(d) => d.read(key).await,
        }
    }

    /// A reader of the bytes `range` of the object under `key`, which the
    /// caller has checked lie within it: only they are fetched or read.
    pub async fn read_range(
        &self,
        key: &ObjectKey,
        range: Range<u64>,
    ) -> Result<ObjectReader, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.read_range(key, range).await,
            ObjectStore::Dir(d) => d.read_range(key, range).await,
        }
    }

    /// Copies the object under `key` into a new file at `path`, streaming,
    /// and hashes it on the way: one read of the object gives the file, its
    /// size and its SHA-256.
    pub async fn download(&self, key: &ObjectKey, path: &Path) -> Result<Downloaded, ObjectError> {
        let mut reader = self.read(key).await?;
        let mut file = crate::private_files::create_file(path).await?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).await?;
            size += n as u64;
        }
        file.sync_data().await?;
        Ok(Downloaded {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// The object's size in bytes, or `None` when there is none.
    pub async fn size(&self, key: &ObjectKey) -> Result<Option<u64>, ObjectError> {
        Ok(self.stat(key).await?.map(|meta| meta.size))
    }

    /// The object's size and time of writing, or `None` when there is none.
    pub async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.stat(key).await,
            ObjectStore::Dir(d) => d.stat(key).await,
        }
    }

    /// Removes the object; removing a missing object is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => s.delete(key).await,
            ObjectStore::Dir(d) => d.delete(key).await,
        }
    }

    /// Moves the object under `from` to `to`, replacing what was there: a
    /// URL naming `from` no longer reaches it.
    pub async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => s.rename(from, to).await,
            ObjectStore::Dir(d) => d.rename(from, to).await,
        }
    }

    /// Every object whose key starts with `prefix` followed by `/`, in no
    /// particular order. For sweeps of a prefix whose objects are few.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.list(prefix).await,
            ObjectStore::Dir(d) => d.list(prefix).await,
        }
    }

    /// Removes what writes that never finished left behind, last written
    /// before `before`; returns how many. Only a directory has any: its
    /// objects are staged in `.part-*` files (S3 shows an object only once
    /// it is whole).
    pub async fn remove_stale_parts(&self, before: SystemTime) -> Result<u64, ObjectError> {
        match self {
            ObjectStore::S3(_) => Ok(0),
            ObjectStore::Dir(d) => d.remove_stale_parts(before).await,
        }
    }

    /// A URL that reads the object without credentials until `ttl` passes;
    /// `None` for a directory, whose objects the API serves itself.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<Option<String>, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.presign_get(key, ttl).await.map(Some),
            ObjectStore::Dir(_) => Ok(None),
        }
    }

    /// A URL that stores a body under `key` with a plain PUT until `ttl`
    /// passes; `None` for a directory, whose uploads the API takes itself.
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<Option<String>, ObjectError> {
        match self {
            ObjectStore::S3(s) => s.presign_put(key, ttl).await.map(Some),
            ObjectStore::Dir(_) => Ok(None),
        }
    }

    /// Checks that the store is reachable and writable.
    pub async fn ping(&self) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => s.ping().await,
            ObjectStore::Dir(d) => d.ping().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKey;

    #[test]
    fn keys_refuse_traversal_and_odd_characters() {
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/../b", "A", "a b", "a\\b", ".",
        ] {
            assert!(ObjectKey::new(bad).is_none(), "{bad:?}");
        }
        assert!(ObjectKey::new("tracks/0199/original.mp3").is_some());
    }
}
