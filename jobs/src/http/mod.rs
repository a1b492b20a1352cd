//! `http` jobs: a request Mixdown makes on a service's behalf, with the
//! delivery rules of callbacks (public addresses, no redirects, retries,
//! signature). What it sends is parsed at the edge into types that hold only
//! what may be sent ([`request`], [`headers`]); its secret headers are sealed
//! before they are stored ([`secrets`]); its result keeps the start of the
//! answer ([`response`]).

mod headers;
mod request;
mod response;
mod schema;

pub use self::schema::URL_PATTERN;
mod secrets;

pub use self::{
    headers::{Headers, MAX_HEADER_BYTES, MAX_HEADERS, MAX_NAME_BYTES, MAX_VALUE_BYTES},
    request::{
        Body, HttpJob, MAX_BODY_BYTES, MAX_URL_BYTES, Method, RequestTimeout, TIMEOUT_RANGE_MS,
        TargetUrl,
    },
    response::{BodyEncoding, BodyStart, HttpResult, RESULT_BODY_BYTES},
    secrets::{MASK, Redactor, SealedHeaders, SecretHeaders, shown},
};
use crate::{
    ids::TenantId,
    payload::{PayloadError, parse_typed},
    seal::SealKeys,
};

/// An `http` job's request as a client submits it: secret headers in clear.
pub type HttpSubmission = HttpJob<SecretHeaders>;

/// Input of an `http` job, as stored and run: secret headers sealed.
pub type HttpPayload = HttpJob<Option<SealedHeaders>>;

impl HttpSubmission {
    /// Parses a submitted payload, with the rules that join its fields.
    pub fn parse(value: &serde_json::Value) -> Result<Self, PayloadError> {
        let job: Self = parse_typed(value)?;
        let invalid = |field: String, message: &str| PayloadError {
            field,
            message: message.into(),
        };
        if job.body.is_some() && !job.method.takes_body() {
            let message = format!("a {} request has no body", job.method.as_str());
            return Err(invalid("payload.body".into(), &message));
        }
        if let Some(name) = job.secret_headers.headers().shared_with(&job.headers) {
            let field = format!("payload.secret_headers.{name}");
            return Err(invalid(field, "is in headers too: name it once"));
        }
        Ok(job)
    }

    /// The payload to store, its secret headers sealed for `tenant` under
    /// `keys`; without keys, only a job without secret headers can be stored.
    pub fn seal(
        self,
        keys: Option<&SealKeys>,
        tenant: TenantId,
    ) -> Result<HttpPayload, PayloadError> {
        let secrets = &self.secret_headers;
        let sealed = match keys {
            Some(keys) => secrets.seal(keys, tenant),
            None if secrets.headers().is_empty() => None,
            None => {
                return Err(PayloadError {
                    field: "payload.secret_headers".into(),
                    message: "this fleet has no key to seal secret headers with \
                              (MIXDOWN_SECRETS_KEY)"
                        .into(),
                });
            }
        };
        Ok(self.with_secrets(sealed))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys() -> SealKeys {
        crate::seal::test_keys()
    }

    fn field(v: serde_json::Value) -> String {
        HttpSubmission::parse(&v).unwrap_err().field
    }

    #[test]
    fn a_submission_takes_defaults_and_seals_only_its_secrets() {
        let (keys, tenant) = (keys(), TenantId::new());
        let job = HttpSubmission::parse(&json!({
            "url": "https://hooks.example.com/x",
            "headers": {"Content-Type": "text/plain"},
            "body": "hi",
            "secret_headers": {"Authorization": "Bearer t0ken"},
        }))
        .unwrap();
        assert_eq!(
            (job.method, job.timeout_ms.get().as_millis()),
            (Method::Post, 10_000)
        );
        let stored = job.seal(Some(&keys), tenant).unwrap();
        let text = serde_json::to_string(&stored).unwrap();
        assert!(
            !text.contains("t0ken") && text.contains("Content-Type"),
            "{text}"
        );
        let back: HttpPayload = serde_json::from_str(&text).unwrap();
        let opened = back
            .secret_headers
            .as_ref()
            .unwrap()
            .open(&keys, tenant)
            .unwrap();
        assert_eq!(
            opened.headers().iter().next(),
            Some(("Authorization", "Bearer t0ken"))
        );
    }

    #[test]
    fn bad_submissions_name_their_field() {
        let url = "https://x.test/";
        for (payload, expected) in [
            (json!({}), "payload"),
            (json!({"url": "ftp://x.test/"}), "payload.url"),
            (json!({"url": url, "method": "BREW"}), "payload.method"),
            (json!({"url": url, "method": "get"}), "payload.method"),
            (
                json!({"url": url, "method": "GET", "body": "x"}),
                "payload.body",
            ),
            (
                json!({"url": url, "headers": {"Host": "evil"}}),
                "payload.headers.Host",
            ),
            (
                json!({"url": url, "secret_headers": {"X-A": "\n"}}),
                "payload.secret_headers.X-A",
            ),
            (
                json!({"url": url, "headers": {"x-a": "1"}, "secret_headers": {"X-A": "2"}}),
                "payload.secret_headers.X-A",
            ),
            (json!({"url": url, "timeout_ms": 50}), "payload.timeout_ms"),
            (
                json!({"url": url, "timeout_ms": 60_001}),
                "payload.timeout_ms",
            ),
            (
                json!({"url": url, "body": "b".repeat(MAX_BODY_BYTES + 1)}),
                "payload.body",
            ),
            (json!({"url": url, "colour": "red"}), "payload.colour"),
        ] {
            assert_eq!(field(payload.clone()), expected, "{payload}");
        }
    }

    #[test]
    fn secret_headers_need_a_key_and_plain_requests_do_not() {
        let tenant = TenantId::new();
        let plain = HttpSubmission::parse(&json!({"url": "https://x.test/"})).unwrap();
        assert!(plain.seal(None, tenant).unwrap().secret_headers.is_none());
        let secret = json!({"url": "https://x.test/", "secret_headers": {"X-K": "v"}});
        let err = HttpSubmission::parse(&secret)
            .unwrap()
            .seal(None, tenant)
            .unwrap_err();
        assert_eq!(err.field, "payload.secret_headers");
    }
}
