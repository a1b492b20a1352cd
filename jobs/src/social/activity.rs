//! Activities: something a user did (published a track, liked one) that
//! reaches their followers' feeds, and the feed item it shows as.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ids::{ActivityId, JobId, TenantId},
    payload::PayloadError,
    social::UserId,
    time::Timestamp,
};

/// Longest verb or object type, in bytes.
const MAX_NAME: usize = 64;
/// Longest object id, in bytes.
const MAX_OBJECT_ID: usize = 256;
/// Largest `data` object, serialised, in bytes: feeds show it on every item.
pub const MAX_DATA: usize = 16 * 1024;

/// An activity as a client describes it, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Who did it; their followers receive it.
    pub actor_id: UserId,
    /// What they did: `publish`, `like`, … (lowercase letters, digits, `_.-`).
    pub verb: String,
    /// What kind of thing they did it to: `track`, … (same alphabet).
    pub object_type: String,
    /// Which one.
    pub object_id: String,
    /// When it happened; feeds are ordered by it.
    pub occurred_at: Timestamp,
    /// Whatever the client wants shown with it (a JSON object).
    pub data: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    actor_id: UserId,
    verb: String,
    object_type: String,
    object_id: String,
    #[serde(default)]
    occurred_at: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

impl NewActivity {
    /// Parses a client's activity (`{actor_id, verb, object_type, object_id,
    /// occurred_at?, data?}`); `occurred_at` defaults to `now`. Errors name
    /// the field.
    pub fn parse(tenant_id: TenantId, value: &Value, now: Timestamp) -> Result<Self, PayloadError> {
        let fail = |field: &str, message: &str| PayloadError {
            field: field.into(),
            message: message.into(),
        };
        let request: Request = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            PayloadError {
                field: if path == "." { "body".into() } else { path },
                message: err.into_inner().to_string(),
            }
        })?;
        for (field, name) in [
            ("verb", &request.verb),
            ("object_type", &request.object_type),
        ] {
            let ok = !name.is_empty()
                && name.len() <= MAX_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
            if !ok {
                return Err(fail(field, "must be 1 to 64 of a-z, 0-9, '_', '.', '-'"));
            }
        }
        let object_id = &request.object_id;
        if object_id.is_empty()
            || object_id.len() > MAX_OBJECT_ID
            || object_id.chars().any(char::is_control)
        {
            return Err(fail(
                "object_id",
                "must be 1 to 256 bytes without control characters",
            ));
        }
        let occurred_at = match &request.occurred_at {
            None => now,
            Some(text) => Timestamp::parse_rfc3339(text)
                .ok_or_else(|| fail("occurred_at", "must be an RFC 3339 instant"))?,
        };
        let data = request
            .data
            .filter(|d| !d.is_null())
            .unwrap_or_else(|| Value::Object(Default::default()));
        if !data.is_object() {
            return Err(fail("data", "must be a JSON object"));
        }
        if data.to_string().len() > MAX_DATA {
            return Err(fail("data", "must be at most 16 KiB"));
        }
        Ok(Self {
            tenant_id,
            actor_id: request.actor_id,
            verb: request.verb,
            object_type: request.object_type,
            object_id: request.object_id,
            occurred_at,
            data,
        })
    }
}

/// A recorded activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Its id.
    pub id: ActivityId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// When it happened, as feeds order it.
    pub occurred_at: Timestamp,
    /// What the client said, as feeds show it.
    pub item: FeedItem,
    /// The fan-out that spreads it.
    pub job_id: JobId,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
    /// The fan-out that takes it out of feeds, once deleted.
    pub retract_job_id: Option<JobId>,
}

/// An activity as feeds show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    /// The activity.
    pub activity_id: ActivityId,
    /// Who did it.
    pub actor_id: UserId,
    /// What they did.
    pub verb: String,
    /// To what kind of thing.
    pub object_type: String,
    /// To which one.
    pub object_id: String,
    /// When (RFC 3339).
    pub occurred_at: String,
    /// The client's data.
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_activity_parses_with_defaults_and_names_bad_fields() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let tenant = TenantId::new();
        let ok = json!({"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"});
        let a = NewActivity::parse(tenant, &ok, now).unwrap();
        assert_eq!((a.occurred_at, a.data.clone()), (now, json!({})));
        let bad = [
            (
                json!({"actor_id": "", "verb": "v", "object_type": "t", "object_id": "o"}),
                "actor_id",
            ),
            (
                json!({"actor_id": "a", "verb": "Publish", "object_type": "t", "object_id": "o"}),
                "verb",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "", "object_id": "o"}),
                "object_type",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": ""}),
                "object_id",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": "o", "occurred_at": "yesterday"}),
                "occurred_at",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": "o", "data": [1]}),
                "data",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": "o", "data": {"x": "y".repeat(MAX_DATA)}}),
                "data",
            ),
            (
                json!({"actor_id": "a", "verb": "v", "object_type": "t", "object_id": "o", "extra": 1}),
                "extra",
            ),
            (
                json!({"verb": "v", "object_type": "t", "object_id": "o"}),
                "body",
            ),
        ];
        for (value, field) in bad {
            let err = NewActivity::parse(tenant, &value, now).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
    }
}
