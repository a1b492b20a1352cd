//! Settings, layered: defaults, then an optional TOML file, then the
//! environment, then command-line flags. Every value is parsed here, once;
//! a bad one stops the start with a line that names it and where it came from.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use mixdown_jobs::{
    backoff::Backoff,
    kind::Timeouts,
    objects::S3Settings,
    tracks::TrackPresets,
    voice::{Lockout, MAX_ENROLL_SAMPLES, VoiceKey},
};
use mixdown_media::{
    decode::DecodeLimits,
    format::{ChannelCount, SampleRate},
    transcode::{Preset, PresetSpec, default_presets},
};

/// One setting: its key in the file, its environment variable, its default
/// and what it means.
struct Key {
    name: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    help: &'static str,
}

const fn key(
    name: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> Key {
    Key {
        name,
        env,
        default,
        help,
    }
}

/// Every setting Mixdown reads.
const KEYS: &[Key] = &[
    key(
        "listen",
        "MIXDOWN_LISTEN",
        Some("127.0.0.1:8080"),
        "address the API listens on",
    ),
    key(
        "worker_listen",
        "MIXDOWN_WORKER_LISTEN",
        Some("127.0.0.1:9091"),
        "address a worker serves /healthz and /metrics on",
    ),
    key(
        "data_dir",
        "MIXDOWN_DATA_DIR",
        Some("./data"),
        "directory of the embedded mode's database and objects",
    ),
    key(
        "database_url",
        "DATABASE_URL",
        None,
        "postgres:// URL of the job store (default: SQLite in the data directory)",
    ),
    key(
        "redis_url",
        "REDIS_URL",
        None,
        "redis:// URL of the queue (default: embedded, dev only)",
    ),
    key(
        "redis_prefix",
        "MIXDOWN_REDIS_PREFIX",
        Some("mixdown"),
        "prefix of every Redis key",
    ),
    key(
        "s3_endpoint",
        "S3_ENDPOINT",
        None,
        "endpoint of an S3-compatible server (default: AWS)",
    ),
    key(
        "s3_bucket",
        "S3_BUCKET",
        None,
        "bucket of the object store (default: a directory in the data directory)",
    ),
    key(
        "s3_region",
        "S3_REGION",
        Some("us-east-1"),
        "signing region of the bucket",
    ),
    key(
        "aws_access_key_id",
        "AWS_ACCESS_KEY_ID",
        None,
        "S3 access key (default: the AWS credential chain)",
    ),
    key(
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        None,
        "S3 secret key",
    ),
    key(
        "log_format",
        "MIXDOWN_LOG_FORMAT",
        Some("text"),
        "text or json",
    ),
    key(
        "concurrency",
        "MIXDOWN_CONCURRENCY",
        Some("8"),
        "attempts a worker runs at once, per queue",
    ),
    key(
        "poll_interval_ms",
        "MIXDOWN_POLL_INTERVAL_MS",
        Some("50"),
        "longest wait between looks at an idle queue",
    ),
    key(
        "heartbeat_interval_ms",
        "MIXDOWN_HEARTBEAT_INTERVAL_MS",
        Some("2000"),
        "time between worker heartbeats",
    ),
    key(
        "dead_after_ms",
        "MIXDOWN_DEAD_AFTER_MS",
        Some("15000"),
        "silence after which a worker's jobs are taken back",
    ),
    key(
        "lease_ms",
        "MIXDOWN_LEASE_MS",
        Some("30000"),
        "how long a fetched id may stay unclaimed before it is handed out again",
    ),
    key(
        "reconcile_interval_ms",
        "MIXDOWN_RECONCILE_INTERVAL_MS",
        Some("5000"),
        "time between reconciler passes",
    ),
    key(
        "redrive_grace_ms",
        "MIXDOWN_REDRIVE_GRACE_MS",
        Some("10000"),
        "age after which a queued job is pushed again in case its push was lost",
    ),
    key(
        "drain_timeout_ms",
        "MIXDOWN_DRAIN_TIMEOUT_MS",
        Some("30000"),
        "how long a stopping worker waits for running attempts",
    ),
    key(
        "job_timeouts",
        "MIXDOWN_JOB_TIMEOUTS",
        None,
        "attempt time limits per kind, e.g. noop=30s,transcode=2h (default: 15m for noop)",
    ),
    key(
        "fault_injection",
        "MIXDOWN_FAULT_INJECTION",
        Some("false"),
        "let noop jobs crash or hog a worker (abort_attempts, block_ms): tests and chaos runs only",
    ),
    key(
        "callback_allow_private",
        "MIXDOWN_CALLBACK_ALLOW_PRIVATE",
        Some("false"),
        "deliver callbacks to loopback and private addresses too (a receiver on this host or network)",
    ),
    key(
        "retry_base_ms",
        "MIXDOWN_RETRY_BASE_MS",
        Some("1000"),
        "delay before the second attempt (doubles each time, with jitter)",
    ),
    key(
        "retry_cap_ms",
        "MIXDOWN_RETRY_CAP_MS",
        Some("600000"),
        "longest delay between attempts",
    ),
    key(
        "max_json_bytes",
        "MIXDOWN_MAX_JSON_BYTES",
        Some("1048576"),
        "largest JSON request body",
    ),
    key(
        "voice_model",
        "MIXDOWN_VOICE_MODEL",
        None,
        "the voice encoder's weights (default: $XDG_CACHE_HOME or ~/.cache, then \
         mixdown/voice/pretrained.pt, where scripts/voice-model.sh puts them)",
    ),
    key(
        "voice_key",
        "MIXDOWN_VOICE_KEY",
        None,
        "base64 of the 32-byte key sealing voiceprints (dev: generated in the data directory)",
    ),
    key(
        "voice_old_keys",
        "MIXDOWN_VOICE_OLD_KEYS",
        None,
        "earlier voice keys, comma-separated: they open old prints, which move to the new key",
    ),
    key(
        "voice_enroll_samples",
        "MIXDOWN_VOICE_ENROLL_SAMPLES",
        Some("3"),
        "good samples an enrollment needs (1 to 10)",
    ),
    key(
        "voice_max_sample_bytes",
        "MIXDOWN_VOICE_MAX_SAMPLE_BYTES",
        Some("10485760"),
        "largest voice sample upload",
    ),
    key(
        "voice_max_failures",
        "MIXDOWN_VOICE_MAX_FAILURES",
        Some("3"),
        "rejected verifications that lock a user (0: never)",
    ),
    key(
        "voice_lockout_secs",
        "MIXDOWN_VOICE_LOCKOUT_SECS",
        Some("900"),
        "window of those rejections, and how long the lock lasts",
    ),
    key(
        "voice_keep_samples",
        "MIXDOWN_VOICE_KEEP_SAMPLES",
        Some("false"),
        "keep voice samples after processing instead of deleting them",
    ),
    key(
        "max_upload_bytes",
        "MIXDOWN_MAX_UPLOAD_BYTES",
        Some("2147483648"),
        "largest track upload",
    ),
    key(
        "max_duration_secs",
        "MIXDOWN_MAX_DURATION_SECS",
        Some("14400"),
        "longest track accepted",
    ),
    key(
        "min_duration_ms",
        "MIXDOWN_MIN_DURATION_MS",
        Some("1000"),
        "shortest track accepted (shorter ones fail too_short)",
    ),
    key(
        "max_sample_rate",
        "MIXDOWN_MAX_SAMPLE_RATE",
        Some("192000"),
        "highest sample rate of a track",
    ),
    key(
        "max_channels",
        "MIXDOWN_MAX_CHANNELS",
        Some("8"),
        "most channels of a track",
    ),
    key(
        "presets_file",
        "MIXDOWN_PRESETS_FILE",
        None,
        "TOML file of [[preset]] tables replacing the built-in output presets",
    ),
    key(
        "url_ttl_secs",
        "MIXDOWN_URL_TTL_SECS",
        Some("3600"),
        "how long output URLs and presigned uploads stay valid",
    ),
    key(
        "public_url",
        "MIXDOWN_PUBLIC_URL",
        None,
        "where clients reach the API, e.g. https://media.example.com (default: paths only)",
    ),
    key(
        "scratch_dir",
        "MIXDOWN_SCRATCH_DIR",
        None,
        "where workers keep originals and outputs while a job runs (default: the system's)",
    ),
];

/// A value and where it came from, so errors can name the source.
#[derive(Clone)]
struct Sourced {
    value: String,
    origin: String,
}

/// Raw values by key, before parsing.
#[derive(Default)]
pub struct Layers(BTreeMap<&'static str, Sourced>);

impl Layers {
    /// Defaults, then `file` (if any), then this process's environment.
    pub fn from_process(file: Option<&PathBuf>) -> anyhow::Result<Self> {
        Self::load(file, |name| std::env::var(name).ok())
    }

    /// Defaults, then `file` (if any), then the environment `env` reads.
    pub fn load(
        file: Option<&PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut layers = Self::default();
        for k in KEYS {
            if let Some(d) = k.default {
                layers.set(k.name, d.to_owned(), format!("default {}", k.name));
            }
        }
        let model = default_voice_model(&env);
        layers.set("voice_model", model, "default voice_model".into());
        if let Some(path) = file {
            layers.read_file(path)?;
        }
        for k in KEYS {
            if let Some(v) = env(k.env).filter(|v| !v.is_empty()) {
                layers.set(k.name, v, k.env.to_owned());
            }
        }
        Ok(layers)
    }

    fn set(&mut self, name: &str, value: String, origin: String) {
        if let Some(k) = KEYS.iter().find(|k| k.name == name) {
            self.0.insert(k.name, Sourced { value, origin });
        }
    }

    /// Overrides `name` with a command-line flag's value.
    pub fn flag(&mut self, name: &str, flag: &str, value: Option<String>) {
        if let Some(v) = value {
            self.set(name, v, flag.to_owned());
        }
    }

    fn read_file(&mut self, path: &PathBuf) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        for (name, value) in table {
            if !KEYS.iter().any(|k| k.name == name) {
                bail!("config file {}: unknown setting {name:?}", path.display());
            }
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => bail!(
                    "config file {}: {name} must be a string or a number",
                    path.display()
                ),
            };
            self.set(&name, value, format!("{name} in {}", path.display()));
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Sourced> {
        self.0.get(name)
    }

    fn parse<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<Option<T>>
    where
        T::Err: fmt::Display,
    {
        self.get(name)
            .map(|s| {
                s.value
                    .parse()
                    .map_err(|e| anyhow::anyhow!("invalid setting {}={:?}: {e}", s.origin, s.value))
            })
            .transpose()
    }

    fn required<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        self.parse(name)?
            .with_context(|| format!("setting {name} has no value"))
    }

    fn millis(&self, name: &str) -> anyhow::Result<Duration> {
        let ms: u64 = self.required(name)?;
        if ms == 0 {
            let s = self.get(name).map(|s| s.origin.clone()).unwrap_or_default();
            bail!("invalid setting {s}=0: must be at least 1 ms");
        }
        Ok(Duration::from_millis(ms))
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|s| s.value.clone())
    }
}

/// Where scripts/voice-model.sh puts the encoder's weights (with no home
/// directory, a relative path: voice jobs then fail `voice_model_missing`).
fn default_voice_model(env: &impl Fn(&str) -> Option<String>) -> String {
    let cache = env("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    let path = cache.join("mixdown/voice/pretrained.pt");
    path.to_string_lossy().into_owned()
}

/// A value that must not reach logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

/// Worker timing knobs.
#[derive(Debug, Clone)]
pub struct WorkerTuning {
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    pub dead_after: Duration,
    pub lease: Duration,
    pub reconcile_interval: Duration,
    pub redrive_grace: Duration,
    pub drain_timeout: Duration,
    pub backoff: Backoff,
    pub timeouts: Timeouts,
    pub fault_injection: bool,
    pub callback_allow_private: bool,
}

/// Every setting, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub worker_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub s3: Option<S3Settings>,
    pub log_format: LogFormat,
    pub worker: WorkerTuning,
    pub max_json_bytes: usize,
    pub voice: VoiceConfig,
    pub tracks: TrackConfig,
}

/// The upload and track settings.
#[derive(Debug, Clone)]
pub struct TrackConfig {
    pub max_upload_bytes: u64,
    pub limits: DecodeLimits,
    pub min_duration: Duration,
    pub presets: Vec<Preset>,
    pub url_ttl: Duration,
    pub public_url: String,
    pub scratch_dir: PathBuf,
}

/// The voice settings.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    pub model: PathBuf,
    /// `None` when not configured: `dev` then makes one, `api` and voice workers refuse to start.
    pub key: Option<VoiceKey>,
    pub old_keys: Vec<VoiceKey>,
    pub enrollment_samples: usize,
    pub max_sample_bytes: u64,
    pub lockout: Lockout,
    pub keep_samples: bool,
}

impl Settings {
    /// Parses every layer's values.
    pub fn parse(l: &Layers) -> anyhow::Result<Self> {
        let concurrency: usize = l.required("concurrency")?;
        if !(1..=10_000).contains(&concurrency) {
            bail!("invalid setting concurrency={concurrency}: must be between 1 and 10000");
        }
        Ok(Self {
            listen: l.required("listen")?,
            worker_listen: l.required("worker_listen")?,
            data_dir: l.required("data_dir")?,
            database_url: l.string("database_url").map(Secret),
            redis_url: l.string("redis_url").map(Secret),
            redis_prefix: l.required("redis_prefix")?,
            s3: s3_settings(l)?,
            log_format: l.required("log_format")?,
            worker: WorkerTuning {
                concurrency,
                poll_interval: l.millis("poll_interval_ms")?,
                heartbeat_interval: l.millis("heartbeat_interval_ms")?,
                dead_after: l.millis("dead_after_ms")?,
                lease: l.millis("lease_ms")?,
                reconcile_interval: l.millis("reconcile_interval_ms")?,
                redrive_grace: l.millis("redrive_grace_ms")?,
                drain_timeout: l.millis("drain_timeout_ms")?,
                backoff: Backoff {
                    base: l.millis("retry_base_ms")?,
                    cap: l.millis("retry_cap_ms")?,
                },
                timeouts: l.parse("job_timeouts")?.unwrap_or_default(),
                fault_injection: l.required("fault_injection")?,
                callback_allow_private: l.required("callback_allow_private")?,
            },
            max_json_bytes: l.required("max_json_bytes")?,
            voice: voice_config(l)?,
            tracks: track_config(l)?,
        })
    }
}

fn track_config(l: &Layers) -> anyhow::Result<TrackConfig> {
    let rate: u32 = l.required("max_sample_rate")?;
    let channels: u16 = l.required("max_channels")?;
    let limits = DecodeLimits {
        max_duration: Duration::from_secs(l.required("max_duration_secs")?),
        max_sample_rate: SampleRate::new(rate)
            .map_err(|e| anyhow::anyhow!("invalid setting max_sample_rate={rate}: {e}"))?,
        max_channels: ChannelCount::new(channels)
            .map_err(|e| anyhow::anyhow!("invalid setting max_channels={channels}: {e}"))?,
    };
    let presets = match l.get("presets_file") {
        None => default_presets(),
        Some(s) => read_presets(Path::new(&s.value))
            .with_context(|| format!("invalid setting {}={:?}", s.origin, s.value))?,
    };
    Ok(TrackConfig {
        max_upload_bytes: l.required("max_upload_bytes")?,
        limits,
        min_duration: Duration::from_millis(l.required("min_duration_ms")?),
        presets,
        url_ttl: Duration::from_secs(l.required("url_ttl_secs")?),
        public_url: l
            .string("public_url")
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_default(),
        scratch_dir: l.parse("scratch_dir")?.unwrap_or_else(std::env::temp_dir),
    })
}

/// A presets file: `[[preset]]` tables of preset fields.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetsFile {
    preset: Vec<PresetSpec>,
}

/// Reads the presets of a presets file, refusing an empty or invalid list.
pub fn read_presets(path: &Path) -> anyhow::Result<Vec<Preset>> {
    let text = std::fs::read_to_string(path).context("cannot read the presets file")?;
    let file: PresetsFile = toml::from_str(&text).context("not a presets file")?;
    let presets = file
        .preset
        .into_iter()
        .map(Preset::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    TrackPresets::new(presets.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(presets)
}

fn voice_config(l: &Layers) -> anyhow::Result<VoiceConfig> {
    let enrollment_samples: usize = l.required("voice_enroll_samples")?;
    if !(1..=MAX_ENROLL_SAMPLES).contains(&enrollment_samples) {
        bail!(
            "invalid setting voice_enroll_samples={enrollment_samples}: must be between 1 and {MAX_ENROLL_SAMPLES}"
        );
    }
    let old_keys = match l.get("voice_old_keys") {
        None => Vec::new(),
        Some(s) => s
            .value
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(|k| voice_key(k, &s.origin))
            .collect::<anyhow::Result<_>>()?,
    };
    Ok(VoiceConfig {
        model: l.required("voice_model")?,
        key: l
            .get("voice_key")
            .map(|s| voice_key(&s.value, &s.origin))
            .transpose()?,
        old_keys,
        enrollment_samples,
        max_sample_bytes: l.required("voice_max_sample_bytes")?,
        lockout: Lockout {
            max_failures: l.required("voice_max_failures")?,
            window: Duration::from_secs(l.required("voice_lockout_secs")?),
        },
        keep_samples: l.required("voice_keep_samples")?,
    })
}

/// Parses a key without ever echoing it.
fn voice_key(text: &str, origin: &str) -> anyhow::Result<VoiceKey> {
    VoiceKey::from_base64(text).map_err(|e| anyhow::anyhow!("invalid setting {origin}: {e}"))
}

fn s3_settings(l: &Layers) -> anyhow::Result<Option<S3Settings>> {
    let Some(bucket) = l.string("s3_bucket") else {
        if l.get("s3_endpoint").is_some() {
            bail!("S3_ENDPOINT is set but S3_BUCKET is not: name the bucket");
        }
        return Ok(None);
    };
    let credentials = match (
        l.string("aws_access_key_id"),
        l.string("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        _ => bail!("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither"),
    };
    Ok(Some(S3Settings {
        endpoint: l.string("s3_endpoint"),
        bucket,
        region: l.required("s3_region")?,
        credentials,
    }))
}

/// The settings table for `--help`.
pub fn help_table() -> String {
    KEYS.iter()
        .map(|k| {
            let default = k
                .default
                .map(|d| format!(" [default: {d}]"))
                .unwrap_or_default();
            format!("  {:<22} {:<30} {}{default}", k.name, k.env, k.help)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_set_means_the_embedded_default() {
        let s = Settings::parse(&Layers::load(None, env_of(&[])).unwrap()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.database_url.is_none() && s.redis_url.is_none() && s.s3.is_none());
    }

    #[test]
    fn a_bad_value_is_named_with_its_source() {
        let layers = Layers::load(None, env_of(&[("MIXDOWN_LISTEN", "nowhere")])).unwrap();
        let err = Settings::parse(&layers).unwrap_err().to_string();
        assert!(err.contains("MIXDOWN_LISTEN=\"nowhere\""), "{err}");
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixdown.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nconcurrency = 3\n").unwrap();
        let env = env_of(&[("MIXDOWN_LISTEN", "127.0.0.1:2")]);
        let mut layers = Layers::load(Some(&path), env).unwrap();
        let s = Settings::parse(&layers).unwrap();
        assert_eq!((s.listen.port(), s.worker.concurrency), (2, 3));
        layers.flag("listen", "--listen", Some("127.0.0.1:3".into()));
        assert_eq!(Settings::parse(&layers).unwrap().listen.port(), 3);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixdown.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = Layers::load(Some(&path), env_of(&[]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn voice_keys_parse_without_echoing_them() {
        let key = VoiceKey::generate_base64();
        let old = VoiceKey::generate_base64();
        let both = format!("{old}, {}", VoiceKey::generate_base64());
        let pairs = [
            ("MIXDOWN_VOICE_KEY", key.as_str()),
            ("MIXDOWN_VOICE_OLD_KEYS", both.as_str()),
        ];
        let s = Settings::parse(&Layers::load(None, env_of(&pairs)).unwrap()).unwrap();
        assert!(s.voice.key.is_some());
        assert_eq!(s.voice.old_keys.len(), 2);
        let bad = env_of(&[("MIXDOWN_VOICE_KEY", "c2VjcmV0LWJ1dC1zaG9ydA==")]);
        let err = Settings::parse(&Layers::load(None, bad).unwrap()).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("MIXDOWN_VOICE_KEY") && !err.contains("c2VjcmV0"),
            "{err}"
        );
    }

    #[test]
    fn the_voice_model_defaults_to_the_cache_directory() {
        let env = env_of(&[("HOME", "/home/u")]);
        let s = Settings::parse(&Layers::load(None, env).unwrap()).unwrap();
        assert_eq!(
            s.voice.model,
            PathBuf::from("/home/u/.cache/mixdown/voice/pretrained.pt")
        );
        let env = env_of(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")]);
        let s = Settings::parse(&Layers::load(None, env).unwrap()).unwrap();
        assert_eq!(
            s.voice.model,
            PathBuf::from("/c/mixdown/voice/pretrained.pt")
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("postgres://u:p@h/db".into())), "***");
    }
}
