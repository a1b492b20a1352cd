//! The fleet queue over Redis: per queue, a sorted set of due ids ordered by
//! priority then due time, and a sorted set of scheduled ids ordered by due
//! time. Scripts move due entries over in bounded steps, so a backlog of any
//! size is handed out in slices and never in one reply.

use std::time::Duration;

use redis::{Script, aio::ConnectionManager};

use super::{Lease, PRIORITY_STRIDE, QueueDepth, QueueEntry, QueueError};
use crate::{clock::Clock, model::Priority, time::Timestamp};

/// Returns expired leases (ids popped by a process that never claimed them)
/// and at most 1,000 due scheduled entries to the ready set, then leases up
/// to ARGV[2] ready ids until ARGV[5]. A lease member is `score:id`, so its
/// return restores the id's place.
const POP_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  local sep = string.find(member, ':', 1, true)
  redis.call('ZADD', KEYS[1], 'NX', string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
  redis.call('ZREM', KEYS[3], member)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #due, 2 do
  local member = due[i]
  local sep = string.find(member, ':', 1, true)
  local priority = tonumber(string.sub(member, 1, sep - 1))
  local score = (tonumber(ARGV[3]) - priority) * tonumber(ARGV[4]) + tonumber(due[i + 1])
  redis.call('ZADD', KEYS[1], 'NX', score, string.sub(member, sep + 1))
  redis.call('ZREM', KEYS[2], member)
end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
local leases = {}
for i = 1, #popped, 2 do
  local member = popped[i + 1] .. ':' .. popped[i]
  redis.call('ZADD', KEYS[3], ARGV[5], member)
  leases[#leases + 1] = member
end
return leases
";

/// Entries pushed per pipeline.
const PUSH_CHUNK: usize = 1000;

/// Takes the lease when free or renews it when ours.
const LEAD_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// A queue in Redis under a key prefix (one prefix per deployment or test).
#[derive(Clone)]
pub struct RedisQueue {
    conn: ConnectionManager,
    prefix: String,
    clock: Clock,
    pop: Script,
    lead: Script,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisQueue {
    /// Connects to `url`; keys are named `{prefix}:…`. Due times are read
    /// from `clock`, not from Redis: they are the database's times.
    pub async fn connect(url: &str, prefix: &str, clock: Clock) -> Result<Self, QueueError> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            clock,
            pop: Script::new(POP_SCRIPT),
            lead: Script::new(LEAD_SCRIPT),
        })
    }

    /// The connection and key prefix, for other state the fleet keeps in
    /// the same Redis (the API's rate limits).
    pub fn connection(&self) -> (ConnectionManager, &str) {
        (self.conn.clone(), &self.prefix)
    }

    fn key(&self, queue: &str, set: &str) -> String {
        format!("{}:{queue}:{set}", self.prefix)
    }

    pub(super) async fn push(&self, entries: &[QueueEntry]) -> Result<(), QueueError> {
        if entries.is_empty() {
            return Ok(());
        }
        // Bounded pipelines: a fan-out of any size never makes one reply
        // (or one request) that outlasts the response timeout.
        for chunk in entries.chunks(PUSH_CHUNK) {
            self.push_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn push_chunk(&self, entries: &[QueueEntry]) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut pipe = redis::pipe();
        for e in entries {
            if e.run_at <= now {
                let key = self.key(&e.queue, "ready");
                pipe.cmd("ZADD").arg(key).arg("NX").arg(e.ready_score());
                pipe.arg(e.id.to_string());
            } else {
                let member = format!("{}:{}", e.priority.get(), e.id);
                let key = self.key(&e.queue, "scheduled");
                pipe.cmd("ZADD").arg(key).arg("NX").arg(e.run_at.millis());
                pipe.arg(member);
            }
            pipe.ignore();
        }
        let _: () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    pub(super) async fn pop(
        &self,
        queue: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Lease>, QueueError> {
        let now = self.clock.now();
        let members: Vec<String> = self
            .pop
            .key(self.key(queue, "ready"))
            .key(self.key(queue, "scheduled"))
            .key(self.key(queue, "leased"))
            .arg(now.millis())
            .arg(max)
            .arg(Priority::MAX)
            .arg(PRIORITY_STRIDE)
            .arg(now.plus(lease).millis())
            .invoke_async(&mut self.conn.clone())
            .await?;
        members.into_iter().map(Lease::from_member).collect()
    }

    pub(super) async fn ack(&self, queue: &str, leases: &[Lease]) -> Result<(), QueueError> {
        if leases.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.key(queue, "leased"));
        for lease in leases {
            cmd.arg(&lease.receipt);
        }
        let _: i64 = cmd.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    pub(super) async fn depth(&self, queue: &str) -> Result<QueueDepth, QueueError> {
        let (ready, scheduled, leased): (u64, u64, u64) = redis::pipe()
            .zcard(self.key(queue, "ready"))
            .zcard(self.key(queue, "scheduled"))
            .zcard(self.key(queue, "leased"))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(QueueDepth {
            ready: ready + leased,
            scheduled,
        })
    }

    pub(super) async fn redrive_mark(&self) -> Result<Option<Timestamp>, QueueError> {
        let mark: Option<i64> = redis::cmd("GET")
            .arg(format!("{}:redrive_mark", self.prefix))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(mark.map(Timestamp::from_millis))
    }

    pub(super) async fn set_redrive_mark(&self, mark: Timestamp) -> Result<(), QueueError> {
        let _: () = redis::cmd("SET")
            .arg(format!("{}:redrive_mark", self.prefix))
            .arg(mark.millis())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub(super) async fn lead(&self, holder: &str, ttl: Duration) -> Result<bool, QueueError> {
        let held: i64 = self
            .lead
            .key(format!("{}:reconciler", self.prefix))
            .arg(holder)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(held == 1)
    }

    pub(super) async fn ping(&self) -> Result<(), QueueError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
