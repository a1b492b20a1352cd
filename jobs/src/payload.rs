//! A job's input, typed per kind and parsed at the edge.

use serde_json::Value;

use crate::{
    callbacks::CallbackPayload,
    http::HttpPayload,
    kind::JobKind,
    noop::NoopPayload,
    social::{ChunkPayload, FanoutPayload},
    tracks::{TrackPayload, TranscodePayload, WaveformPayload},
    voice::{VoiceEnrollPayload, VoiceVerifyPayload},
};

/// A payload that does not fit its kind, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PayloadError {
    /// Dotted path of the field, starting at `payload`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A job's input, typed per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum JobPayload {
    /// Input of a `noop` job.
    Noop(NoopPayload),
    /// Input of a `voice_enroll` job.
    VoiceEnroll(VoiceEnrollPayload),
    /// Input of a `voice_verify` job.
    VoiceVerify(VoiceVerifyPayload),
    /// Input of an `ingest` job.
    Ingest(TrackPayload),
    /// Input of a `transcode` job: the track workflow's step, or renditions.
    Transcode(TranscodePayload),
    /// Input of a `waveform` job.
    Waveform(WaveformPayload),
    /// Input of an `analyze` job.
    Analyze(TrackPayload),
    /// Input of a `track` job.
    Track(TrackPayload),
    /// Input of a `callback` job.
    Callback(CallbackPayload),
    /// Input of a `fanout` job.
    Fanout(FanoutPayload),
    /// Input of a `fanout_chunk` job.
    FanoutChunk(ChunkPayload),
    /// Input of an `http` job.
    Http(HttpPayload),
}

impl JobPayload {
    /// Parses `value` as the payload of `kind`; absent means an empty object.
    pub fn parse(kind: JobKind, value: Option<&Value>) -> Result<Self, PayloadError> {
        let empty = Value::Object(Default::default());
        let value = object(value, &empty)?;
        match kind {
            JobKind::Noop => parse_typed(value).map(JobPayload::Noop),
            JobKind::VoiceEnroll => parse_typed(value).map(JobPayload::VoiceEnroll),
            JobKind::VoiceVerify => parse_typed(value).map(JobPayload::VoiceVerify),
            JobKind::Ingest => parse_typed(value).map(JobPayload::Ingest),
            JobKind::Transcode => parse_typed(value).map(JobPayload::Transcode),
            JobKind::Waveform => WaveformPayload::parse(value).map(JobPayload::Waveform),
            JobKind::Analyze => parse_typed(value).map(JobPayload::Analyze),
            JobKind::Track => parse_typed(value).map(JobPayload::Track),
            JobKind::Callback => parse_typed(value).map(JobPayload::Callback),
            JobKind::Fanout => parse_typed(value).map(JobPayload::Fanout),
            JobKind::FanoutChunk => parse_typed(value).map(JobPayload::FanoutChunk),
            JobKind::Http => parse_typed(value).map(JobPayload::Http),
        }
    }

    /// The kind this payload belongs to.
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::Noop(_) => JobKind::Noop,
            JobPayload::VoiceEnroll(_) => JobKind::VoiceEnroll,
            JobPayload::VoiceVerify(_) => JobKind::VoiceVerify,
            JobPayload::Ingest(_) => JobKind::Ingest,
            JobPayload::Transcode(_) => JobKind::Transcode,
            JobPayload::Waveform(_) => JobKind::Waveform,
            JobPayload::Analyze(_) => JobKind::Analyze,
            JobPayload::Track(_) => JobKind::Track,
            JobPayload::Callback(_) => JobKind::Callback,
            JobPayload::Fanout(_) => JobKind::Fanout,
            JobPayload::FanoutChunk(_) => JobKind::FanoutChunk,
            JobPayload::Http(_) => JobKind::Http,
        }
    }

    /// The payload as stored (and shown, but for what [`shown`] masks).
    pub fn to_json(&self) -> Value {
        match self {
            JobPayload::Noop(p) => serde_json::to_value(p),
            JobPayload::VoiceEnroll(p) => serde_json::to_value(p),
            JobPayload::VoiceVerify(p) => serde_json::to_value(p),
            JobPayload::Ingest(p) => serde_json::to_value(p),
            JobPayload::Transcode(p) => serde_json::to_value(p),
            JobPayload::Waveform(p) => serde_json::to_value(p),
            JobPayload::Analyze(p) => serde_json::to_value(p),
            JobPayload::Track(p) => serde_json::to_value(p),
            JobPayload::Callback(p) => serde_json::to_value(p),
            JobPayload::Fanout(p) => serde_json::to_value(p),
            JobPayload::FanoutChunk(p) => serde_json::to_value(p),
            JobPayload::Http(p) => serde_json::to_value(p),
        }
        .unwrap_or(Value::Null)
    }
}

/// A stored payload of `kind` as clients read it: an `http` job's secret
/// headers masked, anything else as stored.
pub fn shown(kind: JobKind, stored: Value) -> Value {
    match kind {
        JobKind::Http => crate::http::shown(stored),
        _ => stored,
    }
}

/// `value` if it is an object; absent or null is `empty`.
fn object<'a>(value: Option<&'a Value>, empty: &'a Value) -> Result<&'a Value, PayloadError> {
    let value = value.filter(|v| !v.is_null()).unwrap_or(empty);
    if value.is_object() {
        Ok(value)
    } else {
        Err(PayloadError {
            field: "payload".into(),
            message: "must be a JSON object".into(),
        })
    }
}

/// A payload object read as `T`; absent means an empty object.
pub(crate) fn parse_object<T: serde::de::DeserializeOwned>(
    value: Option<&Value>,
) -> Result<T, PayloadError> {
    let empty = Value::Object(Default::default());
    parse_typed(object(value, &empty)?)
}

/// `value` read as `T`, an error naming the field from `payload`.
pub(crate) fn parse_typed<T: serde::de::DeserializeOwned>(
    value: &Value,
) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        PayloadError {
            field: if path == "." {
                "payload".into()
            } else {
                format!("payload.{path}")
            },
            message: err.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    #[test]
    fn a_missing_payload_means_all_defaults() {
        let p = JobPayload::parse(JobKind::Noop, None).unwrap();
        assert_eq!(p, JobPayload::Noop(NoopPayload::default()));
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err = JobPayload::parse(JobKind::Noop, Some(&json!({"sleep_ms": "x"}))).unwrap_err();
        assert_eq!(err.field, "payload.sleep_ms");
    }

    #[test]
    fn negative_and_absurd_values_are_refused() {
        for bad in [json!({"sleep_ms": -1}), json!({"sleep_ms": 1u64 << 40})] {
            let err = JobPayload::parse(JobKind::Noop, Some(&bad)).unwrap_err();
            assert_eq!(err.field, "payload.sleep_ms", "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = JobPayload::parse(JobKind::Noop, Some(&json!({"slep_ms": 1}))).unwrap_err();
        assert!(err.message.contains("slep_ms"), "{err}");
    }

    #[test]
    fn voice_payloads_parse_typed_ids_and_keys() {
        let ok = json!({"user_id": "alice", "sample": "voice/t/1"});
        let p = JobPayload::parse(JobKind::VoiceVerify, Some(&ok)).unwrap();
        assert_eq!(p.to_json(), ok);
        let err = JobPayload::parse(
            JobKind::VoiceVerify,
            Some(&json!({"user_id": "a b", "sample": "voice/t/1"})),
        );
        assert_eq!(err.unwrap_err().field, "payload.user_id");
        let err = JobPayload::parse(
            JobKind::VoiceVerify,
            Some(&json!({"user_id": "a", "sample": "../x"})),
        );
        assert_eq!(err.unwrap_err().field, "payload.sample");
        let none = json!({"user_id": "a", "samples": []});
        let err = JobPayload::parse(JobKind::VoiceEnroll, Some(&none)).unwrap_err();
        assert_eq!(err.field, "payload.samples");
    }
}
