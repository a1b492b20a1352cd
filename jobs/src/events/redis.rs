//! The fleet's live events: one capped Redis stream per tenant,
//! `{prefix}:events:{tenant_id}`, written by every process and read by every
//! API replica (and by gateways, straight from Redis). Entries carry `type`,
//! `topic` (job and track events) or `users` (a JSON array, feed items),
//! and `data` (JSON); the README describes them for gateways.
//!
//! What a request publishes is written at once; what a worker posts goes to
//! a background task that writes whatever is waiting at once, so no job
//! waits for Redis. Either way each stream gets one pipeline of its own
//! (a stream is a key, and a cluster takes a pipeline only within one
//! slot), all of them sent together.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::Duration,
};

use futures::future::join_all;
use redis::streams::{StreamId, StreamRangeReply};
use tokio::sync::mpsc;
use tracing::warn;

use super::{
    EventsError, Retention,
    entry::{Entry, EntryKind, EventId, Record, Route},
    tail::Tail,
};
use crate::{
    ids::TenantId,
    redis_target::{RedisConn, RedisTarget},
};

/// Posts waiting for the background writer; beyond, new ones are dropped.
const BACKLOG: usize = 4096;
/// Most posts written in one go.
const MAX_POSTS: usize = 256;
/// Most entries in one pipeline, so no reply outlasts the response timeout.
const MAX_PIPELINE: usize = 1000;
/// Pauses before writing again after a failure (Redis restarting).
const RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(500)];

/// The stream of `tenant`'s events under `prefix`.
pub(super) fn stream_key(prefix: &str, tenant: TenantId) -> String {
    format!("{prefix}:events:{tenant}")
}

type Records = Vec<(TenantId, Record)>;

/// Live events in Redis; clones share the connection and the writer.
#[derive(Clone)]
pub struct RedisEvents {
    target: RedisTarget,
    writer: Writer,
    posts: mpsc::Sender<Records>,
    tails: Arc<Mutex<HashMap<TenantId, Weak<Tail>>>>,
}

impl std::fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEvents")
            .field("prefix", &self.writer.prefix)
            .finish()
    }
}

impl RedisEvents {
    /// Connects to `url` (a server or a cluster, see [`RedisTarget::parse`]);
    /// streams are named `{prefix}:events:{tenant_id}` and keep what
    /// `retention` says. Starts the writer task.
    pub async fn connect(
        url: &str,
        prefix: &str,
        retention: Retention,
    ) -> Result<Self, EventsError> {
        let target = RedisTarget::parse(url)?;
        let writer = Writer {
            conn: target.connect().await?,
            prefix: prefix.to_owned(),
            retention,
        };
        let (posts, posted) = mpsc::channel(BACKLOG);
        tokio::spawn(writer.clone().run(posted));
        Ok(Self {
            target,
            writer,
            posts,
            tails: Arc::default(),
        })
    }

    /// Writes `records` (or gives up on them) before returning.
    pub(super) async fn publish(&self, records: Records) {
        let records: Vec<&(TenantId, Record)> = records.iter().collect();
        self.writer.write_all(&records).await;
    }

    /// Hands `records` to the background writer without waiting; drops
    /// them if it is far behind.
    pub(super) fn post(&self, records: Records) {
        let count = records.len();
        if let Err(mpsc::error::TrySendError::Full(_)) = self.posts.try_send(records) {
            warn!(
                events = count,
                "live events dropped: their writer is behind"
            );
        }
    }

    fn key(&self, tenant: TenantId) -> String {
        stream_key(&self.writer.prefix, tenant)
    }

    fn conn(&self) -> RedisConn {
        self.writer.conn.clone()
    }

    /// The id of the tenant's newest entry (`0-0` when it has none).
    pub(super) async fn newest(&self, tenant: TenantId) -> Result<EventId, EventsError> {
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.key(tenant))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn())
            .await?;
        let newest = reply.ids.first().and_then(|s| EventId::parse(&s.id));
        Ok(newest.unwrap_or(EventId::ZERO))
    }

    /// Up to `count` of the tenant's entries after `after`, up to `upto`.
    pub(super) async fn range(
        &self,
        tenant: TenantId,
        after: EventId,
        upto: EventId,
        count: usize,
    ) -> Result<Vec<Arc<Entry>>, EventsError> {
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.key(tenant))
            .arg(after.successor().to_string())
            .arg(upto.to_string())
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await?;
        Ok(reply
            .ids
            .iter()
            .filter_map(parse_entry)
            .map(Arc::new)
            .collect())
    }

    /// This process's reader of the tenant's stream, started after `newest`
    /// unless one runs already; it stops with its last subscriber.
    pub(super) fn tail(&self, tenant: TenantId, newest: EventId) -> Arc<Tail> {
        let mut tails = lock(&self.tails);
        if let Some(tail) = tails.get(&tenant).and_then(Weak::upgrade) {
            return tail;
        }
        tails.retain(|_, t| t.strong_count() > 0);
        let tail = Arc::new(Tail::start(self.target.clone(), self.key(tenant), newest));
        tails.insert(tenant, Arc::downgrade(&tail));
        tail
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a plain map behind, still usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The entry a stream entry holds; one this version cannot read reaches no
/// one. `None` only for an id that is not a stream id.
pub(super) fn parse_entry(raw: &StreamId) -> Option<Entry> {
    let id = EventId::parse(&raw.id)?;
    let field = |name| raw.get::<String>(name);
    let kind = field("type").and_then(|k| EntryKind::parse(&k));
    let route = match (field("topic"), field("users")) {
        (Some(topic), _) => Some(Route::Topic(topic)),
        (None, Some(users)) => serde_json::from_str(&users).ok().map(Route::users),
        (None, None) => None,
    };
    Some(match (kind, route, field("data")) {
        (Some(kind), Some(route), Some(data)) => Entry {
            id,
            kind,
            route,
            data,
        },
        _ => Entry {
            id,
            kind: EntryKind::JobState,
            route: Route::Nobody,
            data: String::new(),
        },
    })
}

/// Writes entries to their tenants' streams.
#[derive(Clone)]
struct Writer {
    conn: RedisConn,
    prefix: String,
    retention: Retention,
}

impl Writer {
    /// Writes what is posted, oldest first, whatever is waiting at once.
    async fn run(self, mut posted: mpsc::Receiver<Records>) {
        let mut posts = Vec::with_capacity(MAX_POSTS);
        while posted.recv_many(&mut posts, MAX_POSTS).await > 0 {
            let records: Vec<&(TenantId, Record)> = posts.iter().flatten().collect();
            self.write_all(&records).await;
            posts.clear();
        }
    }

    async fn write_all(&self, records: &[&(TenantId, Record)]) {
        let mut streams: HashMap<TenantId, Vec<&Record>> = HashMap::new();
        for (tenant, record) in records {
            streams.entry(*tenant).or_default().push(record);
        }
        // Tenants in parallel, each tenant's chunks one after another: a stream's
        // entries keep the order they were published in.
        let writes = streams.iter().map(|(tenant, records)| async move {
            for chunk in records.chunks(MAX_PIPELINE) {
                self.write(*tenant, chunk).await;
            }
        });
        join_all(writes).await;
    }

    /// One round trip: an XADD per entry to the tenant's stream, capped,
    /// and a PEXPIRE, so a quiet tenant's stream goes once its window has
    /// passed.
    fn pipeline(&self, tenant: TenantId, records: &[&Record]) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        let key = stream_key(&self.prefix, tenant);
        for record in records {
            pipe.cmd("XADD").arg(&key).arg("MAXLEN").arg("~");
            pipe.arg(self.retention.max_len).arg("*");
            pipe.arg("type").arg(record.kind.as_str());
            match &record.route {
                Route::Topic(topic) => pipe.arg("topic").arg(topic),
                Route::Users(users) => {
                    let users = serde_json::to_string(users).unwrap_or_default();
                    pipe.arg("users").arg(users)
                }
                Route::Nobody => &mut pipe,
            };
            pipe.arg("data").arg(&record.data).ignore();
        }
        let window = u64::try_from(self.retention.window.as_millis()).unwrap_or(u64::MAX);
        pipe.cmd("PEXPIRE").arg(key).arg(window).ignore();
        pipe
    }

    async fn write(&self, tenant: TenantId, records: &[&Record]) {
        let pipe = self.pipeline(tenant, records);
        let mut pauses = RETRIES.iter();
        loop {
            let written: Result<(), _> = pipe.query_async(&mut self.conn.clone()).await;
            match (written, pauses.next()) {
                (Ok(()), _) => return,
                (Err(_), Some(pause)) => tokio::time::sleep(*pause).await,
                (Err(err), None) => {
                    let events = records.len();
                    warn!(events, error = %err, "live events lost: Redis refused them");
                    return;
                }
            }
        }
    }
}
