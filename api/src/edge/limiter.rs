//! Where token buckets live: in Redis, shared by every API replica of the
//! fleet and updated by one atomic script, or in this process's memory in
//! the embedded mode.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use mixdown_jobs::{queue::Queue, redis_target::RedisConn};
use redis::Script;

use super::rate::{Bucket, Decision, RateLimit};

/// The bucket update of [`RateLimit::take`], on Redis's clock so that every
/// replica counts the same time. KEYS[1]: the bucket; ARGV: tokens gained per
/// millisecond, burst, cost (0 only looks). Returns {allowed, tokens}.
const TAKE_SCRIPT: &str = r"
local per_ms = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if held[1] then
  tokens = math.min(burst, tonumber(held[1]) + math.max(0, now - tonumber(held[2])) * per_ms)
end
local allowed = 0
if tokens >= math.max(cost, 1) then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms) + 1000)
return {allowed, tostring(tokens)}
";

/// Buckets kept in memory before full ones are forgotten: a flood from many
/// addresses cannot grow the map without bound.
const MEMORY_BUCKETS: usize = 10_000;

/// The buckets of one deployment; cheap to clone.
#[derive(Clone)]
pub(crate) enum Limiter {
    /// In Redis under the fleet's key prefix.
    Redis {
        conn: RedisConn,
        prefix: Arc<str>,
        script: Arc<Script>,
    },
    /// In this process.
    Memory {
        /// Each bucket with the time it is full again (and may be forgotten).
        buckets: Arc<Mutex<HashMap<String, (Bucket, u64)>>>,
        epoch: Instant,
    },
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis { .. } => "Limiter::Redis",
            Self::Memory { .. } => "Limiter::Memory",
        })
    }
}

impl Limiter {
    /// Buckets beside the queue: in its Redis, or in memory with the embedded one.
    pub(crate) fn beside(queue: &Queue) -> Self {
        match queue {
            Queue::Redis(q) => {
                let (conn, prefix) = q.connection();
                Self::Redis {
                    conn,
                    prefix: format!("{prefix}:ratelimit").into(),
                    script: Arc::new(Script::new(TAKE_SCRIPT)),
                }
            }
            Queue::Embedded(_) => Self::Memory {
                buckets: Arc::default(),
                epoch: Instant::now(),
            },
        }
    }

    /// Takes `cost` tokens (0: only looks) from the bucket named `key`, held
    /// to `limit`.
    pub(crate) async fn take(
        &self,
        key: &str,
        limit: &RateLimit,
        cost: u32,
    ) -> Result<Decision, redis::RedisError> {
        let (tokens, allowed) = match self {
            Self::Redis {
                conn,
                prefix,
                script,
            } => {
                let (allowed, tokens): (i64, String) = script
                    .key(format!("{prefix}:{key}"))
                    .arg(limit.per_ms())
                    .arg(limit.burst())
                    .arg(cost)
                    .invoke_async(&mut conn.clone())
                    .await?;
                (tokens.parse().unwrap_or(0.0), allowed == 1)
            }
            Self::Memory { buckets, epoch } => {
                let now = epoch.elapsed().as_millis() as u64;
                let mut map = buckets.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() >= MEMORY_BUCKETS && !map.contains_key(key) {
                    map.retain(|_, (_, full_at)| *full_at > now);
                }
                let held = map.get(key).map(|(b, _)| *b);
                let (bucket, allowed) = limit.take(held, now, cost);
                let missing = f64::from(limit.burst()) - bucket.tokens;
                let full_at = now + (missing / limit.per_ms()).ceil() as u64;
                map.insert(key.to_owned(), (bucket, full_at));
                (bucket.tokens, allowed)
            }
        };
        Ok(limit.decision(tokens, allowed))
    }
}
