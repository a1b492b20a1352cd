//! The one error type of the API and its JSON shape:
//! `{"error": {"code": "snake_case", "message": "…", "field": "…"}}`. The
//! code comes from the catalogue, and with it the HTTP status.

use mixdown_jobs::{codes::ErrorCode, db::StoreError, payload::PayloadError};
use poem::{
    Response,
    error::ResponseError,
    http::{StatusCode, header},
};
use poem_openapi::error::ParseParamError;
use serde_json::json;
use tracing::error;

/// An answer that is not a success, with a stable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    field: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a catalogue code (which fixes the status) and a sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = code
            .http_status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            // A code that only ever ends jobs has no answer of its own.
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// An error that names the field at fault.
    pub fn invalid_field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(code, message)
        }
    }

    /// The 404 for anything the tenant may not see, so ids cannot be probed.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    /// A failure of a store behind the API: logged here, hidden from the client.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        error!(error = %err, "store failure");
        Self::new(
            ErrorCode::Unavailable,
            "a backing service is unavailable; try again",
        )
    }

    /// The answer to a store's refusal: a key used for another request (or
    /// another body) is the client's mistake; anything else is the store's
    /// failure.
    pub fn from_store(err: StoreError) -> Self {
        match err {
            StoreError::KeyReused { .. } => Self::invalid_field(
                ErrorCode::IdempotencyKeyReused,
                "Idempotency-Key",
                "was used before for another request",
            ),
            other => Self::unavailable(other),
        }
    }

    /// The same error telling the client to come back in `seconds`.
    pub fn retry_after(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// The same error about a part of a larger request: its field (or the
    /// part itself, when none was named) under `part`, e.g. `jobs[17]`.
    pub fn within(self, part: &str) -> Self {
        let field = match &self.field {
            Some(field) => format!("{part}.{field}"),
            None => part.to_owned(),
        };
        Self {
            field: Some(field),
            ..self
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl From<PayloadError> for ApiError {
    fn from(err: PayloadError) -> Self {
        Self::invalid_field(ErrorCode::InvalidPayload, &err.field, err.message)
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let mut body = json!({"code": self.code.as_str(), "message": self.message});
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        let mut builder = Response::builder()
            .status(self.status)
            .content_type("application/json");
        if self.status == StatusCode::UNAUTHORIZED {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
        }
        if let Some(seconds) = self.retry_after {
            builder = builder.header(header::RETRY_AFTER, seconds);
        }
        builder.body(json!({ "error": body }).to_string())
    }
}

/// Turns any error poem or poem-openapi raised (bad parameter, unknown route,
/// wrong method, missing key, …) into the API's error shape.
pub fn to_api_error(err: poem::Error) -> ApiError {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.clone();
    }
    // A parameter outside what the document allows is a field at fault.
    if let Some(param) = err.downcast_ref::<ParseParamError>() {
        return ApiError::invalid_field(ErrorCode::InvalidField, param.name, &param.reason);
    }
    let status = err.status();
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthorized, "missing or unknown API key".into()),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource".into()),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "request body too large".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, err.to_string()),
        s if s.is_client_error() => (ErrorCode::InvalidRequest, err.to_string()),
        _ => {
            error!(error = %err, "unexpected error");
            (ErrorCode::InternalError, "internal error".to_owned())
        }
    };
    // The HTTP layer's own status stands: an odd 4xx stays what it was.
    ApiError {
        status,
        ..ApiError::new(code, message)
    }
}
