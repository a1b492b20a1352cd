//! Objects as files under one directory.

use std::{
    io::SeekFrom,
    ops::Range,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use tokio::{
    fs,
    io::{AsyncReadExt, AsyncSeekExt},
};

use super::{ObjectError, ObjectKey, ObjectMeta, ObjectReader, StreamError, copy_bounded};

/// Objects kept as files under a root directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root`, created if missing.
    pub async fn open(root: &Path) -> Result<Self, ObjectError> {
        fs::create_dir_all(root).await?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The file that holds `key`; keys are checked, so this stays under the root.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// A temporary name beside the target, renamed into place once complete,
    /// so a reader never sees half an object.
    async fn staging(&self, key: &ObjectKey) -> Result<(PathBuf, PathBuf), ObjectError> {
        let target = self.path_of(key);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).await?;
        }
        let tmp = target.with_extension(format!("part-{}", uuid::Uuid::now_v7().simple()));
        Ok((target, tmp))
    }

    pub(super) async fn put_bytes(&self, key: &ObjectKey, body: Bytes) -> Result<(), ObjectError> {
        let (target, tmp) = self.staging(key).await?;
        fs::write(&tmp, &body).await?;
        Ok(fs::rename(&tmp, &target).await?)
    }

    pub(super) async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), ObjectError> {
        let (target, tmp) = self.staging(key).await?;
        fs::copy(path, &tmp).await?;
        Ok(fs::rename(&tmp, &target).await?)
    }

    pub(super) async fn put_stream(
        &self,
        key: &ObjectKey,
        body: impl tokio::io::AsyncRead + Unpin,
        limit: u64,
    ) -> Result<u64, StreamError> {
        let (target, tmp) = self.staging(key).await?;
        let mut file = fs::File::create(&tmp).await.map_err(ObjectError::Io)?;
        let copied = copy_bounded(body, &mut file, limit).await;
        drop(file);
        match copied {
            Ok(size) => {
                fs::rename(&tmp, &target).await.map_err(ObjectError::Io)?;
                Ok(size)
            }
            Err(err) => {
                let _ = fs::remove_file(&tmp).await;
                Err(err)
            }
        }
    }

    pub(super) async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, ObjectError> {
        match fs::read(self.path_of(key)).await {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ObjectError::NotFound(key.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, ObjectError> {
        Ok(Box::pin(self.file(key).await?))
    }

    pub(super) async fn read_range(
        &self,
        key: &ObjectKey,
        range: Range<u64>,
    ) -> Result<ObjectReader, ObjectError> {
        let mut file = self.file(key).await?;
        file.seek(SeekFrom::Start(range.start)).await?;
        Ok(Box::pin(file.take(range.end - range.start)))
    }

    async fn file(&self, key: &ObjectKey) -> Result<fs::File, ObjectError> {
        match fs::File::open(self.path_of(key)).await {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ObjectError::NotFound(key.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        match fs::metadata(self.path_of(key)).await {
            Ok(m) => Ok(Some(ObjectMeta {
                size: m.len(),
                modified: m.modified()?,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        match fs::remove_file(self.path_of(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub(super) async fn ping(&self) -> Result<(), ObjectError> {
        let meta = fs::metadata(&self.root).await?;
        if meta.permissions().readonly() {
            return Err(std::io::Error::other("object directory is read-only").into());
        }
        Ok(())
    }
}
