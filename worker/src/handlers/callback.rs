//! `callback`: reports an ended job, or the track it belongs to, by a signed POST to
//! the URL its client gave.
//!
//! The body names the event (`job.succeeded`, `job.failed`, `job.cancelled`,
//! `track.ready`, `track.failed`) and where to read the rest; it carries
//! [`SIGNATURE_HEADER`] (see [`signature`]) and `Mixdown-Delivery`, this job's id, the
//! same for every attempt, so a receiver can drop repeats. A 2xx answer ends the job;
//! 408, 429, 5xx and network errors are retried with the runtime's backoff; any other
//! answer fails it for good. The job's attempts and errors are the delivery log.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mixdown_jobs::{
    callbacks::{
        CallbackEvent, CallbackPayload, DeliveryResult, JobReport, SIGNATURE_HEADER, signature,
    },
    codes::ErrorCode,
    db::Database,
    ids::JobId,
    model::Job,
    payload::JobPayload,
    workflow::track,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, Url, redirect::Policy};
use tokio::sync::OnceCell;

use super::JobContext;
use crate::failure::{Failure, Infra, infra_from};

/// How long a receiver has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where callbacks may be delivered.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallbackSettings {
    /// Deliver to loopback, private, link-local and other non-public addresses too:
    /// for a receiver on the same host or network. Off, a client cannot make the fleet
    /// post into its own network.
    pub allow_private: bool,
}

impl CallbackSettings {
    /// Whether a callback may be delivered to `ip`.
    fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// A worker's deliveries share one client: one connection pool, and the root
/// certificates loaded once (about 2 ms per load) rather than per delivery.
#[derive(Debug)]
pub(crate) struct CallbackClient {
    settings: CallbackSettings,
    http: OnceCell<reqwest::Client>,
}

impl CallbackClient {
    pub(crate) fn new(settings: CallbackSettings) -> Self {
        Self {
            settings,
            http: OnceCell::new(),
        }
    }

    /// The client, made on the first delivery.
    async fn http(&self) -> Result<&reqwest::Client, CallbackError> {
        let build = || async {
            reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(DELIVERY_TIMEOUT)
                // What a host name resolves to is filtered again when connecting, so
                // a name that changes its answer after the check gets no further.
                .dns_resolver(Arc::new(AllowedAddresses(self.settings)))
                .build()
                .map_err(CallbackError::Client)
        };
        self.http.get_or_try_init(build).await
    }
}

/// Resolves host names to the addresses [`CallbackSettings`] allows.
struct AllowedAddresses(CallbackSettings);

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

/// Why a report was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    /// The reported job is gone, or has no callback URL.
    #[error("job {0} is gone or has no callback URL")]
    SubjectMissing(JobId),
    /// The URL reaches no address a callback may go to.
    #[error("{0}")]
    AddressRefused(String),
    /// The receiver could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The receiver answered with an error status.
    #[error("{url} answered {status}")]
    Refused {
        /// Where the report went.
        url: Url,
        /// What came back.
        status: StatusCode,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(reqwest::Error),
    /// A store failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(CallbackError);

impl Failure for CallbackError {
    fn code(&self) -> ErrorCode {
        match self {
            CallbackError::SubjectMissing(_) => ErrorCode::CallbackSubjectMissing,
            CallbackError::AddressRefused(_) => ErrorCode::CallbackAddressRefused,
            CallbackError::Unreachable(_) => ErrorCode::CallbackUnreachable,
            CallbackError::Refused { .. } => ErrorCode::CallbackRefused,
            CallbackError::Client(_) => ErrorCode::InternalError,
            CallbackError::Infra(e) => e.code(),
        }
    }

    /// 408, 429, 5xx and network errors may pass; any other answer will not.
    fn retryable(&self) -> bool {
        match self {
            CallbackError::Unreachable(_) => true,
            CallbackError::Refused { status, .. } => {
                *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
            }
            CallbackError::Infra(e) => e.retryable(),
            _ => false,
        }
    }
}

pub(crate) async fn run(
    p: &CallbackPayload,
    ctx: &JobContext,
) -> Result<DeliveryResult, CallbackError> {
    let tenant = ctx.job.tenant_id;
    let db = &ctx.stores.db;
    let ended = db.jobs.get(tenant, p.job_id).await?;
    let ended = ended.ok_or(CallbackError::SubjectMissing(p.job_id))?;
    let url = ended
        .callback_url
        .as_deref()
        .ok_or(CallbackError::SubjectMissing(p.job_id))?;
    let client = &ctx.callbacks;
    let (url, _) = resolve(url, client.settings).await?;
    let body = serde_json::to_vec(&event(db, &ended).await?).expect("events serialise");
    let secret = db.secrets.callback_secret(tenant).await?;
    let now = ctx.stores.clock().now().millis() / 1000;
    let sent = client
        .http()
        .await?
        .post(url.clone())
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature(&secret, now, &body))
        .header("Mixdown-Delivery", ctx.job.id.to_string())
        .body(body)
        .send()
        .await;
    let status = sent
        .map_err(|e| CallbackError::Unreachable(e.to_string()))?
        .status();
    if !status.is_success() {
        return Err(CallbackError::Refused { url, status });
    }
    Ok(DeliveryResult {
        status: status.as_u16(),
        url: url.to_string(),
    })
}

/// The report of `ended`: about its track for a track's workflow job (as
/// the workflow says), about itself otherwise.
async fn event(db: &Database, ended: &Job) -> Result<CallbackEvent, CallbackError> {
    if let Ok(JobPayload::Track(p)) = JobPayload::parse(ended.kind, Some(&ended.payload)) {
        let track = db.tracks.get(ended.tenant_id, p.track_id).await?;
        let track = track.ok_or(CallbackError::SubjectMissing(ended.id))?;
        return Ok(CallbackEvent::Track(track::report(&track, ended)));
    }
    Ok(CallbackEvent::Job(JobReport::of(ended)))
}

/// Parses `url` and finds the address to deliver to, refusing non-public ones unless
/// allowed.
async fn resolve(
    url: &str,
    settings: CallbackSettings,
) -> Result<(Url, SocketAddr), CallbackError> {
    let refused = CallbackError::AddressRefused;
    let parsed = Url::parse(url).map_err(|e| refused(format!("{url}: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refused(format!("{url} has no host")))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| refused(format!("{url} has no port")))?;
    // Brackets of an IPv6 literal are not part of the address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| CallbackError::Unreachable(format!("{host}: {e}")))?
        .collect();
    let address = addresses
        .iter()
        .copied()
        .find(|a| settings.allows(a.ip()))
        .ok_or_else(|| refused(format!("{host} resolves to no public address")))?;
    Ok((parsed, address))
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
        let refused = resolve(url, CallbackSettings::default()).await.unwrap_err();
        assert_eq!(
            refused.code(),
            ErrorCode::CallbackAddressRefused,
            "{refused}"
        );
        let allowed = CallbackSettings {
            allow_private: true,
        };
        let (_, address) = resolve(url, allowed).await.unwrap();
        assert_eq!(address, "127.0.0.1:9".parse().unwrap());
    }
}
