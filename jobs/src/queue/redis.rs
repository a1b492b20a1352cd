//! The fleet queue over Redis. Per queue (keys `{{prefix}:{queue}}:…`, one
//! hash slot per queue, so a Redis Cluster spreads queues over its nodes):
//! `ready:{tenant}`, a sorted set per tenant of due ids by priority then due
//! time; `turns`, the tenants with due work by virtual time; `clock`, the
//! virtual time of the last turn; `ready_count`; `later`, ids by due time
//! (members `priority:tenant:id`); `held`, ids handed out and not yet
//! acknowledged, by deadline (members `score:tenant:id`, so a returning id
//! finds its place again). Scripts move entries in bounded steps, so a
//! backlog of any size is handed out in slices and never in one reply. The
//! scripts get the queue's hash-tagged base in `KEYS[1]` and build every key
//! they touch from it, so all of them live in the slot the call is sent to.
//!
//! Keys of the layout before hash tags (`{prefix}:{queue}:…`) are moved into
//! it by the reconciler ([`RedisQueue::adopt_untagged`]), a slice at a time.

use std::{sync::Arc, time::Duration};

use futures::future::try_join_all;
use redis::Script;

use super::{Lease, PRIORITY_STRIDE, QueueDepth, QueueEntry, QueueError, fairness::TenantWeights};
use crate::{
    clock::Clock,
    kind::JobKind,
    model::Priority,
    redis_target::{RedisConn, RedisTarget},
    time::Timestamp,
};

/// What both scripts share. `KEYS[1]` is the queue's key prefix; `ARGV[1]`
/// the time, `ARGV[2]` the highest priority, `ARGV[3]` the priority stride.
/// Scores go back to Redis through `%.0f`: Lua prints numbers with 14
/// digits, which would round a score.
const SHARED: &str = r"
local queue = KEYS[1]
local now = tonumber(ARGV[1])
local function int(x) return string.format('%.0f', x) end
local function score(priority, run_at)
  return int((tonumber(ARGV[2]) - tonumber(priority)) * tonumber(ARGV[3]) + tonumber(run_at))
end
local function enter(tenant, score, id)
  if redis.call('ZADD', queue .. 'ready:' .. tenant, 'NX', score, id) == 0 then return end
  redis.call('INCR', queue .. 'ready_count')
  if redis.call('ZSCORE', queue .. 'turns', tenant) then return end
  local least = redis.call('ZRANGE', queue .. 'turns', 0, 0, 'WITHSCORES')[2]
  redis.call('ZADD', queue .. 'turns', least or redis.call('GET', queue .. 'clock') or 0, tenant)
end
local function split(member)
  local a = string.find(member, ':', 1, true)
  local b = string.find(member, ':', a + 1, true)
  return string.sub(member, 1, a - 1), string.sub(member, a + 1, b - 1), string.sub(member, b + 1)
end
";

/// Adds entries given as `tenant, id, priority, run_at` from `ARGV[4]` on:
/// due ones to their tenant's ready set, others to the scheduled set.
const PUSH_SCRIPT: &str = r"
for i = 4, #ARGV, 4 do
  local tenant, id, priority, run_at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if tonumber(run_at) <= now then
    enter(tenant, score(priority, run_at), id)
  else
    redis.call('ZADD', queue .. 'later', 'NX', run_at, priority .. ':' .. tenant .. ':' .. id)
  end
end
";

/// Returns at most 1,000 expired leases (ids popped by a process that never
/// claimed them) and 1,000 due scheduled entries to their ready sets, then
/// leases up to `ARGV[4]` ready ids until `ARGV[5]`, tenant by tenant in
/// virtual-time order. A turn costs `ARGV[6]`, or the cost paired with the
/// tenant in `ARGV[7…]`. Each pass of the loop leases or retires a tenant.
/// Leases enter `held` a thousand per ZADD: a call per lease was a sixth of
/// the script's time.
const POP_SCRIPT: &str = r"
local max, until_ = tonumber(ARGV[4]), ARGV[5]
local steps = {}
for i = 7, #ARGV, 2 do steps[ARGV[i]] = tonumber(ARGV[i + 1]) end
local expired = redis.call('ZRANGEBYSCORE', queue .. 'held', '-inf', now, 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  local s, tenant, id = split(member)
  enter(tenant, s, id)
  redis.call('ZREM', queue .. 'held', member)
end
local due = redis.call('ZRANGEBYSCORE', queue .. 'later', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #due, 2 do
  local priority, tenant, id = split(due[i])
  enter(tenant, score(priority, due[i + 1]), id)
  redis.call('ZREM', queue .. 'later', due[i])
end
local leases = {}
while #leases < max do
  local two = redis.call('ZRANGE', queue .. 'turns', 0, 1, 'WITHSCORES')
  if #two == 0 then break end
  local tenant, time = two[1], tonumber(two[2])
  local step = steps[tenant] or tonumber(ARGV[6])
  local turns = max - #leases
  if two[3] then turns = math.max(1, math.min(turns, math.floor((tonumber(two[4]) - time) / step))) end
  local ready = queue .. 'ready:' .. tenant
  local popped = redis.call('ZPOPMIN', ready, turns)
  local held = {}
  for i = 1, #popped, 2 do
    local member = popped[i + 1] .. ':' .. tenant .. ':' .. popped[i]
    held[#held + 1] = until_
    held[#held + 1] = member
    leases[#leases + 1] = member
    if #held == 2000 or i + 1 == #popped then
      redis.call('ZADD', queue .. 'held', unpack(held))
      held = {}
    end
  end
  if #popped > 0 then redis.call('DECRBY', queue .. 'ready_count', #popped / 2) end
  redis.call('SET', queue .. 'clock', int(time))
  if redis.call('EXISTS', ready) == 1 then
    redis.call('ZADD', queue .. 'turns', int(time + step * #popped / 2), tenant)
  else
    redis.call('ZREM', queue .. 'turns', tenant)
  end
end
return leases
";

/// Entries pushed per script call.
const PUSH_CHUNK: usize = 1000;

/// Moves up to 1,000 entries of the untagged layout under `KEYS[2]` into the
/// queue: ready ids through `enter` (so turns and counts follow), scheduled
/// and leased ones as they are. Returns 1 once nothing is left to move. One
/// server only: the two bases hash to different slots.
const ADOPT_SCRIPT: &str = r"
local old = KEYS[2]
local budget = 1000
local function take(key, count)
  local members = redis.call('ZRANGE', key, 0, count - 1, 'WITHSCORES')
  local ids = {}
  for i = 1, #members, 2 do ids[#ids + 1] = members[i] end
  if #ids > 0 then redis.call('ZREM', key, unpack(ids)) end
  budget = budget - #ids
  return members
end
for _, tenant in ipairs(redis.call('ZRANGE', old .. 'turns', 0, 99)) do
  local ready = take(old .. 'ready:' .. tenant, budget)
  for i = 1, #ready, 2 do enter(tenant, ready[i + 1], ready[i]) end
  if redis.call('EXISTS', old .. 'ready:' .. tenant) == 0 then
    redis.call('ZREM', old .. 'turns', tenant)
  end
  if budget <= 0 then return {1000 - budget, 0} end
end
for _, set in ipairs({'later', 'held'}) do
  local moved = take(old .. set, budget)
  for i = 1, #moved, 2 do redis.call('ZADD', queue .. set, 'NX', moved[i + 1], moved[i]) end
  if budget <= 0 then return {1000 - budget, 0} end
end
if redis.call('EXISTS', old .. 'turns') == 1 then return {1000 - budget, 0} end
redis.call('DEL', old .. 'clock', old .. 'ready_count')
return {1000 - budget, 1}
";

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
    target: RedisTarget,
    conn: RedisConn,
    prefix: String,
    clock: Clock,
    weights: Arc<TenantWeights>,
    scripts: Arc<Scripts>,
}

/// The queue's scripts, loaded once per process.
struct Scripts {
    push: Script,
    pop: Script,
    adopt: Script,
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
    /// Connects to `url` (a server or a cluster, see [`RedisTarget::parse`]);
    /// keys are named `{prefix}:…`. Due times are read from `clock`, not
    /// from Redis: they are the database's times.
    pub async fn connect(url: &str, prefix: &str, clock: Clock) -> Result<Self, QueueError> {
        let target = RedisTarget::parse(url)?;
        Ok(Self {
            conn: target.connect().await?,
            target,
            prefix: prefix.to_owned(),
            clock,
            weights: Arc::default(),
            scripts: Arc::new(Scripts {
                push: Script::new(&format!("{SHARED}{PUSH_SCRIPT}")),
                pop: Script::new(&format!("{SHARED}{POP_SCRIPT}")),
                adopt: Script::new(&format!("{SHARED}{ADOPT_SCRIPT}")),
                lead: Script::new(LEAD_SCRIPT),
            }),
        })
    }

    /// The connection and key prefix, for other state the fleet keeps in
    /// the same Redis (the API's rate limits).
    pub fn connection(&self) -> (RedisConn, &str) {
        (self.conn.clone(), &self.prefix)
    }

    /// The queue with tenants taking turns by `weights`.
    pub fn with_weights(self, weights: TenantWeights) -> Self {
        Self {
            weights: Arc::new(weights),
            ..self
        }
    }

    /// A key of `queue`: every key of a queue shares its hash tag.
    fn key(&self, queue: &str, set: &str) -> String {
        format!("{{{}:{queue}}}:{set}", self.prefix)
    }

    /// A script call on `queue` with the arguments every script takes.
    fn invocation<'a>(&self, script: &'a Script, queue: &str) -> redis::ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        call.key(self.key(queue, ""))
            .arg(self.clock.now().millis())
            .arg(Priority::MAX)
            .arg(PRIORITY_STRIDE);
        call
    }

    pub(super) async fn push(&self, entries: &[QueueEntry]) -> Result<(), QueueError> {
        let mut by_queue: std::collections::BTreeMap<&str, Vec<&QueueEntry>> = Default::default();
        for e in entries {
            by_queue.entry(e.queue.as_str()).or_default().push(e);
        }
        // Bounded calls: a fan-out of any size never makes one request that
        // outlasts the response timeout or holds Redis for long.
        for (queue, entries) in by_queue {
            for chunk in entries.chunks(PUSH_CHUNK) {
                let mut call = self.invocation(&self.scripts.push, queue);
                for e in chunk {
                    call.arg(e.tenant.to_string())
                        .arg(e.id.to_string())
                        .arg(e.priority.get())
                        .arg(e.run_at.millis());
                }
                let () = call.invoke_async(&mut self.conn.clone()).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn pop(
        &self,
        queue: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Lease>, QueueError> {
        let mut call = self.invocation(&self.scripts.pop, queue);
        call.arg(max)
            .arg(self.clock.now().plus(lease).millis())
            .arg(super::fairness::TURN);
        for (tenant, step) in self.weights.steps() {
            call.arg(tenant.to_string()).arg(step);
        }
        let members: Vec<String> = call.invoke_async(&mut self.conn.clone()).await?;
        members.into_iter().map(Lease::from_member).collect()
    }

    /// Moves what the layout before hash tags (`{prefix}:{queue}:…`) still
    /// holds of `queue` into the queue, a slice per call so Redis is never
    /// held long; returns how many entries moved. Cheap when there is none,
    /// so the reconciler calls it every pass: replicas of an older version
    /// still running in a rolling upgrade keep pushing there. A cluster has
    /// nothing to move: the old layout could not run on one.
    pub(super) async fn adopt_untagged(&self, queue: &str) -> Result<u64, QueueError> {
        if self.target.is_cluster() {
            return Ok(0);
        }
        let mut moved = 0;
        loop {
            let mut call = self.invocation(&self.scripts.adopt, queue);
            call.key(format!("{}:{queue}:", self.prefix));
            let (slice, done): (u64, i64) = call.invoke_async(&mut self.conn.clone()).await?;
            moved += slice;
            if done == 1 {
                return Ok(moved);
            }
        }
    }

    pub(super) async fn ack(&self, queue: &str, leases: &[Lease]) -> Result<(), QueueError> {
        if leases.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.key(queue, "held"));
        for lease in leases {
            cmd.arg(&lease.receipt);
        }
        let _: i64 = cmd.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    pub(super) async fn depth(&self, queue: &str) -> Result<QueueDepth, QueueError> {
        let (ready, scheduled, leased): (Option<u64>, u64, u64) = redis::pipe()
            .get(self.key(queue, "ready_count"))
            .zcard(self.key(queue, "later"))
            .zcard(self.key(queue, "held"))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(QueueDepth {
            ready: ready.unwrap_or(0) + leased,
            scheduled,
        })
    }

    /// The least of the queues' marks: each queue keeps a copy in its own
    /// slot, so a cluster node that loses its queues loses their mark with
    /// them, and the reconciler pushes everything again.
    pub(super) async fn redrive_mark(&self) -> Result<Option<Timestamp>, QueueError> {
        let reads = self.redrive_mark_keys().map(|key| {
            let mut conn = self.conn.clone();
            async move { redis::cmd("GET").arg(key).query_async(&mut conn).await }
        });
        let marks: Vec<Option<i64>> = try_join_all(reads).await?;
        let least = marks.into_iter().collect::<Option<Vec<_>>>();
        Ok(least
            .and_then(|m| m.into_iter().min())
            .map(Timestamp::from_millis))
    }

    pub(super) async fn set_redrive_mark(&self, mark: Timestamp) -> Result<(), QueueError> {
        let writes = self.redrive_mark_keys().map(|key| {
            let mut conn = self.conn.clone();
            async move {
                let mut set = redis::cmd("SET");
                set.arg(key).arg(mark.millis());
                set.query_async::<()>(&mut conn).await
            }
        });
        try_join_all(writes).await?;
        Ok(())
    }

    /// Named apart from the marks of earlier layouts, so that the first
    /// pass over an older Redis, finding none, pushes every queued job again.
    fn redrive_mark_keys(&self) -> impl Iterator<Item = String> + '_ {
        let queues = JobKind::queues_of(&JobKind::ALL).into_iter();
        queues.map(|queue| self.key(queue, "redrive_from"))
    }

    pub(super) async fn lead(&self, holder: &str, ttl: Duration) -> Result<bool, QueueError> {
        let held: i64 = self
            .scripts
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
