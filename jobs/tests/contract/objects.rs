//! The object store contract, on S3 and on a directory.

use std::time::Duration;

use bytes::Bytes;
use mixdown_jobs::objects::{ObjectError, ObjectKey, ObjectStore};
use sha2::{Digest, Sha256};

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    let s3 = mixdown_jobs::objects::S3Store::connect(&mixdown_testkit::s3_settings()).await;
                    s3.ensure_bucket().await.expect("create test bucket");
                    super::$case(&mixdown_jobs::objects::ObjectStore::S3(s3)).await;
                }
            )*
        }
        mod dir {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = mixdown_jobs::objects::DirStore::open(&dir.path().join("objects")).await.unwrap();
                    super::$case(&mixdown_jobs::objects::ObjectStore::Dir(store)).await;
                }
            )*
        }
    };
}

contract!(
    an_object_reads_back_as_written_and_is_replaced_whole,
    a_missing_object_is_reported_as_missing,
    a_file_is_stored_by_streaming_it,
    a_download_writes_the_object_and_hashes_it_on_the_way,
    a_presigned_url_reads_the_object,
    a_range_reads_only_its_bytes_and_a_stat_dates_the_object,
);

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(format!("tests/{}/{name}", mixdown_testkit::unique())).unwrap()
}

async fn an_object_reads_back_as_written_and_is_replaced_whole(store: &ObjectStore) {
    let k = key("a.bin");
    store
        .put_bytes(&k, Bytes::from_static(b"first version"))
        .await
        .unwrap();
    store
        .put_bytes(&k, Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(
        store.get_bytes(&k).await.unwrap(),
        Bytes::from_static(b"second")
    );
    assert_eq!(store.size(&k).await.unwrap(), Some(6));
    store.delete(&k).await.unwrap();
    store.delete(&k).await.unwrap();
    assert_eq!(store.size(&k).await.unwrap(), None);
    store.ping().await.unwrap();
}

async fn a_range_reads_only_its_bytes_and_a_stat_dates_the_object(store: &ObjectStore) {
    use tokio::io::AsyncReadExt;
    let k = key("range.bin");
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let before = std::time::SystemTime::now() - Duration::from_secs(2);
    store
        .put_bytes(&k, Bytes::from(data.clone()))
        .await
        .unwrap();
    let meta = store.stat(&k).await.unwrap().unwrap();
    assert_eq!(meta.size, 100_000);
    assert!(meta.modified >= before, "{:?}", meta.modified);
    for range in [0..1, 70_000..70_100, 99_990..100_000, 5..5] {
        let mut read = Vec::new();
        let mut reader = store.read_range(&k, range.clone()).await.unwrap();
        reader.read_to_end(&mut read).await.unwrap();
        assert_eq!(
            read,
            data[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
    assert_eq!(store.stat(&key("none")).await.unwrap(), None);
}

async fn a_missing_object_is_reported_as_missing(store: &ObjectStore) {
    let k = key("missing");
    assert!(matches!(
        store.get_bytes(&k).await,
        Err(ObjectError::NotFound(_))
    ));
    assert_eq!(store.size(&k).await.unwrap(), None);
}

async fn a_file_is_stored_by_streaming_it(store: &ObjectStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let k = key("big.bin");
    store.put_file(&k, &path).await.unwrap();
    assert_eq!(store.size(&k).await.unwrap(), Some(data.len() as u64));
    assert_eq!(store.get_bytes(&k).await.unwrap(), Bytes::from(data));
}

async fn a_download_writes_the_object_and_hashes_it_on_the_way(store: &ObjectStore) {
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let k = key("original");
    store
        .put_bytes(&k, Bytes::from(data.clone()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy");
    let got = store.download(&k, &path).await.unwrap();
    assert_eq!(got.size, data.len() as u64);
    assert_eq!(got.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let gone = store.download(&key("gone"), &path).await;
    assert!(matches!(gone, Err(ObjectError::NotFound(_))));
}

async fn a_presigned_url_reads_the_object(store: &ObjectStore) {
    let k = key("shared.txt");
    store
        .put_bytes(&k, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let url = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    match (store, url) {
        (ObjectStore::S3(_), Some(url)) => {
            let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
            assert_eq!(body, Bytes::from_static(b"hello"));
        }
        (ObjectStore::Dir(_), None) => {}
        (_, url) => panic!("unexpected presign answer {url:?}"),
    }
}
