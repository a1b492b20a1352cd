//! Objects written in numbered parts over many requests, then joined: an S3
//! multipart upload in the fleet; in a directory, each part a file of its
//! own until they are joined into the object.

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use bytes::Bytes;

use super::{ObjectError, ObjectKey, ObjectReader, ObjectStore, StreamError};

/// The object store's name for one multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartId(pub String);

/// A part the store acknowledged: its number, size and entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// 1-based position of the part.
    pub number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// The tag the store gave it, needed to join the parts.
    pub etag: String,
}

/// Where a directory store keeps the parts of `id`.
fn dir_prefix(id: &MultipartId) -> String {
    format!("multipart/{}", id.0)
}

fn dir_part_key(id: &MultipartId, number: u32) -> Result<ObjectKey, ObjectError> {
    ObjectKey::new(format!("{}/{number:05}", dir_prefix(id)))
        .ok_or_else(|| ObjectError::S3(format!("not a multipart upload id: {}", id.0)))
}

impl ObjectStore {
    /// The objects under `keys` read one after the other, as one stream.
    pub async fn read_joined(&self, keys: &[ObjectKey]) -> Result<ObjectReader, ObjectError> {
        use tokio::io::AsyncReadExt;
        let mut joined: ObjectReader = Box::pin(tokio::io::empty());
        for key in keys {
            joined = Box::pin(joined.chain(self.read(key).await?));
        }
        Ok(joined)
    }

    /// Begins a multipart upload that will become the object under `key`.
    pub async fn create_multipart(&self, key: &ObjectKey) -> Result<MultipartId, ObjectError> {
        match self {
            ObjectStore::S3(s) => {
                let (client, bucket) = s.client();
                let out = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key.as_str())
                    .send()
                    .await
                    .map_err(ObjectError::s3)?;
                let id = out.upload_id().unwrap_or_default();
                Ok(MultipartId(id.to_owned()))
            }
            ObjectStore::Dir(_) => Ok(MultipartId(uuid::Uuid::now_v7().simple().to_string())),
        }
    }

    /// Stores part `number` of the upload; it counts once this returns.
    /// Storing a number again replaces the part.
    pub async fn upload_part(
        &self,
        key: &ObjectKey,
        id: &MultipartId,
        number: u32,
        body: Bytes,
    ) -> Result<StoredPart, ObjectError> {
        let size = body.len() as u64;
        let etag = match self {
            ObjectStore::S3(s) => {
                let (client, bucket) = s.client();
                let out = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key.as_str())
                    .upload_id(&id.0)
                    .part_number(number as i32)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(ObjectError::s3)?;
                out.e_tag().unwrap_or_default().to_owned()
            }
            ObjectStore::Dir(d) => {
                d.put_bytes(&dir_part_key(id, number)?, body).await?;
                number.to_string()
            }
        };
        Ok(StoredPart { number, size, etag })
    }

    /// Joins `parts` (in order) into the object under `key`; parts stored but
    /// not listed are dropped.
    pub async fn complete_multipart(
        &self,
        key: &ObjectKey,
        id: &MultipartId,
        parts: &[StoredPart],
    ) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => {
                let (client, bucket) = s.client();
                let listed = parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.number as i32)
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect();
                let upload = CompletedMultipartUpload::builder()
                    .set_parts(Some(listed))
                    .build();
                client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key.as_str())
                    .upload_id(&id.0)
                    .multipart_upload(upload)
                    .send()
                    .await
                    .map_err(ObjectError::s3)?;
                Ok(())
            }
            ObjectStore::Dir(d) => {
                let keys = parts
                    .iter()
                    .map(|p| dir_part_key(id, p.number))
                    .collect::<Result<Vec<_>, _>>()?;
                let joined = self.read_joined(&keys).await?;
                match d.put_stream(key, joined, u64::MAX).await {
                    Ok(_) => self.abort_multipart(key, id).await,
                    Err(StreamError::Store(e)) => Err(e),
                    Err(e) => Err(ObjectError::Io(std::io::Error::other(e))),
                }
            }
        }
    }

    /// Drops the upload and every part stored for it; an upload already
    /// gone is not an error.
    pub async fn abort_multipart(
        &self,
        key: &ObjectKey,
        id: &MultipartId,
    ) -> Result<(), ObjectError> {
        match self {
            ObjectStore::S3(s) => {
                let (client, bucket) = s.client();
                let aborted = client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key.as_str())
                    .upload_id(&id.0)
                    .send()
                    .await;
                match aborted {
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|se| se.is_no_such_upload()) =>
                    {
                        Ok(())
                    }
                    other => other.map(drop).map_err(ObjectError::s3),
                }
            }
            ObjectStore::Dir(d) => {
                let prefix = ObjectKey::new(dir_prefix(id)).ok_or_else(|| {
                    ObjectError::S3(format!("not a multipart upload id: {}", id.0))
                })?;
                match tokio::fs::remove_dir_all(d.path_of(&prefix)).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                    _ => Ok(()),
                }
            }
        }
    }

    /// How many parts the store holds for the upload `id`; none once it was
    /// joined or aborted (S3 lists them; some servers answer a missing
    /// upload with an empty list, others with an error: both are none).
    pub async fn stored_parts(
        &self,
        key: &ObjectKey,
        id: &MultipartId,
    ) -> Result<usize, ObjectError> {
        match self {
            ObjectStore::S3(s) => {
                let (client, bucket) = s.client();
                let listed = client
                    .list_parts()
                    .bucket(bucket)
                    .key(key.as_str())
                    .upload_id(&id.0)
                    .send()
                    .await;
                match listed {
                    Ok(out) => Ok(out.parts().len()),
                    Err(e) if e.as_service_error().is_some() => Ok(0),
                    Err(e) => Err(ObjectError::s3(e)),
                }
            }
            ObjectStore::Dir(d) => {
                let prefix = ObjectKey::new(dir_prefix(id)).ok_or_else(|| {
                    ObjectError::S3(format!("not a multipart upload id: {}", id.0))
                })?;
                let mut entries = match tokio::fs::read_dir(d.path_of(&prefix)).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                    Err(e) => return Err(e.into()),
                };
                let mut count = 0;
                while entries.next_entry().await?.is_some() {
                    count += 1;
                }
                Ok(count)
            }
        }
    }
}
