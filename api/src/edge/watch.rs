//! What a connection is doing, seen from its socket: when bytes last moved,
//! whether a request head is awaited, and whether a handler runs; and the
//! cut that follows when a head takes too long or the connection idles.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};

/// No time recorded.
const NEVER: u64 = u64::MAX;

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// A request head did not arrive whole in time.
    HeaderTimeout,
    /// Nothing moved, and no handler ran, for too long.
    IdleTimeout,
}

impl Cut {
    /// The metrics label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "header_timeout",
            Self::IdleTimeout => "idle_timeout",
        }
    }
}

/// The activity of one connection, shared by its socket, its handlers and
/// its watcher. Times are milliseconds since the connection was accepted.
#[derive(Debug)]
pub(crate) struct Watch {
    epoch: Instant,
    last_moved: AtomicU64,
    /// When the first byte of a request head not yet handled arrived; a new
    /// connection awaits one from the start.
    head_since: AtomicU64,
    handlers: AtomicUsize,
}

impl Watch {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last_moved: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            handlers: AtomicUsize::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn read(&self) {
        let now = self.now();
        self.last_moved.store(now, Ordering::Relaxed);
        if self.handlers.load(Ordering::Acquire) == 0 {
            let _ =
                self.head_since
                    .compare_exchange(NEVER, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_moved.store(self.now(), Ordering::Relaxed);
    }

    /// Marks a handler running until the guard drops: its head has arrived.
    pub(crate) fn handling(self: &Arc<Self>) -> Handling {
        self.handlers.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NEVER, Ordering::Release);
        Handling(self.clone())
    }

    /// Resolves when the connection should be cut: a head pending longer
    /// than `head`, or no bytes moved for `idle` while no handler runs.
    pub(crate) async fn expired(&self, head: Duration, idle: Duration) -> Cut {
        let (head, idle) = (head.as_millis() as u64, idle.as_millis() as u64);
        loop {
            let now = self.now();
            let wait = if self.handlers.load(Ordering::Acquire) > 0 {
                head.min(idle)
            } else {
                let since = self.head_since.load(Ordering::Acquire);
                let (deadline, cut) = if since == NEVER {
                    let last = self.last_moved.load(Ordering::Relaxed);
                    (last + idle, Cut::IdleTimeout)
                } else {
                    (since + head, Cut::HeaderTimeout)
                };
                if now >= deadline {
                    return cut;
                }
                deadline - now
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// A running handler of a connection.
#[derive(Debug)]
pub(crate) struct Handling(Arc<Watch>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.handlers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that tells its [`Watch`] when bytes move.
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    watch: Arc<Watch>,
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, watch: Arc<Watch>) -> Self {
        Self { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_connection_has_the_head_timeout_and_an_answered_one_the_idle_timeout() {
        let (head, idle) = (Duration::from_millis(100), Duration::from_millis(300));
        let watch = Watch::new();
        assert_eq!(watch.expired(head, idle).await, Cut::HeaderTimeout);
        let waited = watch.epoch.elapsed();
        assert!(waited >= head && waited < idle, "{waited:?}");

        let watch = Watch::new();
        drop(watch.handling());
        let started = Instant::now();
        assert_eq!(watch.expired(head, idle).await, Cut::IdleTimeout);
        assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_running_handler_is_never_cut() {
        let watch = Watch::new();
        let handling = watch.handling();
        let short = Duration::from_millis(10);
        let waited = tokio::time::timeout(Duration::from_millis(300), watch.expired(short, short));
        assert!(waited.await.is_err());
        drop(handling);
        assert_eq!(watch.expired(short, short).await, Cut::IdleTimeout);
    }
}
