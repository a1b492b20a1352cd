//! Requests the fleet sends on a client's word — callbacks and `http` jobs —
//! under one set of rules: only to public addresses unless allowed (and
//! never through a proxy named in the environment, which would resolve the
//! name past that check), no redirect followed, a time limit per request,
//! the body signed with the tenant's callback secrets ([`SIGNATURE_HEADER`])
//! and the job's id as
//! `Mixdown-Delivery` (the same on every attempt, so a receiver can drop
//! repeats), and one rule for which failures another attempt may help:
//! 408, 429, 5xx and network errors.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use mixdown_jobs::{
    callbacks::{CallbackSecrets, SIGNATURE_HEADER, signature},
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
    /// The tenant's callback secrets, which sign the body.
    pub secrets: &'a CallbackSecrets,
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
                // A proxy resolves the host itself, past the address filter.
                .no_proxy()
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
        let signed = signature(d.secrets, d.signed_at, &d.body);
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
            match allowed_addresses(name.as_str(), 0, settings).await {
                Ok(allowed) => Ok(Box::new(allowed.into_iter()) as Addrs),
                Err(refused) => Err(refused.into()),
            }
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

/// What a tenant is told of a host that reaches no address a request may go
/// to: the same whether its name does not resolve or resolves to a private
/// address, so a tenant cannot map which internal names exist. The log says
/// which.
const NO_PUBLIC_ADDRESS: &str = "the URL's host reaches no public address";

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
    let allowed = allowed_addresses(host, port, settings).await;
    let address = allowed.map_err(|_| refused(NO_PUBLIC_ADDRESS.to_owned()))?[0];
    Ok((parsed, address))
}

/// The addresses of `host` a request may go to, at least one; else
/// [`NO_PUBLIC_ADDRESS`], the cause logged.
async fn allowed_addresses(
    host: &str,
    port: u16,
    settings: OutboundSettings,
) -> Result<Vec<SocketAddr>, &'static str> {
    let found = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(host, error = %err, "outbound request refused: the host does not resolve");
            return Err(NO_PUBLIC_ADDRESS);
        }
    };
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        found.partition(|a| settings.allows(a.ip()));
    if allowed.is_empty() {
        tracing::warn!(
            host,
            ?refused,
            "outbound request refused: the host resolves to no public address"
        );
        return Err(NO_PUBLIC_ADDRESS);
    }
    Ok(allowed)
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

/// IPv4 ranges that are not the public internet (IANA's special-purpose
/// registry): this network, private, shared (CGNAT), loopback, link-local,
/// IETF protocol assignments, documentation, the old 6to4 relay anycast,
/// benchmarking, multicast, reserved and broadcast.
const V4_NOT_PUBLIC: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// Within global unicast (`2000::/3`, the only IPv6 a request may go to),
/// what is not the public internet: IETF protocol assignments (Teredo
/// `2001::/32` among them, whose IPv4 server and client say nothing of
/// where a packet lands), and documentation.
const V6_NOT_PUBLIC: [(Ipv6Addr, u32); 3] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// Whether `ip` is on the public internet. An IPv6 address that carries an
/// IPv4 one — mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`) or 6to4 (`2002::/16`) — reaches that IPv4 address, so it
/// is judged by it.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => {
                in_v6(v6, (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3))
                    && !V6_NOT_PUBLIC.iter().any(|&range| in_v6(v6, range))
            }
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !V4_NOT_PUBLIC.iter().any(|&(net, len)| {
        let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
        u32::from(ip) & mask == u32::from(net)
    })
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u32)) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net)
}

/// The IPv4 address an IPv6 one carries and reaches, if it is of a form
/// that does. NAT64's local-use prefix (`64:ff9b:1::/48`) places it by a
/// prefix length only its network knows: not public, like everything else
/// outside `2000::/3`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    if in_v6(ip, (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96))
        || in_v6(ip, (Ipv6Addr::UNSPECIFIED, 96))
        || in_v6(ip, (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96))
    {
        return Some(low32);
    }
    in_v6(ip, (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16))
        .then(|| Ipv4Addr::from((bits >> 80) as u32))
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
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.254",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "100::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "64:ff9b:1:ffff::1",
            "2002:7f00:1::1",
            "2002:0a00:0001::1",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.216.34",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:5db8:d822::1",
            "2001:4860:4860::8888",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[tokio::test]
    async fn an_unknown_name_and_a_private_one_are_refused_alike() {
        let settings = OutboundSettings::default();
        let unknown = resolve("http://no-such-host.invalid/hook", settings).await;
        let private = resolve("http://localhost:9/hook", settings).await;
        let literal = resolve("http://[64:ff9b::7f00:1]:9/hook", settings).await;
        let told: Vec<String> = [unknown, private, literal]
            .into_iter()
            .map(|r| {
                let err = r.unwrap_err();
                assert!(matches!(err, SendError::AddressRefused(_)), "{err}");
                assert!(!err.retryable());
                err.to_string()
            })
            .collect();
        assert_eq!(told, vec![NO_PUBLIC_ADDRESS; 3]);
    }

    #[tokio::test]
    async fn a_receiver_behind_an_embedded_address_gets_no_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let outbound = Outbound::new(OutboundSettings::default());
        let secrets = CallbackSecrets {
            current: mixdown_jobs::settings::Secret::new("s".into()),
            previous: None,
        };
        for host in [
            "127.0.0.1",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[::127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]",
        ] {
            let url = format!("http://{host}:{port}/hook");
            let sent = outbound
                .deliver(Delivery {
                    method: Method::POST,
                    url: &url,
                    headers: Vec::new(),
                    body: b"{}".to_vec(),
                    timeout: Duration::from_secs(2),
                    id: JobId::new(),
                    secrets: &secrets,
                    signed_at: 0,
                })
                .await;
            let err = sent.unwrap_err();
            assert!(matches!(err, SendError::AddressRefused(_)), "{url}: {err}");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "no request reached the receiver");
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
