//! The layers a process reads its settings from, in order: the defaults, an
//! optional TOML file, the environment, and its flags; a later layer wins.

use std::{collections::BTreeMap, fmt, path::Path};

use crate::{Field, Settings, expand::expand};

/// Where a value came from, as errors and `mixdown config` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The field's declared default.
    Default(&'static str),
    /// A key of the settings file.
    File {
        /// The key.
        key: String,
        /// The file.
        path: String,
    },
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default(key) => write!(f, "default {key}"),
            Origin::File { key, path } => write!(f, "{key} in {path}"),
            Origin::Env(name) => f.write_str(name),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// Why the settings could not be loaded: one line, naming the value (never
/// a secret's) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl SettingsError {
    pub(crate) fn invalid(origin: &Origin, value: &str, reason: &str) -> Self {
        Self(format!("invalid setting {origin}={value:?}: {reason}"))
    }

    /// An error told by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
struct Sourced {
    text: String,
    origin: Origin,
}

/// Reads an environment variable.
type Env = Box<dyn Fn(&str) -> Option<String>>;

/// Every value set above the defaults, by key, and the environment that
/// defaults read.
pub struct Layers {
    fields: Vec<&'static Field>,
    values: BTreeMap<&'static str, Sourced>,
    env: Env,
}

impl Layers {
    /// The layers of `fields` (every settings struct the process knows):
    /// `file`, if any, then the environment `env` reads. A key of the file
    /// that no field has is refused.
    pub fn load(
        fields: &[&'static [Field]],
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String> + 'static,
    ) -> Result<Self, SettingsError> {
        let mut layers = Self {
            fields: fields.iter().flat_map(|f| f.iter()).collect(),
            values: BTreeMap::new(),
            env: Box::new(env),
        };
        if let Some(path) = file {
            layers.read_file(path)?;
        }
        for field in layers.fields.clone() {
            if let Some(text) = (layers.env)(field.env).filter(|v| !v.is_empty()) {
                layers.set(field.key, text, Origin::Env(field.env));
            }
        }
        Ok(layers)
    }

    fn set(&mut self, key: &str, text: String, origin: Origin) {
        if let Some(field) = self.fields.iter().find(|f| f.key == key) {
            self.values.insert(field.key, Sourced { text, origin });
        }
    }

    /// Overrides `key` with the value of command-line flag `flag`, if given.
    pub fn flag(&mut self, key: &str, flag: &'static str, value: Option<String>) {
        if let Some(text) = value {
            self.set(key, text, Origin::Flag(flag));
        }
    }

    fn read_file(&mut self, path: &Path) -> Result<(), SettingsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SettingsError(format!("cannot read config file {shown}: {e}")))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| SettingsError(format!("config file {shown} is not valid TOML: {e}")))?;
        for (key, value) in table {
            if !self.fields.iter().any(|f| f.key == key) {
                return Err(SettingsError(format!(
                    "config file {shown}: unknown setting {key:?}"
                )));
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    let message =
                        format!("config file {shown}: {key} must be a string or a number");
                    return Err(SettingsError(message));
                }
            };
            let origin = Origin::File {
                key: key.clone(),
                path: shown.clone(),
            };
            self.set(&key, text, origin);
        }
        Ok(())
    }

    /// The settings of `S`: its defaults, with every layer's values on top.
    pub fn build<S: Settings>(&self) -> Result<S, SettingsError> {
        let mut settings = S::defaults(&*self.env)?;
        for field in S::FIELDS {
            let Some(value) = self.values.get(field.key) else {
                continue;
            };
            settings.set(field.key, &value.text).map_err(|reason| {
                let shown = if field.secret { "***" } else { &value.text };
                SettingsError::invalid(&value.origin, shown, &reason)
            })?;
        }
        Ok(settings)
    }

    /// Where the value of `key` in effect came from.
    pub fn origin(&self, key: &'static str) -> Origin {
        self.values
            .get(key)
            .map_or(Origin::Default(key), |v| v.origin.clone())
    }

    /// The layers of `fields` over an environment of just `pairs`, without
    /// a file: how tests and tools say what is set.
    pub fn from_pairs(
        fields: &[&'static [Field]],
        pairs: &[(&str, &str)],
    ) -> Result<Self, SettingsError> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::load(fields, None, move |name| env.get(name).cloned())
    }

    /// A field's default, its environment references expanded.
    pub fn default_text(&self, field: &Field) -> String {
        expand(field.default, &*self.env)
    }
}

#[cfg(test)]
mod tests;
