//! A worker process's own settings.

use std::{net::SocketAddr, path::PathBuf};

use mixdown_jobs::{backoff::Backoff, kind::Timeouts, social::FeedRules};
use mixdown_media::{
    decode::DecodeLimits,
    format::{ChannelCount, SampleRate},
};
use mixdown_settings::{Millis, Seconds, Value, settings};

settings! {
    /// How a worker takes, runs and gives back work, and the limits of a track.
    pub struct WorkerSettings {
        /// address a worker serves /healthz and /metrics on
        worker_listen: SocketAddr = "127.0.0.1:9091", "MIXDOWN_WORKER_LISTEN";
        /// attempts a worker runs at once, per queue (1 to 10000)
        concurrency: Concurrency = "8", "MIXDOWN_CONCURRENCY";
        /// longest wait between looks at an idle queue
        poll_interval_ms: Millis = "50", "MIXDOWN_POLL_INTERVAL_MS";
        /// how long a fetched id may stay unclaimed before it is handed out again
        lease_ms: Millis = "30000", "MIXDOWN_LEASE_MS";
        /// time between reconciler passes
        reconcile_interval_ms: Millis = "2000", "MIXDOWN_RECONCILE_INTERVAL_MS";
        /// age after which a queued job is pushed again in case its push was lost
        redrive_grace_ms: Millis = "10000", "MIXDOWN_REDRIVE_GRACE_MS";
        /// time between scheduler passes: a schedule's job is made at most this long after its tick
        schedule_interval_ms: Millis = "500", "MIXDOWN_SCHEDULE_INTERVAL_MS";
        /// a schedule's tick met later than this after its instant was missed (see catch_up)
        schedule_grace_ms: Millis = "60000", "MIXDOWN_SCHEDULE_GRACE_MS";
        /// how long a stopping worker waits for running attempts
        drain_timeout_ms: Millis = "30000", "MIXDOWN_DRAIN_TIMEOUT_MS";
        /// attempt time limits per kind, e.g. noop=30s,transcode=2h (default: each kind's own)
        job_timeouts: Timeouts = "", "MIXDOWN_JOB_TIMEOUTS";
        /// let noop jobs crash or hog a worker (abort_attempts, block_ms): tests and chaos runs only
        fault_injection: bool = "false", "MIXDOWN_FAULT_INJECTION";
        /// send callbacks and http jobs to loopback and private addresses too (a receiver on this host or network)
        callback_allow_private: bool = "false", "MIXDOWN_CALLBACK_ALLOW_PRIVATE";
        /// requests of http jobs a worker has in flight to one destination (scheme, host, port) at most (1 to 1000)
        http_per_destination: InRange<1, 1000> = "4", "MIXDOWN_HTTP_PER_DESTINATION";
        /// how long an http job whose destination is at its limit waits before it is tried again (jittered down to half)
        http_defer_ms: Millis = "1000", "MIXDOWN_HTTP_DEFER_MS";
        /// delay before the second attempt (doubles each time, with jitter)
        retry_base_ms: Millis = "1000", "MIXDOWN_RETRY_BASE_MS";
        /// longest delay between attempts
        retry_cap_ms: Millis = "600000", "MIXDOWN_RETRY_CAP_MS";
        /// the voice encoder's weights, where scripts/voice-model.sh puts them
        voice_model: PathBuf = "${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/voice/pretrained.pt", "MIXDOWN_VOICE_MODEL";
        /// least speech a voice sample must hold, ms (500 to 60000; shorter ones fail too_short)
        voice_min_speech_ms: InRange<500, 60000> = "1000", "MIXDOWN_VOICE_MIN_SPEECH_MS";
        /// longest track accepted
        max_duration_secs: Seconds = "14400", "MIXDOWN_MAX_DURATION_SECS";
        /// shortest track accepted (shorter ones fail too_short)
        min_duration_ms: Millis = "1000", "MIXDOWN_MIN_DURATION_MS";
        /// highest sample rate of a track
        max_sample_rate: MaxSampleRate = "192000", "MIXDOWN_MAX_SAMPLE_RATE";
        /// most channels of a track
        max_channels: MaxChannels = "8", "MIXDOWN_MAX_CHANNELS";
        /// where workers keep originals and outputs while a job runs
        scratch_dir: PathBuf = "${TMPDIR:-/tmp}", "MIXDOWN_SCRATCH_DIR";
        /// followers per fan-out chunk job (1 to 100000)
        fanout_chunk_size: InRange<1, 100000> = "10000", "MIXDOWN_FANOUT_CHUNK_SIZE";
        /// fan-out chunks a worker writes at once whatever its concurrency: about one per database core (1 to 64)
        fanout_parallel_writes: InRange<1, 64> = "2", "MIXDOWN_FANOUT_PARALLEL_WRITES";
        /// items a feed keeps, the newest (1 to 100000)
        feed_max_items: InRange<1, 100000> = "1000", "MIXDOWN_FEED_MAX_ITEMS";
        /// one feed in this many that a fan-out writes to is trimmed (1: every one)
        feed_trim_every: InRange<1, 1000> = "128", "MIXDOWN_FEED_TRIM_EVERY";
        /// publish an activity for the owner of a track that becomes ready
        publish_ready_tracks: bool = "true", "MIXDOWN_PUBLISH_READY_TRACKS";
    }
}

impl WorkerSettings {
    /// How retry delays grow.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.retry_base_ms.get(),
            cap: self.retry_cap_ms.get(),
        }
    }

    /// How fan-outs cut their work and how long feeds grow.
    pub fn feed_rules(&self) -> FeedRules {
        FeedRules {
            chunk_size: self.fanout_chunk_size.get(),
            max_items: self.feed_max_items.get(),
            trim_every: self.feed_trim_every.get(),
        }
    }

    /// The longest, fastest and widest original a track may have.
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_duration: self.max_duration_secs.get(),
            max_sample_rate: self.max_sample_rate.0,
            max_channels: self.max_channels.0,
        }
    }
}

/// Attempts run at once per queue: 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency(usize);

impl Concurrency {
    /// The number, if within bounds.
    pub fn new(n: usize) -> Option<Self> {
        (1..=10_000).contains(&n).then_some(Self(n))
    }

    /// The number.
    pub fn get(self) -> usize {
        self.0
    }
}

impl Value for Concurrency {
    fn parse(text: &str) -> Result<Self, String> {
        let n: usize = text.trim().parse().map_err(|e| format!("{e}"))?;
        Self::new(n).ok_or_else(|| "must be between 1 and 10000".into())
    }

    fn show(&self) -> String {
        self.0.to_string()
    }
}

/// A whole number from `LO` to `HI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InRange<const LO: u32, const HI: u32>(u32);

impl<const LO: u32, const HI: u32> InRange<LO, HI> {
    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const LO: u32, const HI: u32> Value for InRange<LO, HI> {
    fn parse(text: &str) -> Result<Self, String> {
        let n: u32 = text.trim().parse().map_err(|e| format!("{e}"))?;
        (LO..=HI)
            .contains(&n)
            .then_some(Self(n))
            .ok_or_else(|| format!("must be between {LO} and {HI}"))
    }

    fn show(&self) -> String {
        self.0.to_string()
    }
}

/// The highest sample rate a track may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxSampleRate(SampleRate);

impl Value for MaxSampleRate {
    fn parse(text: &str) -> Result<Self, String> {
        let hz: u32 = text.trim().parse().map_err(|e| format!("{e}"))?;
        SampleRate::new(hz).map(Self).map_err(|e| e.to_string())
    }

    fn show(&self) -> String {
        self.0.hz().to_string()
    }
}

/// The most channels a track may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxChannels(ChannelCount);

impl Value for MaxChannels {
    fn parse(text: &str) -> Result<Self, String> {
        let n: u16 = text.trim().parse().map_err(|e| format!("{e}"))?;
        ChannelCount::new(n).map(Self).map_err(|e| e.to_string())
    }

    fn show(&self) -> String {
        self.0.get().to_string()
    }
}

#[cfg(test)]
mod tests {
    use mixdown_settings::{Layers, Settings};

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<WorkerSettings, String> {
        let layers = Layers::from_pairs(&[WorkerSettings::FIELDS], pairs);
        layers.and_then(|l| l.build()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_voice_model_defaults_to_the_cache_directory() {
        let s = load(&[("HOME", "/home/u")]).unwrap();
        let expected = PathBuf::from("/home/u/.cache/mixdown/voice/pretrained.pt");
        assert_eq!(s.voice_model, expected);
        let s = load(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")]).unwrap();
        assert_eq!(
            s.voice_model,
            PathBuf::from("/c/mixdown/voice/pretrained.pt")
        );
    }

    #[test]
    fn limits_are_checked_as_they_are_read() {
        for (env, bad) in [
            ("MIXDOWN_CONCURRENCY", "0"),
            ("MIXDOWN_CONCURRENCY", "10001"),
            ("MIXDOWN_MAX_SAMPLE_RATE", "0"),
            ("MIXDOWN_MAX_CHANNELS", "0"),
            ("MIXDOWN_JOB_TIMEOUTS", "noop=5"),
            ("MIXDOWN_FANOUT_CHUNK_SIZE", "0"),
            ("MIXDOWN_FEED_MAX_ITEMS", "100001"),
            ("MIXDOWN_HTTP_PER_DESTINATION", "0"),
            ("MIXDOWN_HTTP_DEFER_MS", "0"),
        ] {
            let err = load(&[(env, bad)]).unwrap_err();
            assert!(err.starts_with(&format!("invalid setting {env}=")), "{err}");
        }
        let s = load(&[("MIXDOWN_JOB_TIMEOUTS", "noop=30s")]).unwrap();
        assert_eq!(s.job_timeouts.show(), "noop=30000ms");
        assert_eq!(s.decode_limits().max_channels.get(), 8);
    }
}
