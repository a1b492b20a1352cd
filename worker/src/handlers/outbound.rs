//! Requests the fleet sends on a client's word — callbacks and `http` jobs —
//! under one set of rules: only to public addresses unless allowed, no
//! redirect followed, a time limit per request, the body signed with the
//! tenant's callback secret ([`SIGNATURE_HEADER`]) and the job's id as
//! `Mixdown-Delivery` (the same on every attempt, so a receiver can drop
//! repeats), and one rule for which failures another attempt may help:
//! 408, 429, 5xx and network errors.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use mixdown_jobs::{
    callbacks::{SIGNATURE_HEADER, signature},
    codes::ErrorCode,
    ids::JobId,
};
use reqwest::{
    Method, StatusCode, Url,
    dns::{Addrs, Name, Resolve, Resolving},
    header::{HeaderMap, HeaderName, HeaderValue},
    redirect::Policy,
};
use tokio::sync::OnceCell;

/// Header carrying the id of a delivery, the same on each of its attempts.
pub(crate) const DELIVERY_HEADER: &str = "Mixdown-Delivery";

/// Where the fleet's requests may go.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OutboundSettings {
    /// Send to loopback, private, link-local and other non-public addresses
    /// too: for a receiver on the same host or network. Off, a client cannot
    /// make the fleet send into its own network.
    pub allow_private: bool,
}

impl OutboundSettings {
    /// Whether a request may go to `ip`.
    fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// A worker's outbound requests share one client: one connection pool, and
/// the root certificates loaded once (about 2 ms per load) rather than per
/// request.
#[derive(Debug)]
pub(crate) struct Outbound {
    settings: OutboundSettings,
    http: OnceCell<reqwest::Client>,
}

/// One signed request.
pub(crate) struct Delivery<'a> {
    /// Its method.
    pub method: Method,
    /// Where it goes, unchecked.
    pub url: &'a str,
    /// Headers besides the signature and the delivery id.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Its body, signed.
    pub body: Vec<u8>,
    /// How long the receiver has to answer, body included.
    pub timeout: Duration,
    /// The delivering job: its id is the delivery's.
    pub id: JobId,
    /// The tenant's callback secret, which signs the body.
    pub secret: &'a str,
    /// When it is signed, Unix seconds.
    pub signed_at: i64,
}

impl Outbound {
    /// No client yet: it is made on the first request.
    pub(crate) fn new(settings: OutboundSettings) -> Self {
        Self {
            settings,
            http: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&reqwest::Client, SendError> {
        let build = || async {
            reqwest::Client::builder()
                .redirect(Policy::none())
                // What a host name resolves to is filtered again when connecting, so
                // a name that changes its answer after the check gets no further.
                .dns_resolver(Arc::new(AllowedAddresses(self.settings)))
                .build()
                .map_err(|e| SendError::Client(e.to_string()))
        };
        self.http.get_or_try_init(build).await
    }

    /// Sends `d`; a 2xx answer is returned with its body unread, anything
    /// else is a [`SendError`].
    pub(crate) async fn deliver(&self, d: Delivery<'_>) -> Result<reqwest::Response, SendError> {
        let (url, _) = resolve(d.url, self.settings).await?;
        let mut headers = HeaderMap::new();
        for (name, value) in d.headers {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(SendError::Client("a header cannot be sent".into()));
            };
            headers.insert(name, value);
        }
        let signed = signature(d.secret, d.signed_at, &d.body);
        let sent = self
            .client()
            .await?
            .request(d.method, url.clone())
            .timeout(d.timeout)
            .headers(headers)
            .header(SIGNATURE_HEADER, signed)
            .header(DELIVERY_HEADER, d.id.to_string())
            .body(d.body)
            .send()
            .await;
        let response = sent.map_err(|e| SendError::unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::Refused { url, status });
        }
        Ok(response)
    }
}

/// Resolves host names to the addresses [`OutboundSettings`] allows.
struct AllowedAddresses(OutboundSettings);

impl Resolve for AllowedAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        let settings = self.0;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| settings.allows(a.ip())).collect();
            if allowed.is_empty() {
                let refused = format!("{} resolves to no public address", name.as_str());
                return Err(refused.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Why a request was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The URL reaches no address a request may go to.
    #[error("{0}")]
    AddressRefused(String),
    /// The receiver could not be reached, or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The receiver answered with a status other than 2xx.
    #[error("{} answered {status}", masked(url))]
    Refused {
        /// Where the request went.
        url: Url,
        /// What came back.
        status: StatusCode,
    },
    /// The HTTP client, or the request, could not be made: a fault of ours.
    #[error("the request could not be made: {0}")]
    Client(String),
}

/// The codes a kind of request fails with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendCodes {
    /// For [`SendError::AddressRefused`].
    pub address_refused: ErrorCode,
    /// For [`SendError::Unreachable`].
    pub unreachable: ErrorCode,
    /// For [`SendError::Refused`].
    pub refused: ErrorCode,
}

impl SendError {
    /// A failed send or read, with what caused it (a timeout, a reset connection).
    /// The URL in it is masked (see [`masked`]).
    pub(crate) fn unreachable(err: &reqwest::Error) -> Self {
        let text = mixdown_jobs::codes::error_chain(err);
        SendError::Unreachable(match err.url() {
            Some(url) => text.replace(url.as_str(), &masked(url)),
            None => text,
        })
    }

    /// Its code among `codes`.
    pub(crate) fn code(&self, codes: SendCodes) -> ErrorCode {
        match self {
            SendError::AddressRefused(_) => codes.address_refused,
            SendError::Unreachable(_) => codes.unreachable,
            SendError::Refused { .. } => codes.refused,
            SendError::Client(_) => ErrorCode::InternalError,
        }
    }

    /// 408, 429, 5xx and network errors may pass; any other answer will not.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            SendError::Unreachable(_) => true,
            SendError::Refused { status, .. } => {
                *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
            }
            SendError::AddressRefused(_) | SendError::Client(_) => false,
        }
    }
}

/// Parses `url` and finds the address to send to, refusing non-public ones
/// unless allowed. An IP literal never reaches the resolver, so this check is
/// the one that stops it.
async fn resolve(url: &str, settings: OutboundSettings) -> Result<(Url, SocketAddr), SendError> {
    let refused = SendError::AddressRefused;
    let parsed = Url::parse(url).map_err(|e| refused(format!("the URL does not parse: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refused(format!("{} has no host", masked(&parsed))))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| refused(format!("{} has no port", masked(&parsed))))?;
    // Brackets of an IPv6 literal are not part of the address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| SendError::Unreachable(format!("{host}: {e}")))?
        .collect();
    let address = addresses
        .iter()
        .copied()
        .find(|a| settings.allows(a.ip()))
        .ok_or_else(|| refused(format!("{host} resolves to no public address")))?;
    Ok((parsed, address))
}

/// `url` as errors and logs show it: user info and the values of the query
/// (where receivers' tokens usually ride) replaced by `***`, no fragment.
pub(crate) fn masked(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Only URLs that cannot hold user info refuse it, and they hold none.
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    if shown.query().is_some() {
        let names: Vec<String> = shown
            .query_pairs()
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        shown.set_query(Some(&names.join("&")));
    }
    shown.set_fragment(None);
    shown.to_string()
}

/// Whether `ip` is on the public internet: not loopback, private, link-local,
/// shared (CGNAT), documentation, unspecified or broadcast.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn a_private_receiver_is_refused_unless_allowed() {
        let url = "http://127.0.0.1:9/hook";
        let refused = resolve(url, OutboundSettings::default()).await.unwrap_err();
        assert!(matches!(refused, SendError::AddressRefused(_)), "{refused}");
        assert!(!refused.retryable());
        let allowed = OutboundSettings {
            allow_private: true,
        };
        let (_, address) = resolve(url, allowed).await.unwrap();
        assert_eq!(address, "127.0.0.1:9".parse().unwrap());
    }

    #[test]
    fn masked_urls_hide_user_info_and_query_values() {
        let url = Url::parse("https://bob:pw@hooks.test:8443/in/x?token=s3cret&id=7#frag").unwrap();
        assert_eq!(
            masked(&url),
            "https://***@hooks.test:8443/in/x?token=***&id=***"
        );
        let plain = Url::parse("https://hooks.test/in").unwrap();
        assert_eq!(masked(&plain), "https://hooks.test/in");
        let refused = SendError::Refused {
            url,
            status: StatusCode::FORBIDDEN,
        };
        assert!(!refused.to_string().contains("s3cret") && !refused.to_string().contains("pw"));
    }

    #[tokio::test]
    async fn an_unreachable_receiver_is_told_of_without_its_token() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://user:pw@127.0.0.1:{port}/hook?token=s3cret");
        let err = reqwest::get(&url).await.unwrap_err();
        assert!(
            err.to_string().contains("s3cret"),
            "reqwest names the URL: {err}"
        );
        let told = SendError::unreachable(&err).to_string();
        assert!(told.contains("token=***"), "{told}");
        assert!(!told.contains("s3cret") && !told.contains("pw"), "{told}");
    }

    #[test]
    fn timeouts_throttling_and_server_errors_are_retried_and_nothing_else() {
        let url = Url::parse("https://x.test/").unwrap();
        let refused = |code: u16| SendError::Refused {
            url: url.clone(),
            status: StatusCode::from_u16(code).unwrap(),
        };
        for code in [408, 429, 500, 502, 503] {
            assert!(refused(code).retryable(), "{code}");
        }
        for code in [301, 400, 401, 404, 410, 422] {
            assert!(!refused(code).retryable(), "{code}");
        }
        assert!(SendError::Unreachable("reset".into()).retryable());
    }
}
