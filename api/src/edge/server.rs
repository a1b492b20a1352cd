//! The HTTP server under the API's and the ops' endpoints: hyper serving
//! poem, with what poem's own server leaves out: a cap on connections, a
//! deadline for request heads and an idle timeout.

use std::{convert::Infallible, io, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use mixdown_jobs::metrics::Metrics;
use poem::{
    Addr, Endpoint, EndpointExt, Request,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::watch::{Watch, Watched};
use crate::settings::ApiSettings;

/// A response body as hyper takes it from poem.
type BoxBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// How long accepting pauses after the process runs out of sockets.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a listener holds its connections to.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Longest a request head may take to arrive whole.
    pub header_read_timeout: Duration,
    /// Longest a connection may sit with nothing moving and no handler running.
    pub idle_timeout: Duration,
    /// Most connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Longest open connections are waited for once the server stops.
    pub shutdown_grace: Duration,
}

impl ServerLimits {
    /// The limits the settings give.
    pub fn of(settings: &ApiSettings) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout_ms.get(),
            idle_timeout: settings.idle_timeout_ms.get(),
            max_connections: settings.max_connections,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// One connection's part of the server.
struct Conn<E> {
    app: Arc<E>,
    limits: ServerLimits,
    metrics: Metrics,
    stop: CancellationToken,
    local: SocketAddr,
}

/// Serves `app` on `listener` until `stop` fires, then lets open requests
/// finish (at most the limits' grace).
pub async fn serve(
    app: impl Endpoint + 'static,
    listener: TcpListener,
    limits: ServerLimits,
    metrics: Metrics,
    stop: CancellationToken,
) -> io::Result<()> {
    let conn = Arc::new(Conn {
        app: Arc::new(app.map_to_response()),
        limits,
        metrics,
        stop: stop.clone(),
        local: listener.local_addr()?,
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    tokio::spawn(conn.clone().run(socket, peer, slot));
                }
                Err(_) => conn
                    .metrics
                    .http_connections_cut
                    .with_label_values(&["refused"])
                    .inc(),
            },
            Err(err) => {
                warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        info!("connections still open after the shutdown grace are dropped");
    }
    Ok(())
}

impl<E: Endpoint + 'static> Conn<E> {
    async fn run(
        self: Arc<Self>,
        socket: TcpStream,
        peer: SocketAddr,
        _slot: OwnedSemaphorePermit,
    ) {
        let open = &self.metrics.http_connections_open;
        open.inc();
        let watch = Watch::new();
        let io = TokioIo::new(Watched::new(socket, watch.clone()));
        let service = {
            let (me, watch) = (self.clone(), watch.clone());
            service_fn(move |req: hyper::Request<Incoming>| {
                let (me, handling) = (me.clone(), watch.handling());
                async move {
                    let _handling = handling;
                    let req = Request::from((
                        req,
                        LocalAddr(Addr::SocketAddr(me.local)),
                        RemoteAddr(Addr::SocketAddr(peer)),
                        Scheme::HTTP,
                    ));
                    let resp = me.app.get_response(req).await;
                    Ok::<_, Infallible>(hyper::Response::<BoxBody>::from(resp))
                }
            })
        };
        let builder = auto::Builder::new(TokioExecutor::new());
        let served = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(served);
        let (head, idle) = (self.limits.header_read_timeout, self.limits.idle_timeout);
        let cut = tokio::select! {
            _ = served.as_mut() => None,
            cut = watch.expired(head, idle) => Some(cut),
            _ = self.stop.cancelled() => {
                served.as_mut().graceful_shutdown();
                tokio::select! {
                    _ = served.as_mut() => None,
                    cut = watch.expired(head, idle) => Some(cut),
                }
            }
        };
        if let Some(cut) = cut {
            self.metrics
                .http_connections_cut
                .with_label_values(&[cut.label()])
                .inc();
        }
        open.dec();
    }
}
