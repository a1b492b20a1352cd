//! Pages of lists: the `limit` a client may ask for, and the opaque
//! `cursor` every list hands out (base64url of a place in the list).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mixdown_jobs::codes::ErrorCode;

use crate::error::ApiError;

/// Most items on one page.
const MAX_PAGE: u32 = 500;

/// The page size asked for, or `default`; 1 to 500.
pub(crate) fn limit(asked: Option<u32>, default: u32) -> Result<u32, ApiError> {
    let limit = asked.unwrap_or(default);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        let message = format!("must be between 1 and {MAX_PAGE}");
        Err(ApiError::invalid_field(
            ErrorCode::InvalidField,
            "limit",
            message,
        ))
    }
}

/// The cursor of the place `place`.
pub(crate) fn cursor(place: &str) -> String {
    URL_SAFE_NO_PAD.encode(place)
}

/// The place a cursor this API gave out names, read by `parse`.
pub(crate) fn place<T>(cursor: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| parse(&text))
        .ok_or_else(|| {
            let message = "not a cursor this API gave out";
            ApiError::invalid_field(ErrorCode::InvalidField, "cursor", message)
        })
}
