//! The one error type of the API and its JSON shape:
//! `{"error": {"code": "snake_case", "message": "…", "field": "…"}}`.

use poem::{
    Response,
    error::ResponseError,
    http::{StatusCode, header},
};
use serde_json::json;
use tracing::error;

/// An answer that is not a success, with a stable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a stable code and a sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// A 422 that names the field at fault.
    pub fn invalid_field(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }

    /// The 404 for anything the tenant may not see, so ids cannot be probed.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// A failure of a store behind the API: logged here, hidden from the client.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        error!(error = %err, "store failure");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a backing service is unavailable; try again",
        )
    }

    /// The same error telling the client to come back in `seconds`.
    pub fn retry_after(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
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
    let status = err.status();
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED => ("unauthorized", "missing or unknown API key".to_owned()),
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", err.to_string()),
        s if s.is_client_error() => ("invalid_request", err.to_string()),
        _ => {
            error!(error = %err, "unexpected error");
            ("internal_error", "internal error".to_owned())
        }
    };
    ApiError::new(status, code, message)
}
