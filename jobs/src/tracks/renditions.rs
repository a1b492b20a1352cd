//! Renditions added to a ready track: what a client asks (`transcode` through
//! `POST /v1/jobs`, or `POST /v1/tracks/{id}/renditions`), the `transcode`
//! payload that tells them from the track workflow's own step, and what such
//! a job reports.

use mixdown_media::transcode::Preset;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PresetChoiceError, TrackPayload, TrackPresets};
use crate::{
    ids::TrackId,
    payload::{PayloadError, parse_object},
};

/// A client's `transcode` payload: `{"track_id", "presets": ["mp3_320", …]}`,
/// presets named from the API's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenditionsRequest {
    /// The ready track to add renditions to.
    pub track_id: TrackId,
    /// Names of catalogue presets, 1 to 16; a name given twice counts once.
    #[schemars(length(min = 1, max = 16))]
    pub presets: Vec<String>,
}

impl RenditionsRequest {
    /// Reads a client's payload; errors name the field from `payload`.
    pub fn parse(value: Option<&Value>) -> Result<Self, PayloadError> {
        parse_object(value)
    }

    /// The job's payload: each name looked up in `catalog` now, so the
    /// worker encodes what was accepted whatever its own configuration.
    pub fn resolve(self, catalog: &[Preset]) -> Result<RenditionsPayload, PresetChoiceError> {
        Ok(RenditionsPayload {
            track_id: self.track_id,
            presets: TrackPresets::pick_each(catalog, &self.presets)?,
        })
    }
}

/// Renditions to add to a ready track: its id and the presets, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionsPayload {
    /// The track.
    pub track_id: TrackId,
    /// The presets, as specs.
    pub presets: TrackPresets,
}

/// Input of a `transcode` job: stored as `{"track_id"}` for the track
/// workflow's step, `{"track_id", "presets": [specs]}` for renditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TranscodeFields", into = "TranscodeFields")]
pub enum TranscodePayload {
    /// The workflow's step: every preset the track asked for at upload, with
    /// loudness and waveform, for the workflow to make the track ready with.
    Workflow(TrackPayload),
    /// Renditions added to the track's outputs once it is ready.
    Renditions(RenditionsPayload),
}

impl TranscodePayload {
    /// The track transcoded.
    pub fn track_id(&self) -> TrackId {
        match self {
            Self::Workflow(p) => p.track_id,
            Self::Renditions(p) => p.track_id,
        }
    }
}

/// The stored shape of both payloads: presets are what tells them apart.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranscodeFields {
    track_id: TrackId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    presets: Option<TrackPresets>,
}

impl From<TranscodeFields> for TranscodePayload {
    fn from(fields: TranscodeFields) -> Self {
        let track_id = fields.track_id;
        match fields.presets {
            Some(presets) => Self::Renditions(RenditionsPayload { track_id, presets }),
            None => Self::Workflow(TrackPayload { track_id }),
        }
    }
}

impl From<TranscodePayload> for TranscodeFields {
    fn from(payload: TranscodePayload) -> Self {
        match payload {
            TranscodePayload::Workflow(p) => Self {
                track_id: p.track_id,
                presets: None,
            },
            TranscodePayload::Renditions(p) => Self {
                track_id: p.track_id,
                presets: Some(p.presets),
            },
        }
    }
}

/// What a renditions job did: the presets it added to the track's outputs,
/// and those the track had already (made once, never replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionsResult {
    /// The track.
    pub track_id: TrackId,
    /// Presets whose outputs it added, in the order asked.
    pub added: Vec<String>,
    /// Presets the track already had outputs of.
    pub skipped: Vec<String>,
}

#[cfg(test)]
mod tests {
    use mixdown_media::transcode::default_presets;
    use serde_json::json;

    use super::*;

    fn request(presets: Value) -> Result<RenditionsRequest, PayloadError> {
        let value = json!({"track_id": TrackId::new().to_string(), "presets": presets});
        RenditionsRequest::parse(Some(&value))
    }

    #[test]
    fn names_resolve_to_the_catalogues_presets() {
        let payload = request(json!(["opus_64", "mp3_128"]))
            .unwrap()
            .resolve(&default_presets())
            .unwrap();
        let names: Vec<&str> = payload
            .presets
            .as_slice()
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(names, ["opus_64", "mp3_128"]);
        // A name given twice counts once.
        let twice = request(json!(["opus_64", "opus_64"])).unwrap();
        assert_eq!(
            twice
                .resolve(&default_presets())
                .unwrap()
                .presets
                .as_slice()
                .len(),
            1
        );
    }

    #[test]
    fn a_bad_name_is_blamed_by_its_index() {
        let catalog = default_presets();
        let field = |presets: Value| {
            let err = request(presets).unwrap().resolve(&catalog).unwrap_err();
            err.field("payload.presets")
        };
        assert_eq!(field(json!(["mp3_128", "flac_9000"])), "payload.presets[1]");
        assert_eq!(field(json!([])), "payload.presets");
        let err = request(json!([{"name": "mp3_128"}])).unwrap_err();
        assert_eq!(err.field, "payload.presets[0]");
        let value = json!({"presets": ["mp3_128"]});
        let err = RenditionsRequest::parse(Some(&value)).unwrap_err();
        assert_eq!(err.field, "payload", "{err}");
    }

    #[test]
    fn the_two_transcode_payloads_are_told_apart_by_their_presets() {
        let track_id = TrackId::new();
        let step = json!({"track_id": track_id.to_string()});
        let parsed: TranscodePayload = serde_json::from_value(step.clone()).unwrap();
        assert_eq!(
            parsed,
            TranscodePayload::Workflow(TrackPayload { track_id })
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), step);
        let presets = TrackPresets::new(default_presets()[..1].to_vec()).unwrap();
        let more = TranscodePayload::Renditions(RenditionsPayload { track_id, presets });
        let stored = serde_json::to_value(&more).unwrap();
        assert_eq!(stored["presets"][0]["name"], "mp3_128");
        let back: TranscodePayload = serde_json::from_value(stored).unwrap();
        assert_eq!(back, more);
        assert_eq!(back.track_id(), track_id);
    }
}
