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
    callbacks::{CallbackPayload, SIGNATURE_HEADER, signature},
    kind::JobKind,
    model::{Job, JobState},
    time::Timestamp,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, Url, redirect::Policy};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::context::{HandlerError, JobContext};

/// How long a receiver has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where callbacks may be delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallbackSettings {
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
    async fn http(&self) -> Result<&reqwest::Client, HandlerError> {
        let build = || async {
            reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(DELIVERY_TIMEOUT)
                // What a host name resolves to is filtered again when connecting, so
                // a name that changes its answer after the check gets no further.
                .dns_resolver(Arc::new(AllowedAddresses(self.settings)))
                .build()
                .map_err(|e| HandlerError::failed("internal_error", e.to_string(), false))
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

pub(crate) async fn run(p: &CallbackPayload, ctx: &JobContext) -> Result<Value, HandlerError> {
    let tenant = ctx.job.tenant_id;
    let db = &ctx.stores.db;
    let ended = db.jobs.get(tenant, p.job_id).await;
    let ended = ended.map_err(HandlerError::database)?.ok_or_else(|| {
        HandlerError::failed(
            "callback_subject_missing",
            format!("no job {}", p.job_id),
            false,
        )
    })?;
    let url = ended.callback_url.as_deref().ok_or_else(|| {
        let message = format!("job {} has no callback URL", ended.id);
        HandlerError::failed("callback_subject_missing", message, false)
    })?;
    let client = &ctx.callbacks;
    let (url, _) = resolve(url, client.settings).await?;
    let body = serde_json::to_vec(&event(&ended)).expect("JSON values serialise");
    let secret = db.secrets.callback_secret(tenant).await;
    let secret = secret.map_err(HandlerError::database)?;
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
        .map_err(|e| HandlerError::failed("callback_unreachable", e.to_string(), true))?
        .status();
    if status.is_success() {
        return Ok(json!({ "status": status.as_u16(), "url": url.as_str() }));
    }
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    let message = format!("{url} answered {status}");
    Err(HandlerError::failed("callback_refused", message, retryable))
}

/// The report of `ended`: about its track for a track's jobs, about itself otherwise.
fn event(ended: &Job) -> Value {
    let error = ended
        .error
        .as_ref()
        .map(|e| json!({ "code": e.code, "message": e.message }));
    let finished_at = ended.finished_at.map(Timestamp::to_rfc3339);
    if matches!(ended.kind, JobKind::Ingest | JobKind::Transcode) {
        let track_id = ended.payload["track_id"].clone();
        let ready = ended.kind == JobKind::Transcode && ended.state == JobState::Succeeded;
        let state = if ready { "ready" } else { "failed" };
        return json!({
            "event": format!("track.{state}"),
            "track_id": track_id,
            "state": state,
            "error": error,
            "job_id": ended.id.to_string(),
            "finished_at": finished_at,
            "status_url": format!("/v1/tracks/{}", track_id.as_str().unwrap_or_default()),
        });
    }
    json!({
        "event": format!("job.{}", ended.state.as_str()),
        "job_id": ended.id.to_string(),
        "kind": ended.kind.as_str(),
        "state": ended.state.as_str(),
        "attempts": ended.attempts,
        "result": ended.result,
        "error": error,
        "finished_at": finished_at,
        "status_url": format!("/v1/jobs/{}", ended.id),
    })
}

/// Parses `url` and finds the address to deliver to, refusing non-public ones unless
/// allowed.
async fn resolve(url: &str, settings: CallbackSettings) -> Result<(Url, SocketAddr), HandlerError> {
    let refused =
        |message: String| HandlerError::failed("callback_address_refused", message, false);
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
        .map_err(|e| HandlerError::failed("callback_unreachable", format!("{host}: {e}"), true))?
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
        assert!(
            refused.to_string().starts_with("callback_address_refused"),
            "{refused}"
        );
        let allowed = CallbackSettings {
            allow_private: true,
        };
        let (_, address) = resolve(url, allowed).await.unwrap();
        assert_eq!(address, "127.0.0.1:9".parse().unwrap());
    }
}
