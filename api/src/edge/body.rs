//! Request bodies held to a pace: a client that stops sending, or trickles
//! bytes slower than the least rate, is cut instead of holding a handler
//! and its connection.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream::BoxStream};
use poem::{Body, Request};
use tokio::time::{Instant, Sleep};

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Longest wait for the next bytes.
    pub(crate) gap: Duration,
    /// Least average rate in bytes per second once the first `gap` has
    /// passed (0: none).
    pub(crate) min_rate: u64,
}

impl Pace {
    /// How much longer the stream may wait, having received `received` bytes
    /// after waiting `waited` in all.
    fn allowance(&self, received: u64, waited: Duration) -> Duration {
        if self.min_rate == 0 {
            return self.gap;
        }
        let earned = self.gap + Duration::from_secs_f64(received as f64 / self.min_rate as f64);
        earned.saturating_sub(waited).min(self.gap)
    }

    /// Puts `req`'s body under this pace; the flag turns true if it was cut.
    pub(crate) fn hold(self, req: &mut Request) -> Arc<AtomicBool> {
        let cut = Arc::new(AtomicBool::new(false));
        let inner = req.take_body().into_bytes_stream().boxed();
        let paced = Paced {
            inner,
            pace: self,
            received: 0,
            waited: Duration::ZERO,
            waiting: None,
            cut: cut.clone(),
        };
        req.set_body(Body::from_bytes_stream(paced));
        cut
    }
}

/// A body stream that fails once its client falls behind the pace.
struct Paced {
    inner: BoxStream<'static, io::Result<Bytes>>,
    pace: Pace,
    received: u64,
    /// Time spent waiting for the client so far: a handler that reads
    /// slowly does not count against it.
    waited: Duration,
    /// Since when, and until when, the stream waits for the client.
    waiting: Option<(Instant, Pin<Box<Sleep>>)>,
    cut: Arc<AtomicBool>,
}

impl Stream for Paced {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.cut.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = this.inner.poll_next_unpin(cx) {
            if let Some((since, _)) = this.waiting.take() {
                this.waited += since.elapsed();
            }
            if let Some(Ok(bytes)) = &item {
                this.received += bytes.len() as u64;
            }
            return Poll::Ready(item);
        }
        let (received, waited, pace) = (this.received, this.waited, this.pace);
        let (_, sleep) = this.waiting.get_or_insert_with(|| {
            let deadline = Instant::now() + pace.allowance(received, waited);
            (Instant::now(), Box::pin(tokio::time::sleep_until(deadline)))
        });
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.cut.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request body arrived too slowly",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_earns_time_only_at_the_least_rate() {
        let pace = Pace {
            gap: Duration::from_secs(10),
            min_rate: 100,
        };
        assert_eq!(pace.allowance(0, Duration::ZERO), Duration::from_secs(10));
        assert_eq!(
            pace.allowance(0, Duration::from_secs(4)),
            Duration::from_secs(6)
        );
        // 200 bytes earned 2 s beyond the first gap.
        assert_eq!(
            pace.allowance(200, Duration::from_secs(11)),
            Duration::from_secs(1)
        );
        assert_eq!(
            pace.allowance(1 << 20, Duration::ZERO),
            Duration::from_secs(10)
        );
        let no_rate = Pace {
            min_rate: 0,
            ..pace
        };
        assert_eq!(
            no_rate.allowance(0, Duration::from_secs(99)),
            Duration::from_secs(10)
        );
    }
}
