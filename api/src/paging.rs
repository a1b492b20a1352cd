//! Pages of lists: the `limit` a client may ask for, and the `cursor` every
//! list hands out: the key of the last item of a page. Any key of the
//! list's kind is a place to go on from, so a cursor never goes stale and
//! the document can say exactly which cursors a list takes.

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

/// The place `cursor` names, read by `parse`.
pub(crate) fn place<T>(cursor: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(cursor).ok_or_else(|| {
        let message = "not a place in this list: pass a next_cursor back";
        ApiError::invalid_field(ErrorCode::InvalidField, "cursor", message)
    })
}
