//! Files and directories only their owner may read or enter: the data
//! directory holds the database (with its secrets), sealing keys, users'
//! audio and voice samples, none of which other accounts on the host may see.

use std::path::Path;

use tokio::fs;

/// Creates `path` and any missing parent, each `0700`; existing ones are
/// left as they are.
pub async fn create_dir_all(path: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .await
}

/// Creates the file at `path` `0600`, or empties an existing one, for writing.
pub async fn create_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .await
}

/// Creates the file at `path` `0600` unless it exists, so that a program
/// that would create it with wider rights (SQLite) finds it made.
pub async fn ensure_file(path: &Path) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .await
        .map(drop)
}
