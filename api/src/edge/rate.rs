//! Request rates as settings and tenants name them (`200/s burst 400`), and
//! the token bucket that holds a client to one.

use std::fmt;

use mixdown_settings::Value;

/// The period a rate is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Second,
    Minute,
    Hour,
}

impl Period {
    fn millis(self) -> f64 {
        match self {
            Self::Second => 1_000.0,
            Self::Minute => 60_000.0,
            Self::Hour => 3_600_000.0,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "min",
            Self::Hour => "h",
        }
    }
}

/// A sustained rate and the burst a client may spend at once:
/// `N/s`, `N/min` or `N/h`, then optionally `burst M` (default: N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    count: u32,
    period: Period,
    burst: u32,
}

/// Milliseconds of a rate an API replica takes ahead from a shared bucket.
const LEASE_MS: f64 = 10.0;

impl RateLimit {
    /// Tokens an API replica may take ahead of its requests from a shared
    /// bucket, so that a busy tenant costs one call to the bucket's store per
    /// lease rather than per request: 10 ms of the rate, at most a tenth of
    /// the burst, and none below two, so slow or small buckets stay exact.
    pub(crate) fn lease(&self) -> u32 {
        let tokens = (self.per_ms() * LEASE_MS).min(f64::from(self.burst) / 10.0);
        if tokens < 2.0 { 0 } else { tokens as u32 }
    }

    /// Tokens the bucket gains per millisecond.
    pub(crate) fn per_ms(&self) -> f64 {
        f64::from(self.count) / self.period.millis()
    }

    /// Most tokens the bucket holds: the `RateLimit-Limit` a client sees.
    pub(crate) fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes `cost` tokens (0: only looks) from `bucket` (`None`: a full one)
    /// at `now_ms`: the bucket after, and whether the tokens were there.
    pub(crate) fn take(&self, bucket: Option<Bucket>, now_ms: u64, cost: u32) -> (Bucket, bool) {
        let burst = f64::from(self.burst);
        let tokens = bucket.map_or(burst, |b| {
            let gained = now_ms.saturating_sub(b.at_ms) as f64 * self.per_ms();
            (b.tokens + gained).min(burst)
        });
        let cost = f64::from(cost);
        let allowed = tokens >= cost.max(1.0);
        let tokens = if allowed { tokens - cost } else { tokens };
        (
            Bucket {
                tokens,
                at_ms: now_ms,
            },
            allowed,
        )
    }

    /// What a client is told of a bucket holding `tokens`.
    pub(crate) fn decision(&self, tokens: f64, allowed: bool) -> Decision {
        let secs_until = |target: f64| ((target - tokens).max(0.0) / self.per_ms() / 1000.0).ceil();
        Decision {
            limit: self.burst,
            remaining: tokens.max(0.0).floor() as u32,
            reset_secs: secs_until(f64::from(self.burst)) as u64,
            retry_after_secs: (!allowed).then(|| secs_until(1.0).max(1.0) as u64),
        }
    }
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("{text:?} is not a rate such as `200/s` or `200/s burst 400`");
        let mut words = text.split_whitespace();
        let rate = words.next().ok_or_else(expected)?;
        let (count, unit) = rate.split_once('/').ok_or_else(expected)?;
        let count: u32 = count.parse().map_err(|_| expected())?;
        let period = match unit {
            "s" => Period::Second,
            "min" => Period::Minute,
            "h" => Period::Hour,
            _ => return Err(expected()),
        };
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => count,
            (Some("burst"), Some(n), None) => n.parse().map_err(|_| expected())?,
            _ => return Err(expected()),
        };
        if count == 0 || burst == 0 {
            return Err(format!(
                "{text:?}: a rate and its burst must be more than zero"
            ));
        }
        Ok(Self {
            count,
            period,
            burst,
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            count,
            period,
            burst,
        } = self;
        write!(f, "{count}/{} burst {burst}", period.unit())
    }
}

impl Value for RateLimit {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

/// The tokens a bucket held at a moment (milliseconds of the limiter's clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Tokens left, fractions included.
    pub(crate) tokens: f64,
    /// When they were counted.
    pub(crate) at_ms: u64,
}

/// What one request is told of its bucket: the `RateLimit-*` headers, and
/// `Retry-After` when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Most tokens the bucket holds.
    pub(crate) limit: u32,
    /// Whole tokens left.
    pub(crate) remaining: u32,
    /// Seconds until the bucket is full again.
    pub(crate) reset_secs: u64,
    /// Seconds until a refused request may succeed; `None` when allowed.
    pub(crate) retry_after_secs: Option<u64>,
}

impl Decision {
    /// Whether the request may go on.
    pub(crate) fn allowed(&self) -> bool {
        self.retry_after_secs.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> RateLimit {
        text.parse().unwrap()
    }

    #[test]
    fn only_fast_large_buckets_are_leased_ahead() {
        assert_eq!(rate("1000000/s").lease(), 10_000);
        assert_eq!(rate("1000/s burst 50").lease(), 5);
        assert_eq!(
            rate("100/s").lease(),
            0,
            "one token in 10 ms is taken as asked"
        );
        assert_eq!(rate("1/min burst 10").lease(), 0);
        assert_eq!(
            rate("100000/s burst 15").lease(),
            0,
            "a tenth of the burst is one"
        );
    }

    #[test]
    fn rates_parse_with_or_without_a_burst_and_show_canonically() {
        assert_eq!(rate("200/s").to_string(), "200/s burst 200");
        assert_eq!(rate(" 5/min  burst 20 ").to_string(), "5/min burst 20");
        assert_eq!(rate("100/h burst 1").burst(), 1);
        for bad in [
            "",
            "200",
            "200/day",
            "0/s",
            "5/s burst 0",
            "5/s burst",
            "5/s bust 3",
            "x/s",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_the_rate() {
        let limit = rate("10/s burst 3");
        let mut bucket = None;
        for _ in 0..3 {
            let (b, allowed) = limit.take(bucket, 0, 1);
            assert!(allowed);
            bucket = Some(b);
        }
        let (b, allowed) = limit.take(bucket, 0, 1);
        assert!(!allowed);
        let told = limit.decision(b.tokens, allowed);
        assert_eq!((told.remaining, told.retry_after_secs), (0, Some(1)));
        // 100 ms at 10/s is one token.
        let (b, allowed) = limit.take(Some(b), 100, 1);
        assert!(allowed && b.tokens.abs() < 1e-9);
        assert_eq!(limit.decision(b.tokens, true).reset_secs, 1);
    }

    #[test]
    fn looking_takes_nothing_and_a_bucket_never_overfills() {
        let limit = rate("1/min burst 2");
        let (b, allowed) = limit.take(None, 0, 0);
        assert!(allowed && b.tokens == 2.0);
        let (b, _) = limit.take(
            Some(Bucket {
                tokens: 0.0,
                at_ms: 0,
            }),
            3_600_000,
            1,
        );
        assert_eq!(b.tokens, 1.0);
        let told = limit.decision(0.5, false);
        assert_eq!(told.retry_after_secs, Some(30));
        assert_eq!(told.reset_secs, 90);
    }
}
