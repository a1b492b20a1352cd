//! One tenant's Redis stream followed for the subscribers of this process:
//! one blocking read at a time on a connection of its own, whatever the
//! number of subscribers. A failed read (Redis restarting, a connection
//! killed) reconnects and resumes after the last entry seen.

use std::{convert::Infallible, sync::Arc, time::Duration};

use redis::streams::StreamReadReply;
use tokio::{sync::watch, task::JoinHandle};
use tracing::warn;

use super::{Batch, entry::EventId, redis::parse_entry};
use crate::redis_target::RedisTarget;

/// How long one read blocks waiting for entries.
const BLOCK: Duration = Duration::from_secs(5);
/// Most entries one read returns.
const READ_COUNT: usize = 500;
/// First and longest pause before reconnecting.
const RECONNECT: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// The reader of one stream; dropping it stops the reading.
#[derive(Debug)]
pub(crate) struct Tail {
    added: watch::Receiver<Arc<Batch>>,
    task: JoinHandle<()>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tail {
    /// Starts reading the stream at `key` after `newest`.
    pub(super) fn start(target: RedisTarget, key: String, newest: EventId) -> Self {
        let (added_tx, added) = watch::channel(Arc::new(Batch::empty(newest)));
        let task = tokio::spawn(follow(target, key, newest, added_tx));
        Self { added, task }
    }

    /// Fires with each batch of entries read.
    pub(super) fn added(&self) -> watch::Receiver<Arc<Batch>> {
        self.added.clone()
    }
}

async fn follow(
    target: RedisTarget,
    key: String,
    mut cursor: EventId,
    added: watch::Sender<Arc<Batch>>,
) {
    let mut pause = RECONNECT.0;
    loop {
        let Err(err) = read(&target, &key, &mut cursor, &added, &mut pause).await;
        warn!(stream = %key, error = %err, "reading live events failed; reconnecting");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RECONNECT.1);
    }
}

/// Reads until a command fails; each batch read goes to `added`.
async fn read(
    target: &RedisTarget,
    key: &str,
    cursor: &mut EventId,
    added: &watch::Sender<Arc<Batch>>,
    pause: &mut Duration,
) -> Result<Infallible, redis::RedisError> {
    let mut conn = target.dedicated(BLOCK * 2).await?;
    loop {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(key)
            .arg(cursor.to_string())
            .query_async(&mut conn)
            .await?;
        *pause = RECONNECT.0;
        let raw = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
        let entries: Vec<_> = raw.filter_map(|r| parse_entry(&r)).map(Arc::new).collect();
        if let Some(last) = entries.last().map(|e| e.id) {
            let prev = std::mem::replace(cursor, last);
            added.send_replace(Arc::new(Batch { prev, entries }));
        }
    }
}
