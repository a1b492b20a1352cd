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

use super::{Listed, ObjectError, ObjectKey, ObjectMeta, ObjectReader, StreamError, copy_bounded};
use crate::private_files::{create_dir_all, create_file};

/// What the extension of a staged file starts with; no key has it, since
/// keys are made of Mixdown's ids and names.
const PART: &str = "part-";

/// Objects kept as files under a root directory, every file `0600` and
/// every directory `0700` (users' audio is no one else's to read).
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root`, created if missing.
    pub async fn open(root: &Path) -> Result<Self, ObjectError> {
        create_dir_all(root).await?;
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
            create_dir_all(parent).await?;
        }
        let tmp = target.with_extension(format!("{PART}{}", uuid::Uuid::now_v7().simple()));
        Ok((target, tmp))
    }

    pub(super) async fn put_bytes(&self, key: &ObjectKey, body: Bytes) -> Result<(), ObjectError> {
        let body: &[u8] = &body;
        unbounded(self.put_stream(key, body, u64::MAX).await)
    }

    /// Copies rather than `fs::copy`, which would give the object the
    /// source file's rights.
    pub(super) async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), ObjectError> {
        let source = fs::File::open(path).await?;
        unbounded(self.put_stream(key, source, u64::MAX).await)
    }

    pub(super) async fn put_stream(
        &self,
        key: &ObjectKey,
        body: impl tokio::io::AsyncRead + Unpin,
        limit: u64,
    ) -> Result<u64, StreamError> {
        let (target, tmp) = self.staging(key).await?;
        let mut file = create_file(&tmp).await.map_err(ObjectError::Io)?;
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

    pub(super) async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), ObjectError> {
        let target = self.path_of(to);
        if let Some(parent) = target.parent() {
            create_dir_all(parent).await?;
        }
        match fs::rename(self.path_of(from), target).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ObjectError::NotFound(from.clone()))
            }
            done => Ok(done?),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError> {
        let mut listed = Vec::new();
        for (path, meta) in self.files_under(&self.root.join(prefix)).await? {
            let relative = path.strip_prefix(&self.root).ok().and_then(|p| p.to_str());
            // Staged files are no objects, and their names are no keys.
            if let Some(key) = relative.and_then(ObjectKey::new)
                && !is_part(&path)
            {
                let modified = meta.modified()?;
                let meta = ObjectMeta {
                    size: meta.len(),
                    modified,
                };
                listed.push(Listed { key, meta });
            }
        }
        Ok(listed)
    }

    pub(super) async fn remove_stale_parts(
        &self,
        before: std::time::SystemTime,
    ) -> Result<u64, ObjectError> {
        let mut removed = 0;
        for (path, meta) in self.files_under(&self.root).await? {
            if is_part(&path) && meta.modified()? < before {
                match fs::remove_file(&path).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => removed += 1,
                }
            }
        }
        Ok(removed)
    }

    /// Every file under `dir`, at any depth, with its metadata; none when
    /// `dir` does not exist.
    async fn files_under(
        &self,
        dir: &Path,
    ) -> Result<Vec<(PathBuf, std::fs::Metadata)>, ObjectError> {
        let mut files = Vec::new();
        let mut dirs = vec![dir.to_owned()];
        while let Some(dir) = dirs.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let meta = entry.metadata().await?;
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else {
                    files.push((entry.path(), meta));
                }
            }
        }
        Ok(files)
    }

    pub(super) async fn ping(&self) -> Result<(), ObjectError> {
        let meta = fs::metadata(&self.root).await?;
        if meta.permissions().readonly() {
            return Err(std::io::Error::other("object directory is read-only").into());
        }
        Ok(())
    }
}

fn is_part(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.starts_with(PART))
}

/// The outcome of a write without a limit, whose body is ours: a failure to
/// read it is the store's too.
fn unbounded(written: Result<u64, StreamError>) -> Result<(), ObjectError> {
    match written {
        Ok(_) => Ok(()),
        Err(StreamError::Store(e)) => Err(e),
        Err(StreamError::Read(e)) => Err(ObjectError::Io(e)),
        Err(e @ StreamError::TooLarge { .. }) => Err(std::io::Error::other(e).into()),
    }
}
