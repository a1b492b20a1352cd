//! Uploads: a multipart body read part by part as it arrives, and any upload
//! body streamed to the object store under a size limit. Voice samples use
//! both; a raw track upload needs only [`store_upload`].

use std::marker::PhantomData;

use mixdown_jobs::{
    codes::ErrorCode,
    objects::{ObjectKey, StreamError},
};
use poem::{
    FromRequest, Request, RequestBody,
    web::{Field, Multipart},
};
use poem_openapi::{
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::warn;

use crate::{error::ApiError, state::AppState};

/// The parts a streamed form takes, for the OpenAPI document.
pub(crate) trait FormSchema: Send + Sync + 'static {
    /// The form's schema: an object whose binary properties are files.
    fn schema() -> MetaSchema;
}

/// A `multipart/form-data` body handed to the endpoint unread, so each file
/// part can go straight to the object store as it arrives.
pub(crate) struct StreamedForm<F> {
    parts: Multipart,
    form: PhantomData<F>,
}

impl<F: FormSchema> Payload for StreamedForm<F> {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(F::schema()))
    }

    fn register(_registry: &mut Registry) {}
}

impl<F: FormSchema> ParsePayload for StreamedForm<F> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let parts = Multipart::from_request(request, body).await?;
        Ok(Self {
            parts,
            form: PhantomData,
        })
    }
}

poem_openapi::impl_apirequest_for_payload!(StreamedForm<F>, F: FormSchema);

impl<F> StreamedForm<F> {
    /// The next part, or `None` after the last.
    pub async fn next_part(&mut self) -> Result<Option<Field>, ApiError> {
        self.parts
            .next_field()
            .await
            .map_err(|e| invalid_multipart(e.to_string()))
    }
}

fn invalid_multipart(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidMultipart, message)
}

/// A binary (file) property of a form schema.
pub(crate) fn file_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")))
}

/// A text part, refused past `limit` bytes or when not UTF-8.
pub(crate) async fn read_text(field: Field, limit: usize) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    let mut reader = Box::pin(field.into_async_read()).take(limit as u64 + 1);
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| invalid_multipart(e.to_string()))?;
    if bytes.len() > limit {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("a text part exceeds {limit} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| invalid_multipart("a text part is not UTF-8".into()))
}

/// Streams an upload body (a raw request body or one file part) to `key`,
/// at most `limit` bytes; nothing is left under the key when it fails.
pub(crate) async fn store_upload(
    state: &AppState,
    key: &ObjectKey,
    body: impl AsyncRead + Send,
    limit: u64,
) -> Result<u64, ApiError> {
    let body = Box::pin(body);
    state
        .stores
        .objects
        .put_stream(key, body, limit)
        .await
        .map_err(|e| match e {
            StreamError::TooLarge { limit } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("an upload exceeds {limit} bytes"),
            ),
            StreamError::Read(e) => {
                ApiError::new(ErrorCode::InvalidBody, format!("the upload broke off: {e}"))
            }
            StreamError::Store(e) => ApiError::unavailable(e),
        })
}

/// Deletes uploads a rejected request had stored; what cannot be deleted is
/// logged (its key names no user, and nothing refers to it).
pub(crate) async fn discard(state: &AppState, keys: &[ObjectKey]) {
    for key in keys {
        if let Err(err) = state.stores.objects.delete(key).await {
            warn!(key = %key, error = %err, "rejected upload not deleted");
        }
    }
}
