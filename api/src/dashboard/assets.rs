//! The dashboard's script and style, built into the binary.

use poem::{IntoResponse, Response, handler};

const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

/// `GET /dashboard/assets/dashboard.js`.
#[handler]
pub(super) fn script() -> Response {
    SCRIPT
        .with_content_type("text/javascript; charset=utf-8")
        .into_response()
}

/// `GET /dashboard/assets/dashboard.css`.
#[handler]
pub(super) fn style() -> Response {
    STYLE
        .with_content_type("text/css; charset=utf-8")
        .into_response()
}
