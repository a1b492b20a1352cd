//! Identifiers: opaque strings on the wire, typed inside.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7), so ids sort by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses an id given by a client; `None` for anything that is not a UUID.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl TryFrom<String> for $name {
            type Error = &'static str;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text).ok_or("not an id")
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// Identifies one job.
    JobId
);
uuid_id!(
    /// Identifies one tenant: the owner of jobs, tracks and keys.
    TenantId
);
uuid_id!(
    /// Identifies one track; a presigned upload's id is its track's id.
    TrackId
);
uuid_id!(
    /// Identifies one activity: something a user did that reaches feeds.
    ActivityId
);
uuid_id!(
    /// Identifies one schedule: a job template made into a job at each tick.
    ScheduleId
);

/// Identifies one worker process; unique per start so restarts never share state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    /// A fresh id naming the host and process, with a random suffix.
    pub fn generate(hostname: &str) -> Self {
        let suffix: u32 = rand::random();
        Self(format!("{hostname}-{}-{suffix:08x}", std::process::id()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an id read back from the database.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user of a tenant (a voiceprint's owner, a node of the social graph),
/// as the tenant names them: 1 to 128 ASCII letters,
/// digits and `-`, `_`, `.`, `@`, `:`, so it is safe in a URL path and a log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Longest user id accepted.
    pub const MAX_LEN: usize = 128;

    /// The id if `text` is one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b);
        if text.is_empty() || text.len() > Self::MAX_LEN {
            Err(format!("must be 1 to {} characters", Self::MAX_LEN))
        } else if !text.bytes().all(allowed) {
            Err("may hold only ASCII letters, digits and - _ . @ :".into())
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
