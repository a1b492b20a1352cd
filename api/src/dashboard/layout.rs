//! The frame every dashboard page shares, the sign-in form, refusals, and
//! the small pieces pages are made of (times, action forms). Every value is
//! spliced through maud, which escapes it: job payloads are the tenants'.

use std::time::Duration;

use maud::{DOCTYPE, Markup, html};
use mixdown_jobs::time::Timestamp;
use poem::{IntoResponse, Response, error::ResponseError};

use super::session::Session;
use crate::error::ApiError;

/// A rendered page as an answer.
pub(super) fn html(page: Markup) -> Response {
    page.into_string()
        .with_content_type("text/html; charset=utf-8")
        .into_response()
}

/// A whole page: the header with the operator's sign-out, then `main`.
/// `live` marks the part the script refreshes.
pub(super) fn page(title: &str, session: Option<&Session>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Mixdown" }
                // No icon to fetch: a missing one is an error in the console.
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/dashboard/assets/dashboard.css";
                script src="/dashboard/assets/dashboard.js" defer {}
            }
            body {
                header {
                    a.brand href="/dashboard" { "Mixdown operations" }
                    @if let Some(session) = session {
                        span.who { "Signed in as " strong { (session.operator) } }
                        form.inline method="post" action="/dashboard/session/end" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (main) }
            }
        }
    }
}

/// The sign-in form, under the refusal of the last attempt if there was one.
pub(super) fn sign_in(error: Option<&ApiError>) -> Markup {
    let main = html! {
        h1 { "Sign in" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.sign-in method="post" action="/dashboard/session" {
            label for="key" { "Operator key" }
            input #key type="password" name="key" autocomplete="off" required
                placeholder="mdo_…";
            button type="submit" { "Sign in" }
        }
        p.hint { "Keys are made with " code { "mixdown keys create --operator NAME" } "." }
    };
    page("Sign in", None, main)
}

/// The sign-in page refusing `error`, with its status.
pub(super) fn refused(error: &ApiError) -> Response {
    let mut resp = html(sign_in(Some(error)));
    resp.set_status(error.status());
    resp
}

/// A page telling the signed-in operator why their request failed.
pub(super) fn problem(session: &Session, error: &ApiError) -> Response {
    let main = html! {
        h1 { "Not done" }
        p.error role="alert" { (error) }
        p { a href="/dashboard" { "Back to the overview" } }
    };
    let mut resp = html(page("Not done", Some(session), main));
    resp.set_status(error.status());
    resp
}

/// An instant as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(super) fn time(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    text.get(..19).unwrap_or(&text).replace('T', " ")
}

/// A duration to read at a glance: `42 s`, `7 min`, `3 h`, `2 d`.
pub(super) fn span(d: Duration) -> String {
    match d.as_secs() {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// A button posting `fields` to `action` with the session's token; the
/// answer leads back to `back`. `confirm` is asked before it is sent.
pub(super) fn action(
    session: &Session,
    action: &str,
    label: &str,
    back: &str,
    fields: &[(&str, &str)],
    confirm: Option<&str>,
) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="back" value=(back);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_largest_fitting_unit() {
        assert_eq!(span(Duration::from_secs(5)), "5 s");
        assert_eq!(span(Duration::from_secs(600)), "10 min");
        assert_eq!(span(Duration::from_secs(3 * 3600)), "3 h");
        assert_eq!(span(Duration::from_secs(3 * 86_400)), "3 d");
    }

    #[test]
    fn times_show_to_the_second_in_utc() {
        assert_eq!(
            time(Timestamp::from_millis(1_700_000_000_123)),
            "2023-11-14 22:13:20"
        );
    }
}
