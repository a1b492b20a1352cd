//! The tus 1.0 headers: parsed from requests into typed values, and the
//! ones every answer carries.

use base64::{Engine, engine::general_purpose::STANDARD};
use mixdown_jobs::{codes::ErrorCode, ids::TrackId, time::Timestamp};
use poem::{Request, http::HeaderValue};
use sha1::Digest;

use crate::error::ApiError;

/// The protocol version spoken.
pub(crate) const TUS_VERSION: &str = "1.0.0";
/// The extensions served.
pub(crate) const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,\
     expiration,checksum,termination,concatenation";
/// The algorithms `Upload-Checksum` may name.
pub(crate) const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// The content type of a PATCH body.
pub(crate) const OFFSET_STREAM: &str = "application/offset+octet-stream";

fn invalid(header: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_field(ErrorCode::InvalidRequest, header, message)
}

/// The value of header `name`, if present and text.
pub(crate) fn text<'a>(req: &'a Request, name: &str) -> Result<Option<&'a str>, ApiError> {
    match req.headers().get(name) {
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| invalid(name, "is not ASCII text")),
        None => Ok(None),
    }
}

/// Refuses a request that does not speak tus 1.0.0 (412).
pub(crate) fn require_version(req: &Request) -> Result<(), ApiError> {
    match text(req, "Tus-Resumable") {
        Ok(Some(TUS_VERSION)) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::TusVersionUnsupported,
            format!("send Tus-Resumable: {TUS_VERSION}"),
        )),
    }
}

/// A non-negative integer header such as `Upload-Length` or `Upload-Offset`.
pub(crate) fn number(req: &Request, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(value) = text(req, name)? else {
        return Ok(None);
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(name, "must be a non-negative integer"));
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| invalid(name, "is too large"))
}

/// The pairs of `Upload-Metadata`: keys, and values base64-decoded to UTF-8.
pub(crate) fn metadata(raw: &str) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let mut words = item.split(' ').filter(|w| !w.is_empty());
        let key = words.next().unwrap_or_default();
        let value = words.next();
        if words.next().is_some() || pairs.iter().any(|(k, _)| k == key) {
            return Err(invalid(
                "Upload-Metadata",
                format!("{key:?} is given twice or has more than one value"),
            ));
        }
        let value = value
            .map(|v| {
                let bytes = STANDARD.decode(v).ok();
                bytes
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        invalid(
                            "Upload-Metadata",
                            format!("the value of {key:?} is not base64 of UTF-8 text"),
                        )
                    })
            })
            .transpose()?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// What `Upload-Concat` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Concat {
    /// A piece of a later final upload.
    Partial,
    /// The joining of these partial uploads, in order.
    Final(Vec<TrackId>),
}

/// `Upload-Concat`: `partial`, or `final;` and the partial uploads' URLs.
pub(crate) fn concat(req: &Request) -> Result<Option<Concat>, ApiError> {
    let Some(value) = text(req, "Upload-Concat")? else {
        return Ok(None);
    };
    if value == "partial" {
        return Ok(Some(Concat::Partial));
    }
    let Some(urls) = value.strip_prefix("final;") else {
        return Err(invalid("Upload-Concat", "must be partial or final;URL…"));
    };
    let ids = urls
        .split(' ')
        .filter(|u| !u.is_empty())
        .map(|url| {
            let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            let known = url.contains("/uploads/tus/");
            TrackId::parse(id)
                .filter(|_| known)
                .ok_or_else(|| invalid("Upload-Concat", format!("{url:?} is no upload's URL")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(invalid("Upload-Concat", "names no partial upload"));
    }
    Ok(Some(Concat::Final(ids)))
}

/// A running checksum of a PATCH body, and the digest it must end with.
#[derive(Debug, Clone)]
pub(crate) struct Checksum {
    hasher: Hasher,
    expected: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksum {
    /// `Upload-Checksum: ALGORITHM BASE64`, if sent.
    pub(crate) fn from_request(req: &Request) -> Result<Option<Self>, ApiError> {
        let Some(value) = text(req, "Upload-Checksum")? else {
            return Ok(None);
        };
        let (name, digest) = value.split_once(' ').unwrap_or((value, ""));
        let hasher = match name {
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            _ => {
                let message = format!("takes {CHECKSUM_ALGORITHMS}, not {name:?}");
                return Err(invalid("Upload-Checksum", message));
            }
        };
        let expected = STANDARD
            .decode(digest.trim())
            .map_err(|_| invalid("Upload-Checksum", "the digest is not base64"))?;
        Ok(Some(Self { hasher, expected }))
    }

    /// Feeds body bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// Whether the bytes fed match the digest sent.
    pub(crate) fn matches(self) -> bool {
        let digest = match self.hasher {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        };
        digest == self.expected
    }
}

/// An instant as `Upload-Expires` writes it (RFC 7231).
pub(crate) fn http_date(at: Timestamp) -> HeaderValue {
    let time = at.to_system_time();
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_and_keys_may_go_without_value() {
        let pairs =
            metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("filename".into(), Some("world_domination_plan.pdf".into())),
                ("is_confidential".into(), None)
            ]
        );
        assert!(metadata("a !!!").is_err());
        assert!(metadata("a YQ==,a Yg==").is_err());
    }

    #[test]
    fn final_concat_names_partial_uploads_by_url() {
        let a = TrackId::new();
        let b = TrackId::new();
        let value = format!("final;/v1/uploads/tus/{a} http://h/v1/uploads/tus/{b}");
        let req = Request::builder().header("Upload-Concat", value).finish();
        assert_eq!(concat(&req).unwrap(), Some(Concat::Final(vec![a, b])));
        let bad = Request::builder()
            .header("Upload-Concat", format!("final;/v1/jobs/{a}"))
            .finish();
        assert!(concat(&bad).is_err());
    }

    #[test]
    fn checksums_match_only_their_digest() {
        // sha1("hello") and sha256("hello"), base64.
        for (header, ok) in [
            ("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=", true),
            ("sha256 LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", true),
            ("sha1 LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", false),
        ] {
            let req = Request::builder()
                .header("Upload-Checksum", header)
                .finish();
            let mut sum = Checksum::from_request(&req).unwrap().unwrap();
            sum.update(b"hel");
            sum.update(b"lo");
            assert_eq!(sum.matches(), ok, "{header}");
        }
        let md5 = Request::builder()
            .header("Upload-Checksum", "md5 AAAA")
            .finish();
        assert!(Checksum::from_request(&md5).is_err());
    }
}
