//! A strict JSON request body: documented through poem-openapi, parsed with
//! serde so that every error names the field at fault, and bounded in size.

use std::marker::PhantomData;

use mixdown_jobs::codes::ErrorCode;
use poem::{Request, RequestBody, error::ReadBodyError};
use poem_openapi::{
    payload::{ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use crate::{error::ApiError, settings::ApiSettings, state::AppState};

/// A JSON body parsed into `T`, at most as large as `L` allows.
#[derive(Debug)]
pub struct StrictJson<T, L = OneRequest>(pub T, pub PhantomData<L>);

/// How large a JSON body may be, from the API's settings.
pub trait BodyLimit: Send + Sync {
    /// The largest body, in bytes.
    fn bytes(settings: &ApiSettings) -> usize;
}

/// The limit of a request about one thing: `max_json_bytes`.
#[derive(Debug)]
pub struct OneRequest;

impl BodyLimit for OneRequest {
    fn bytes(settings: &ApiSettings) -> usize {
        settings.max_json_bytes
    }
}

/// The limit of a batch of jobs: `max_batch_bytes`.
#[derive(Debug)]
pub struct Batch;

impl BodyLimit for Batch {
    fn bytes(settings: &ApiSettings) -> usize {
        settings.max_batch_bytes
    }
}

impl<T: Type, L: BodyLimit> Payload for StrictJson<T, L> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.split(';').next().is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
        })
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned, L: BodyLimit> ParsePayload for StrictJson<T, L> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let limit = request
            .data::<AppState>()
            .map_or(1 << 20, |s| L::bytes(&s.settings));
        let bytes = body
            .take()?
            .into_bytes_limit(limit)
            .await
            .map_err(|e| match e {
                ReadBodyError::PayloadTooLarge => ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("request body exceeds {limit} bytes"),
                ),
                other => ApiError::new(ErrorCode::InvalidBody, other.to_string()),
            })?;
        Ok(Self(parse(&bytes)?, PhantomData))
    }
}

poem_openapi::impl_apirequest_for_payload!(StrictJson<T, L>, T: Type + DeserializeOwned, L: BodyLimit);

/// Syntax errors are 400 `invalid_json`; a well-formed body of the wrong
/// shape is 422 `invalid_field` naming the field.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would read a struct from an array too.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            let message = "the body must be a JSON object";
            return Err(ApiError::invalid_field(
                ErrorCode::InvalidField,
                "body",
                message,
            ));
        }
        None => return Err(ApiError::new(ErrorCode::InvalidJson, "the body is empty")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(ErrorCode::InvalidJson, inner.to_string())
        } else {
            let field = if path == "." { "body" } else { path.as_str() };
            ApiError::invalid_field(ErrorCode::InvalidField, field, inner.to_string())
        }
    })?;
    de.end()
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        kind: String,
        priority: Option<i64>,
    }

    #[test]
    fn broken_json_is_a_400() {
        let err = parse::<Body>(b"{\"kind\": ").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidJson);
    }

    #[test]
    fn a_wrong_type_is_a_422_naming_the_field() {
        let err = parse::<Body>(br#"{"kind": "noop", "priority": "high"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidField);
        assert_eq!(err.field(), Some("priority"));
    }

    #[test]
    fn only_an_object_is_a_body() {
        let err = parse::<Body>(b" [\"noop\", null]").unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            (ErrorCode::InvalidField, Some("body"))
        );
        assert_eq!(
            parse::<Body>(b"  ").unwrap_err().code(),
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let err = parse::<Body>(br#"{"kind": "noop"} x"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidJson);
    }
}
