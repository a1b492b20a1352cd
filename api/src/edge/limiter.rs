//! Where token buckets live: in Redis, shared by every API replica of the
//! fleet and updated by one atomic script, or in this process's memory in
//! the embedded mode. A replica takes a busy tenant's tokens from Redis a
//! lease at a time ([`RateLimit::lease`]) and spends them here: never more
//! than the bucket held, and at most a lease a second per replica left
//! unspent.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mixdown_jobs::{queue::Queue, redis_target::RedisConn};
use redis::Script;

use super::rate::{Bucket, Decision, RateLimit};

/// The bucket update of [`RateLimit::take`], on Redis's clock so that every
/// replica counts the same time. KEYS[1]: the bucket; ARGV: tokens gained per
/// millisecond, burst, cost (0 only looks), tokens wanted ahead. Returns
/// {allowed, tokens, taken ahead}: what is taken ahead never refuses the
/// request itself.
const TAKE_SCRIPT: &str = r"
local per_ms = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ahead = tonumber(ARGV[4])
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
  ahead = math.min(ahead, math.floor(tokens))
  tokens = tokens - ahead
else
  ahead = 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms) + 1000)
return {allowed, tostring(tokens), ahead}
";

/// How long tokens taken ahead are kept: what a replica has not spent by
/// then is dropped, so it holds back at most a lease per this period.
const LEASE_LIFE: Duration = Duration::from_secs(1);

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
        leases: Arc<Leases>,
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
                    leases: Arc::default(),
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
                leases,
            } => {
                let lease = limit.lease();
                let ahead = match leases.spend(key, cost, lease, Instant::now()) {
                    Spend::Spent(tokens) => return Ok(limit.decision(tokens, true)),
                    Spend::Refill => lease,
                    Spend::Ask => 0,
                };
                let taken: redis::RedisResult<(i64, String, u32)> = script
                    .key(format!("{prefix}:{key}"))
                    .arg(limit.per_ms())
                    .arg(limit.burst())
                    .arg(cost)
                    .arg(ahead)
                    .invoke_async(&mut conn.clone())
                    .await;
                if ahead > 0 {
                    let got = taken.as_ref().map_or(0, |(_, _, got)| *got);
                    let bucket = taken.as_ref().ok().map(|(_, tokens, _)| tokens.as_str());
                    leases.refilled(key, got, bucket, Instant::now());
                }
                let (allowed, tokens, _) = taken?;
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

/// Tokens this replica took ahead from shared buckets, by bucket.
#[derive(Default)]
pub(crate) struct Leases(Mutex<HashMap<String, Lease>>);

/// The tokens held for one bucket.
struct Lease {
    tokens: u32,
    /// What the shared bucket held after the lease was taken, for the
    /// `RateLimit-Remaining` a client is told.
    bucket: f64,
    until: Instant,
    /// One request is taking the next lease: the others ask for their own
    /// token meanwhile instead of all taking a lease at once.
    refilling: bool,
}

/// How a request gets its tokens.
#[derive(Debug, PartialEq)]
enum Spend {
    /// From the lease; the bucket and lease tokens left.
    Spent(f64),
    /// From the shared bucket, with the next lease.
    Refill,
    /// From the shared bucket alone.
    Ask,
}

impl Leases {
    /// Spends `cost` tokens of the lease on `key`, or says how to take them
    /// from the shared bucket; `lease` is what the bucket's rate allows ahead.
    fn spend(&self, key: &str, cost: u32, lease: u32, now: Instant) -> Spend {
        if cost == 0 || lease == 0 {
            return Spend::Ask;
        }
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(key) {
            if map.len() >= MEMORY_BUCKETS {
                map.retain(|_, held| held.until > now || held.refilling);
            }
            let empty = Lease {
                tokens: 0,
                bucket: 0.0,
                until: now,
                refilling: false,
            };
            map.insert(key.to_owned(), empty);
        }
        let held = map.get_mut(key).expect("inserted above");
        if held.until > now && held.tokens >= cost {
            held.tokens -= cost;
            return Spend::Spent(held.bucket + f64::from(held.tokens));
        }
        if held.refilling {
            return Spend::Ask;
        }
        held.refilling = true;
        Spend::Refill
    }

    /// Keeps the `got` tokens a refill took (none when it failed), the
    /// shared bucket having `bucket` tokens left after it.
    fn refilled(&self, key: &str, got: u32, bucket: Option<&str>, now: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(held) = map.get_mut(key) else {
            return;
        };
        held.refilling = false;
        if got > 0 {
            // Tokens left of an expired lease are dropped with it.
            if held.until <= now {
                held.tokens = 0;
            }
            held.tokens += got;
            held.bucket = bucket.and_then(|b| b.parse().ok()).unwrap_or(0.0);
            held.until = now + LEASE_LIFE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time_takes_the_next_lease_and_the_others_ask_alone() {
        let leases = Leases::default();
        let t0 = Instant::now();
        assert_eq!(
            leases.spend("t", 0, 5, t0),
            Spend::Ask,
            "a look takes nothing"
        );
        assert_eq!(
            leases.spend("t", 1, 0, t0),
            Spend::Ask,
            "a slow bucket is exact"
        );
        assert_eq!(leases.spend("t", 1, 5, t0), Spend::Refill);
        assert_eq!(
            leases.spend("t", 1, 5, t0),
            Spend::Ask,
            "one refill at a time"
        );
        leases.refilled("t", 3, Some("100.5"), t0);
        for left in [2.0, 1.0, 0.0] {
            assert_eq!(leases.spend("t", 1, 5, t0), Spend::Spent(100.5 + left));
        }
        assert_eq!(leases.spend("t", 1, 5, t0), Spend::Refill, "spent out");
        leases.refilled("t", 0, None, t0);
        assert_eq!(
            leases.spend("t", 1, 5, t0),
            Spend::Refill,
            "a failed refill frees the turn"
        );
    }

    #[test]
    fn tokens_not_spent_within_the_lease_life_are_dropped() {
        let leases = Leases::default();
        let t0 = Instant::now();
        assert_eq!(leases.spend("t", 1, 5, t0), Spend::Refill);
        leases.refilled("t", 5, Some("10"), t0);
        let later = t0 + LEASE_LIFE;
        assert_eq!(leases.spend("t", 1, 5, later), Spend::Refill);
        leases.refilled("t", 2, Some("3"), later);
        assert_eq!(leases.spend("t", 1, 5, later), Spend::Spent(4.0));
        assert_eq!(leases.spend("t", 1, 5, later), Spend::Spent(3.0));
        assert_eq!(
            leases.spend("t", 1, 5, later),
            Spend::Refill,
            "the old five are gone"
        );
    }
}
