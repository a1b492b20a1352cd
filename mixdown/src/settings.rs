//! The process's settings: each crate's struct, loaded from the same layers
//! (defaults, then a TOML file, then the environment, then flags), plus the
//! process's own; the `--help` table and `mixdown config` show them all.

use std::fmt::Write;

use mixdown_api::ApiSettings;
use mixdown_jobs::settings::JobsSettings;
use mixdown_settings::{Field, Layers, Origin, Settings as _, Value, settings};
use mixdown_worker::WorkerSettings;

settings! {
    /// What the process does with its own output.
    pub struct ProcessSettings {
        /// log lines as text or json
        log_format: LogFormat = "text", "MIXDOWN_LOG_FORMAT";
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

impl Value for LogFormat {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json".into()),
        }
    }

    fn show(&self) -> String {
        match self {
            Self::Text => "text".into(),
            Self::Json => "json".into(),
        }
    }
}

/// Every settings struct, with what it is about, in the order shown.
const GROUPS: &[(&str, &[Field])] = &[
    (
        "the stores and the fleet's shared rules",
        JobsSettings::FIELDS,
    ),
    ("the API", ApiSettings::FIELDS),
    ("workers", WorkerSettings::FIELDS),
    ("the process", ProcessSettings::FIELDS),
];

/// The fields of every settings struct, for loading the layers.
pub fn fields() -> Vec<&'static [Field]> {
    GROUPS.iter().map(|(_, fields)| *fields).collect()
}

/// Every setting a process runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the stores are, and the rules every process shares.
    pub jobs: JobsSettings,
    /// The API's.
    pub api: ApiSettings,
    /// A worker's.
    pub worker: WorkerSettings,
    /// The process's own.
    pub process: ProcessSettings,
}

impl Settings {
    /// Every struct from `layers`; the first bad value stops it.
    pub fn load(layers: &Layers) -> anyhow::Result<Self> {
        Ok(Self {
            jobs: layers.build()?,
            api: layers.build()?,
            worker: layers.build()?,
            process: layers.build()?,
        })
    }

    /// `mixdown config`: every setting in effect as a TOML line, secrets
    /// masked, with where it came from.
    pub fn describe(&self, layers: &Layers) -> String {
        let values = [
            self.jobs.entries(),
            self.api.entries(),
            self.worker.entries(),
            self.process.entries(),
        ];
        let mut out = String::new();
        for ((about, _), entries) in GROUPS.iter().zip(values) {
            let _ = writeln!(out, "# {about}");
            for (key, value) in entries {
                let line = format!("{key} = {}", toml_string(&value));
                let origin = match layers.origin(key) {
                    Origin::Default(_) => "default".to_owned(),
                    other => other.to_string(),
                };
                let _ = writeln!(out, "{line:<60} # {origin}");
            }
            out.push('\n');
        }
        out
    }
}

/// A TOML basic string: its escapes are JSON's.
fn toml_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The settings table for `--help`: key, environment variable, meaning, default.
pub fn help_table() -> String {
    GROUPS
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .map(|f| {
            let default = match f.default {
                "" => String::new(),
                d => format!(" [default: {d}]"),
            };
            format!("  {:<24} {:<32} {}{default}", f.key, f.env, f.doc)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(pairs: &[(&str, &str)]) -> Layers {
        Layers::from_pairs(&fields(), pairs).unwrap()
    }

    #[test]
    fn every_key_is_one_settings_field_only() {
        let mut keys: Vec<&str> = fields()
            .iter()
            .flat_map(|f| f.iter())
            .map(|f| f.key)
            .collect();
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count, "a key is declared twice");
    }

    #[test]
    fn nothing_set_means_the_embedded_default() {
        let s = Settings::load(&layers(&[])).unwrap();
        assert_eq!(s.api.listen.to_string(), "127.0.0.1:8080");
        assert!(s.jobs.database_url.is_none() && s.jobs.redis_url.is_none());
        assert_eq!(s.process.log_format, LogFormat::Text);
    }

    #[test]
    fn every_field_that_holds_a_secret_is_declared_secret() {
        for field in fields().iter().flat_map(|f| f.iter()) {
            let holds_secret = field.key.ends_with("_key")
                || field.key.ends_with("_keys")
                || field.key.contains("secret")
                || ["database_url", "redis_url"].contains(&field.key);
            assert_eq!(field.secret, holds_secret, "{}", field.key);
        }
    }

    #[test]
    fn no_secret_shows_in_config_or_in_debug_output() {
        const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
        let signing = "url-signing-key-0123456789abcdef,url-signing-old-0123456789abcdef";
        let l = layers(&[
            ("DATABASE_URL", "postgres://u:pg-password@db/mixdown"),
            ("REDIS_URL", "redis://:redis-password@cache:6379"),
            ("S3_BUCKET", "media"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
            ("MIXDOWN_VOICE_KEY", KEY),
            ("MIXDOWN_VOICE_OLD_KEYS", KEY),
            ("MIXDOWN_SECRETS_KEY", KEY),
            ("MIXDOWN_SECRETS_OLD_KEYS", KEY),
            ("MIXDOWN_URL_SIGNING_KEYS", signing),
        ]);
        let settings = Settings::load(&l).unwrap();
        let s3 = settings.jobs.s3().unwrap().unwrap();
        for shown in [
            settings.describe(&l),
            format!("{settings:?}"),
            format!("{settings:#?}"),
            format!("{s3:?}"),
        ] {
            for secret in [
                "pg-password",
                "redis-password",
                "aws-secret-value",
                "KioqKio",
                "url-signing",
                "42, 42",
            ] {
                assert!(!shown.contains(secret), "{secret} shows in {shown}");
            }
        }
    }

    #[test]
    fn config_shows_values_and_origins_but_no_secret() {
        let l = layers(&[
            ("DATABASE_URL", "postgres://u:hunter2@db/mixdown"),
            ("MIXDOWN_CONCURRENCY", "3"),
        ]);
        let shown = Settings::load(&l).unwrap().describe(&l);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("database_url = \"***\""), "{shown}");
        let line = shown
            .lines()
            .find(|l| l.starts_with("concurrency"))
            .unwrap();
        assert!(
            line.contains("\"3\"") && line.ends_with("# MIXDOWN_CONCURRENCY"),
            "{line}"
        );
        let line = shown.lines().find(|l| l.starts_with("listen")).unwrap();
        assert!(line.ends_with("# default"), "{line}");
    }
}
