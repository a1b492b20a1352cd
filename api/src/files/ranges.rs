//! What part of an object a GET answers, from its request headers and the
//! object's validators: conditional requests (RFC 9110 §13) and one byte
//! range (RFC 9110 §14). Several ranges in one request are answered with
//! the whole object, which the RFC allows and which spares a multipart body
//! no audio player asks for.

use std::{
    ops::Range,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use poem::http::{HeaderMap, header};

/// What identifies one version of an object: a strong entity tag and the
/// time of writing, to the second as HTTP dates carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Validators {
    /// The entity tag, quotes included.
    pub etag: String,
    /// The time of writing, cut to whole seconds.
    pub modified: SystemTime,
}

impl Validators {
    /// The validators of an object of `size` bytes written at `modified`:
    /// a rewrite changes the time, and nearly always the size too.
    pub fn of(size: u64, modified: SystemTime) -> Self {
        let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self {
            etag: format!(
                "\"{size:x}-{:x}-{:x}\"",
                since.as_secs(),
                since.subsec_nanos()
            ),
            modified: UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        }
    }

    /// `Last-Modified`'s value.
    pub fn last_modified(&self) -> String {
        httpdate::fmt_http_date(self.modified)
    }
}

/// How to answer a GET of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// 304: the client's copy is current.
    NotModified,
    /// 200 with the whole object.
    Full,
    /// 206 with these bytes.
    Partial(Range<u64>),
    /// 416: the one range asked for starts past the end.
    Unsatisfiable,
}

/// The answer to a GET with `headers` of an object of `size` bytes.
pub(super) fn answer(headers: &HeaderMap, object: &Validators, size: u64) -> Answer {
    if !modified_since_copy(headers, object) {
        return Answer::NotModified;
    }
    let Some(range) = header_text(headers, header::RANGE) else {
        return Answer::Full;
    };
    if !if_range_holds(headers, object) {
        return Answer::Full;
    }
    match parse_range(range) {
        Some(spec) => spec.within(size),
        None => Answer::Full,
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// False when `If-None-Match` names the object's tag (weakly compared), or,
/// without it, when `If-Modified-Since` is no earlier than the object.
fn modified_since_copy(headers: &HeaderMap, object: &Validators) -> bool {
    if let Some(tags) = header_text(headers, header::IF_NONE_MATCH) {
        let ours = object.etag.as_str();
        return !tags
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours);
    }
    let since = header_text(headers, header::IF_MODIFIED_SINCE)
        .and_then(|text| httpdate::parse_http_date(text).ok());
    since.is_none_or(|since| object.modified > since)
}

/// Whether a `Range` may be honoured: no `If-Range`, or one naming the
/// object's tag (strongly compared) or exactly its time of writing.
fn if_range_holds(headers: &HeaderMap, object: &Validators) -> bool {
    let Some(condition) = header_text(headers, header::IF_RANGE) else {
        return true;
    };
    let condition = condition.trim();
    if condition.starts_with('"') || condition.starts_with("W/") {
        return condition == object.etag;
    }
    httpdate::parse_http_date(condition).is_ok_and(|date| date == object.modified)
}

/// One range of a `Range` header, before the object's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl Spec {
    fn within(self, size: u64) -> Answer {
        let range = match self {
            Spec::From { first, last } if first < size => {
                let end = last.map_or(size, |last| last.saturating_add(1).min(size));
                first..end
            }
            Spec::Suffix(n) if n > 0 && size > 0 => size.saturating_sub(n)..size,
            _ => return Answer::Unsatisfiable,
        };
        Answer::Partial(range)
    }
}

/// The single range of a `Range` header's value; `None` for another unit,
/// bad syntax or several ranges, which are all answered in full.
fn parse_range(value: &str) -> Option<Spec> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse().ok()).flatten()
    };
    if first.trim().is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    let last = match last.trim() {
        "" => None,
        text => Some(number(text).filter(|&last| last >= first)?),
    };
    Some(Spec::From { first, last })
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::*;

    const SIZE: u64 = 1000;

    fn object() -> Validators {
        Validators::of(SIZE, UNIX_EPOCH + Duration::from_millis(1_800_000_000_250))
    }

    fn answer_to(pairs: &[(header::HeaderName, &str)]) -> Answer {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        answer(&headers, &object(), SIZE)
    }

    fn range(value: &str) -> Answer {
        answer_to(&[(header::RANGE, value)])
    }

    #[test]
    fn single_ranges_resolve_against_the_size() {
        assert_eq!(range("bytes=0-0"), Answer::Partial(0..1));
        assert_eq!(range("bytes=100-199"), Answer::Partial(100..200));
        assert_eq!(range("bytes=100-"), Answer::Partial(100..SIZE));
        assert_eq!(range("bytes=-100"), Answer::Partial(900..SIZE));
        assert_eq!(range("bytes=-5000"), Answer::Partial(0..SIZE));
        assert_eq!(range("bytes=990-5000"), Answer::Partial(990..SIZE));
        assert_eq!(range("Bytes = 5-9"), Answer::Partial(5..10));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(range("bytes=1000-"), Answer::Unsatisfiable);
        assert_eq!(range("bytes=2000-3000"), Answer::Unsatisfiable);
        assert_eq!(range("bytes=-0"), Answer::Unsatisfiable);
    }

    #[test]
    fn odd_or_several_ranges_are_answered_in_full() {
        for value in [
            "bytes=0-1,5-9",
            "items=0-9",
            "bytes=9-5",
            "bytes=a-",
            "bytes=-",
            "bytes",
            "bytes=+1-2",
        ] {
            assert_eq!(range(value), Answer::Full, "{value}");
        }
    }

    #[test]
    fn a_matching_tag_or_a_later_date_means_not_modified() {
        let tag = object().etag;
        assert_eq!(
            answer_to(&[(header::IF_NONE_MATCH, &tag)]),
            Answer::NotModified
        );
        let weak_among_others = format!("\"other\", W/{tag}");
        assert_eq!(
            answer_to(&[(header::IF_NONE_MATCH, &weak_among_others)]),
            Answer::NotModified
        );
        assert_eq!(
            answer_to(&[(header::IF_NONE_MATCH, "\"other\"")]),
            Answer::Full
        );
        let date = object().last_modified();
        assert_eq!(
            answer_to(&[(header::IF_MODIFIED_SINCE, &date)]),
            Answer::NotModified
        );
        let earlier = httpdate::fmt_http_date(object().modified - Duration::from_secs(1));
        assert_eq!(
            answer_to(&[(header::IF_MODIFIED_SINCE, &earlier)]),
            Answer::Full
        );
        // A tag that does not match outweighs a date that would.
        assert_eq!(
            answer_to(&[
                (header::IF_NONE_MATCH, "\"other\""),
                (header::IF_MODIFIED_SINCE, &date)
            ]),
            Answer::Full
        );
    }

    #[test]
    fn if_range_keeps_the_range_only_for_the_same_version() {
        let tag = object().etag;
        let date = object().last_modified();
        let with = |condition: &str| {
            answer_to(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, condition)])
        };
        assert_eq!(with(&tag), Answer::Partial(0..10));
        assert_eq!(with(&date), Answer::Partial(0..10));
        assert_eq!(with(&format!("W/{tag}")), Answer::Full);
        assert_eq!(with("\"other\""), Answer::Full);
        assert_eq!(with("Thu, 01 Jan 1970 00:00:00 GMT"), Answer::Full);
    }
}
