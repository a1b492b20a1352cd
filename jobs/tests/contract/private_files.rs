//! What the embedded mode writes under its data directory is its owner's
//! alone: the SQLite database and its journals, objects, their directories
//! and their temporaries, made through the code paths the fleet uses.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use mixdown_jobs::{
    clock::Clock,
    db::{Database, random_secret},
    objects::{DirStore, ObjectKey, ObjectStore},
};
use tokio::io::AsyncWriteExt;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `root`, itself included.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![root.to_owned()];
    if root.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            found.extend(walk(&entry.unwrap().path()));
        }
    }
    found
}

fn assert_private(root: &Path) {
    for path in walk(root) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
}

#[tokio::test]
async fn the_sqlite_database_and_its_journals_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixdown.db");
    let db = Database::open_sqlite(&path, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    db.secrets.shared("probe", random_secret).await.unwrap();
    let journals: Vec<PathBuf> = walk(dir.path())
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(
        journals.len() >= 2,
        "the database and its WAL: {journals:?}"
    );
    assert_private(&path);
    for file in journals {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    db.close().await;
}

#[tokio::test]
async fn objects_their_directories_and_temporaries_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data/objects");
    let store = ObjectStore::Dir(DirStore::open(&root).await.unwrap());
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    let key = |name: &str| ObjectKey::new(format!("voice/t1/{name}")).unwrap();

    store
        .put_bytes(&key("bytes.bin"), Bytes::from_static(b"abc"))
        .await
        .unwrap();
    // A source readable by all does not pass its rights on.
    let source = dir.path().join("source.wav");
    std::fs::write(&source, b"RIFF").unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    store.put_file(&key("file.wav"), &source).await.unwrap();

    // A streamed write is seen half-way: its temporary is private already.
    let (mut tx, rx) = tokio::io::duplex(1024);
    let writing = {
        let store = store.clone();
        tokio::spawn(async move { store.put_stream(&key("stream.wav"), rx, 1 << 20).await })
    };
    tx.write_all(b"first half").await.unwrap();
    let mut part = None;
    for _ in 0..100_000 {
        part = walk(&root)
            .into_iter()
            .find(|p| p.to_string_lossy().contains(".part-"));
        if part.is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let part = part.expect("the streamed write has a temporary");
    assert_eq!(mode(&part), 0o600, "{}", part.display());
    tx.write_all(b", second half").await.unwrap();
    drop(tx);
    assert_eq!(writing.await.unwrap().unwrap(), 23);

    let downloaded = dir.path().join("scratch.wav");
    store.download(&key("file.wav"), &downloaded).await.unwrap();
    assert_eq!(mode(&downloaded), 0o600);
    assert_eq!(walk(&root).len(), 6, "root, voice, t1 and three objects");
    assert_private(&root);
}
