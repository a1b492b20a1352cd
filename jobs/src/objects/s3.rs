//! Objects in an S3 bucket, addressed path-style so any S3-compatible server works.

use std::{ops::Range, path::Path, time::Duration};

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    presigning::PresigningConfig,
    primitives::ByteStream,
};
use bytes::Bytes;
use mixdown_settings::Secret;

use super::{Listed, ObjectError, ObjectKey, ObjectMeta, ObjectReader, StreamError, copy_bounded};

/// Where the bucket is and how to sign requests to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible server; `None` means AWS itself.
    pub endpoint: Option<String>,
    /// The bucket holding every object.
    pub bucket: String,
    /// The signing region.
    pub region: String,
    /// Static credentials (access key id, secret key); `None` uses the
    /// standard AWS credential chain.
    pub credentials: Option<(String, Secret<String>)>,
}

/// A bucket of objects.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// A client for the bucket (no request is sent yet).
    pub async fn connect(settings: &S3Settings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()));
        if let Some((id, secret)) = &settings.credentials {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret.expose(),
                None,
                None,
                "mixdown",
            ));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: settings.bucket.clone(),
        }
    }

    /// Creates the bucket unless it exists (for tests and first starts).
    pub async fn ensure_bucket(&self) -> Result<(), ObjectError> {
        if self.ping().await.is_ok() {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(ObjectError::s3)?;
        Ok(())
    }

    /// The client and its bucket, for the multipart calls kept beside this module.
    pub(super) fn client(&self) -> (&Client, &str) {
        (&self.client, &self.bucket)
    }

    pub(super) async fn put_bytes(&self, key: &ObjectKey, body: Bytes) -> Result<(), ObjectError> {
        self.put(key, ByteStream::from(body)).await
    }

    pub(super) async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), ObjectError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| ObjectError::Io(std::io::Error::other(e)))?;
        self.put(key, body).await
    }

    /// Spools the body to a temporary file first: a PUT needs its length
    /// up front, and the limit must hold before anything reaches the bucket.
    pub(super) async fn put_stream(
        &self,
        key: &ObjectKey,
        body: impl tokio::io::AsyncRead + Unpin,
        limit: u64,
    ) -> Result<u64, StreamError> {
        let spool = tempfile::NamedTempFile::new().map_err(ObjectError::Io)?;
        let mut file = tokio::fs::File::from_std(spool.reopen().map_err(ObjectError::Io)?);
        let size = copy_bounded(body, &mut file, limit).await?;
        drop(file);
        self.put_file(key, spool.path()).await?;
        Ok(size)
    }

    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(body)
            .send()
            .await
            .map_err(ObjectError::s3)?;
        Ok(())
    }

    pub(super) async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, ObjectError> {
        let out = self.get(key, None).await?;
        let data = out.body.collect().await.map_err(ObjectError::s3)?;
        Ok(data.into_bytes())
    }

    pub(super) async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, ObjectError> {
        Ok(Box::pin(self.get(key, None).await?.body.into_async_read()))
    }

    pub(super) async fn read_range(
        &self,
        key: &ObjectKey,
        range: Range<u64>,
    ) -> Result<ObjectReader, ObjectError> {
        if range.is_empty() {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let bytes = format!("bytes={}-{}", range.start, range.end - 1);
        let out = self.get(key, Some(bytes)).await?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    /// The object, or the part `range` (a `Range` header's value) names.
    async fn get(
        &self,
        key: &ObjectKey,
        range: Option<String>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ObjectError> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_range(range)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_no_such_key() => ObjectError::NotFound(key.clone()),
                _ => ObjectError::s3(e),
            })
    }

    pub(super) async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match head {
            Ok(out) => Ok(Some(ObjectMeta {
                size: out.content_length().map_or(0, |n| n.max(0) as u64),
                modified: out
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .unwrap_or(std::time::UNIX_EPOCH),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) => Err(ObjectError::s3(e)),
        }
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(ObjectError::s3)?;
        Ok(())
    }

    /// A copy then a delete: S3 has no rename. A single copy takes objects
    /// up to 5 GiB, above the largest upload accepted by default.
    pub(super) async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), ObjectError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to.as_str())
            .send()
            .await
            .map_err(ObjectError::s3)?;
        self.delete(from).await
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{prefix}/"))
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            for object in page.map_err(ObjectError::s3)?.contents() {
                let Some(key) = object.key().and_then(ObjectKey::new) else {
                    continue;
                };
                let modified = object
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .unwrap_or(std::time::UNIX_EPOCH);
                let size = object.size().map_or(0, |n| n.max(0) as u64);
                listed.push(Listed {
                    key,
                    meta: ObjectMeta { size, modified },
                });
            }
        }
        Ok(listed)
    }

    pub(super) async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, ObjectError> {
        let config = PresigningConfig::expires_in(ttl).map_err(ObjectError::s3)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(ObjectError::s3)?;
        Ok(req.uri().to_owned())
    }

    pub(super) async fn presign_put(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, ObjectError> {
        let config = PresigningConfig::expires_in(ttl).map_err(ObjectError::s3)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(ObjectError::s3)?;
        Ok(req.uri().to_owned())
    }

    pub(super) async fn ping(&self) -> Result<(), ObjectError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(ObjectError::s3)?;
        Ok(())
    }
}
