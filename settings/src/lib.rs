//! Layered settings. Each crate owns a struct of its settings, declared once
//! with [`settings!`]: per field its key (the file's key), its type, its
//! default and its environment variable, with one line of doc. A process
//! loads every struct it runs from the same [`Layers`] — the defaults, then
//! a TOML file, then the environment, then its flags — and a bad value stops
//! it with one line that names the value and where it came from.

mod expand;
mod layers;
mod values;

pub use layers::{Layers, Origin, SettingsError};
pub use values::{Millis, Seconds, Secret, Value};

/// One setting, as [`settings!`] declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its key in a settings file.
    pub key: &'static str,
    /// The environment variable that sets it.
    pub env: &'static str,
    /// Its default as text; `${VAR}` and `${VAR:-fallback}` read the environment.
    pub default: &'static str,
    /// What it means, in one line.
    pub doc: &'static str,
    /// Whether its value must never be shown.
    pub secret: bool,
}

/// A struct of settings made by [`settings!`].
pub trait Settings: Sized {
    /// Its fields, in declaration order.
    const FIELDS: &'static [Field];

    /// Its defaults, with `env` read where a default names a variable.
    fn defaults(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingsError>;

    /// Sets `key` from `text`; `Ok(false)` when `key` is not one of its fields.
    fn set(&mut self, key: &str, text: &str) -> Result<bool, String>;

    /// Every field's key and value as text, secrets masked.
    fn entries(&self) -> Vec<(&'static str, String)>;
}

/// Declares a struct of settings: a field per line, as
/// `/// doc` then `key: Type = "default", "ENV_VAR";`. The struct gets the
/// [`Settings`] implementation and a `Default` with every default (read
/// with an empty environment).
#[macro_export]
macro_rules! settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                #[doc = $doc:literal]
                $field:ident: $ty:ty = $default:literal, $env:literal;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
        }

        impl $crate::Settings for $name {
            const FIELDS: &'static [$crate::Field] = &[$(
                $crate::Field {
                    key: stringify!($field),
                    env: $env,
                    default: $default,
                    doc: $doc.trim_ascii(),
                    secret: <$ty as $crate::Value>::SECRET,
                },
            )*];

            fn defaults(
                env: &dyn Fn(&str) -> Option<String>,
            ) -> Result<Self, $crate::SettingsError> {
                Ok(Self {
                    $(
                        $field: $crate::default_of(stringify!($field), $default, env)?,
                    )*
                })
            }

            fn set(&mut self, key: &str, text: &str) -> Result<bool, String> {
                match key {
                    $(
                        stringify!($field) => {
                            self.$field = <$ty as $crate::Value>::parse(text)?;
                            Ok(true)
                        }
                    )*
                    _ => Ok(false),
                }
            }

            fn entries(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($field), $crate::Value::show(&self.$field)),)*]
            }
        }

        impl Default for $name {
            fn default() -> Self {
                <Self as $crate::Settings>::defaults(&|_| None)
                    .expect("the declared defaults parse")
            }
        }
    };
}

/// The value of a field's default `text`, environment references expanded.
#[doc(hidden)]
pub fn default_of<T: Value>(
    key: &'static str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<T, SettingsError> {
    let text = expand::expand(text, env);
    T::parse(&text).map_err(|reason| SettingsError::invalid(&Origin::Default(key), &text, &reason))
}
