//! What an `http` job sends: where, how, with which headers and body, and
//! how long it waits for the answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::headers::Headers;

/// Longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// Largest body a job may send.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Shortest and longest a job may wait for its answer, milliseconds.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
/// How long a job waits for its answer unless it says.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// An `http` job's request. `S` is its secret headers: in clear as the client
/// submits them ([`super::SecretHeaders`]), sealed as they are stored
/// ([`super::SealedHeaders`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(deserialize = "S: Deserialize<'de> + Default")
)]
pub struct HttpJob<S> {
    /// Where the request goes.
    pub url: TargetUrl,
    /// Its method; POST unless said.
    #[serde(default)]
    pub method: Method,
    /// Headers sent as they are, and shown as they are.
    #[serde(default)]
    pub headers: Headers,
    /// The body, text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// Headers never shown back (an OAuth token).
    #[serde(default)]
    pub secret_headers: S,
    /// How long the receiver has to answer, body included.
    #[serde(default)]
    pub timeout_ms: RequestTimeout,
}

impl<S> HttpJob<S> {
    /// The same request with its secret headers in another form.
    pub fn with_secrets<T>(self, secret_headers: T) -> HttpJob<T> {
        HttpJob {
            url: self.url,
            method: self.method,
            headers: self.headers,
            body: self.body,
            secret_headers,
            timeout_ms: self.timeout_ms,
        }
    }

    /// The body's bytes; none for no body.
    pub fn body_bytes(&self) -> &[u8] {
        self.body.as_ref().map_or(&[], |b| b.0.as_bytes())
    }
}

/// An absolute http(s) URL with a host and no credentials (those belong in
/// secret headers, not in a URL that is shown and logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetUrl(Url);

impl TargetUrl {
    /// The URL.
    pub fn get(&self) -> &Url {
        &self.0
    }

    /// Scheme, host and port: what the per-destination limit counts.
    pub fn destination(&self) -> String {
        let port = self.0.port_or_known_default().unwrap_or_default();
        let host = self.0.host_str().unwrap_or_default();
        format!("{}://{host}:{port}", self.0.scheme())
    }
}

impl TryFrom<String> for TargetUrl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.len() > MAX_URL_BYTES {
            return Err(format!("must be at most {MAX_URL_BYTES} bytes"));
        }
        let url = Url::parse(&text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err("must be an http or https URL with a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials: send them as secret_headers".into());
        }
        Ok(Self(url))
    }
}

impl From<TargetUrl> for String {
    fn from(url: TargetUrl) -> String {
        url.0.into()
    }
}

/// The methods a job may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET (no body).
    Get,
    /// HEAD (no body).
    Head,
    /// POST.
    #[default]
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether a request of this method may carry a body.
    pub fn takes_body(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// A body of at most [`MAX_BODY_BYTES`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Body(String);

impl TryFrom<String> for Body {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.len() > MAX_BODY_BYTES {
            return Err(format!("must be at most {MAX_BODY_BYTES} bytes"));
        }
        Ok(Self(text))
    }
}

impl From<Body> for String {
    fn from(body: Body) -> String {
        body.0
    }
}

impl std::fmt::Debug for Body {
    /// Its size only: a body may be long, and logs need not repeat it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Body({} bytes)", self.0.len())
    }
}

/// How long a receiver has to answer: within [`TIMEOUT_RANGE_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct RequestTimeout(u64);

impl RequestTimeout {
    /// The time.
    pub fn get(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

impl Default for RequestTimeout {
    fn default() -> Self {
        Self(DEFAULT_TIMEOUT_MS)
    }
}

impl TryFrom<u64> for RequestTimeout {
    type Error = String;

    fn try_from(ms: u64) -> Result<Self, String> {
        if TIMEOUT_RANGE_MS.contains(&ms) {
            Ok(Self(ms))
        } else {
            let (lo, hi) = TIMEOUT_RANGE_MS.into_inner();
            Err(format!("must be between {lo} and {hi} milliseconds"))
        }
    }
}

impl From<RequestTimeout> for u64 {
    fn from(t: RequestTimeout) -> u64 {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<TargetUrl, String> {
        TargetUrl::try_from(text.to_owned())
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        assert!(url("https://api.example.com/v1/hook?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "http://",
            "/relative",
            "mailto:a@b.c",
            "https://user:pw@example.com/",
            &format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES)),
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_destination_is_scheme_host_and_port() {
        let a = url("https://Example.com/a").unwrap().destination();
        assert_eq!(a, "https://example.com:443");
        assert_eq!(
            url("http://10.0.0.1:8080/b?c").unwrap().destination(),
            "http://10.0.0.1:8080"
        );
    }

    #[test]
    fn timeouts_and_bodies_are_bounded() {
        assert!(RequestTimeout::try_from(99).is_err());
        assert!(RequestTimeout::try_from(60_001).is_err());
        assert_eq!(RequestTimeout::default().get(), Duration::from_secs(10));
        assert!(Body::try_from("x".repeat(MAX_BODY_BYTES + 1)).is_err());
        assert_eq!(
            format!("{:?}", Body::try_from("secret".to_owned()).unwrap()),
            "Body(6 bytes)"
        );
    }
}
