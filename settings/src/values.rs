//! The types a setting may have: anything that parses from text and shows
//! as text, with durations in the unit their key names and secrets that
//! never show.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

/// A setting's type: parsed from the text of a layer, shown by `mixdown config`.
pub trait Value: Sized {
    /// Whether values of this type must never be shown.
    const SECRET: bool = false;

    /// The value `text` holds, or why it holds none.
    fn parse(text: &str) -> Result<Self, String>;

    /// The value as text (a secret as `***`).
    fn show(&self) -> String;
}

macro_rules! plain_values {
    ($($ty:ty),* $(,)?) => {$(
        impl Value for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                <$ty as FromStr>::from_str(text.trim()).map_err(|e| e.to_string())
            }

            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

plain_values!(bool, u16, u32, u64, usize, SocketAddr);

impl Value for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }

    fn show(&self) -> String {
        self.clone()
    }
}

impl Value for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must name a path".into());
        }
        Ok(PathBuf::from(text))
    }

    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// Unset when empty.
impl<T: Value> Value for Option<T> {
    const SECRET: bool = T::SECRET;

    fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            T::parse(text).map(Some)
        }
    }

    fn show(&self) -> String {
        self.as_ref().map(Value::show).unwrap_or_default()
    }
}

macro_rules! duration_unit {
    ($(#[$doc:meta])* $name:ident, $per_unit:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(Duration);

        impl $name {
            /// The duration.
            pub fn get(self) -> Duration {
                self.0
            }
        }

        impl From<Duration> for $name {
            fn from(d: Duration) -> Self {
                Self(d)
            }
        }

        impl Value for $name {
            fn parse(text: &str) -> Result<Self, String> {
                let n: u64 = text.trim().parse().map_err(|e| format!("{e}"))?;
                if n == 0 {
                    return Err("must be more than zero".into());
                }
                n.checked_mul($per_unit)
                    .map(|ms| Self(Duration::from_millis(ms)))
                    .ok_or_else(|| "is too long".into())
            }

            fn show(&self) -> String {
                (self.0.as_millis() / u128::from($per_unit as u64)).to_string()
            }
        }
    };
}

duration_unit!(
    /// A duration given in whole milliseconds (a key ending in `_ms`).
    Millis,
    1
);
duration_unit!(
    /// A duration given in whole seconds (a key ending in `_secs`).
    Seconds,
    1000
);

/// A value that never shows: URLs with passwords, keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T: Value> Value for Secret<T> {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        // The reason alone: a parse error may quote the secret.
        T::parse(text)
            .map(Self)
            .map_err(|_| "is not a valid value (not shown: it is secret)".into())
    }

    fn show(&self) -> String {
        "***".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_their_unit_and_refuse_zero() {
        assert_eq!(
            Millis::parse("1500").unwrap().get(),
            Duration::from_millis(1500)
        );
        assert_eq!(Seconds::parse("90").unwrap().get(), Duration::from_secs(90));
        assert_eq!(Seconds::parse("90").unwrap().show(), "90");
        for bad in ["0", "-1", "1.5", "soon", "99999999999999999999"] {
            assert!(Millis::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_and_empty_options_show_as_they_should() {
        let url = Secret::<String>::parse("postgres://u:p@h/db").unwrap();
        assert_eq!(
            (url.show(), format!("{url:?}")),
            ("***".into(), "***".into())
        );
        assert_eq!(url.expose(), "postgres://u:p@h/db");
        assert_eq!(Option::<u32>::parse("").unwrap(), None);
        assert_eq!(Option::<u32>::parse("7").unwrap(), Some(7));
        let bad = Secret::<u32>::parse("hunter2").err().unwrap();
        assert!(!bad.contains("hunter2"), "{bad}");
    }
}
