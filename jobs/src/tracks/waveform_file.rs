//! A ready track's waveform as one file, on demand: the `waveform` job's
//! payload (the options of `mixdown waveform` beside `track_id`), the bounds
//! it is held to, and its result.

use mixdown_media::{
    format::{AudioFormat, ChannelCount, SampleRate},
    waveform_file::{Limits, OptionError, WaveformFile, WaveformFileOptions},
};
use serde::{Deserialize, Serialize, Serializer, ser::Error as _};
use serde_json::Value;

use super::TrackMetadata;
use crate::{
    ids::TrackId,
    objects::ObjectKey,
    payload::{PayloadError, parse_typed},
};

/// Bounds of a `waveform` job's options (the command line has none).
pub const WAVEFORM_LIMITS: Limits = Limits {
    max_width: 8192,
    max_height: 2048,
    max_bar: 1024,
    max_summary_points: 100_000,
};

/// Most min/max pairs a `waveform` job's peaks may hold: 64 MiB in memory.
/// A 4-hour track at 192 kHz takes 10.8 million at the default zoom.
pub const MAX_WAVEFORM_PAIRS: u64 = 1 << 24;

/// Input of a `waveform` job: `{"track_id", "format", "zoom", …}`, every
/// field besides `track_id` an option of `mixdown waveform` by its name
/// (`_` for `-`; `style` also names `waveform_style`), checked against
/// [`WAVEFORM_LIMITS`] when parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveformPayload {
    track_id: TrackId,
    options: WaveformFileOptions,
    file: WaveformFile,
}

impl WaveformPayload {
    /// Reads a payload object; errors name the field from `payload`.
    pub fn parse(value: &Value) -> Result<Self, PayloadError> {
        let mut fields = value.as_object().cloned().unwrap_or_default();
        let track_id = fields.remove("track_id").ok_or_else(|| PayloadError {
            field: "payload.track_id".into(),
            message: "is required".into(),
        })?;
        let track_id: TrackId = parse_typed(&track_id).map_err(|e| PayloadError {
            field: "payload.track_id".into(),
            message: e.message,
        })?;
        let options: WaveformFileOptions = parse_typed(&Value::Object(fields))?;
        let file = options.check(None, &WAVEFORM_LIMITS).map_err(blame)?;
        Ok(Self {
            track_id,
            options,
            file,
        })
    }

    /// The track drawn.
    pub fn track_id(&self) -> TrackId {
        self.track_id
    }

    /// The file to write.
    pub fn file(&self) -> &WaveformFile {
        &self.file
    }

    /// Checks the file against the track's audio as ingest described it: the
    /// zoom must be at least 2 frames at its rate, and the peaks at most
    /// [`MAX_WAVEFORM_PAIRS`]; the option that set the zoom is blamed.
    pub fn fits(&self, audio: &TrackMetadata) -> Result<(), PayloadError> {
        let blamed = |message: String| PayloadError {
            field: format!("payload.{}", self.file.zoom_field()),
            message,
        };
        let format = SampleRate::new(audio.sample_rate)
            .and_then(|rate| Ok((rate, ChannelCount::new(audio.channels)?)))
            .map(|(sample_rate, channels)| AudioFormat {
                sample_rate,
                channels,
            })
            .map_err(|e| PayloadError {
                field: "payload.track_id".into(),
                message: format!("the track's audio cannot be drawn: {e}"),
            })?;
        let frames = audio.duration_ms * u64::from(audio.sample_rate) / 1000;
        let pairs = self
            .file
            .pairs(format, frames)
            .map_err(|e| blamed(format!("{e} (the track is {})", format.sample_rate)))?;
        if pairs > MAX_WAVEFORM_PAIRS {
            return Err(blamed(format!(
                "gives {pairs} min/max pairs of this track; at most {MAX_WAVEFORM_PAIRS}: zoom out"
            )));
        }
        Ok(())
    }
}

fn blame(err: OptionError) -> PayloadError {
    PayloadError {
        field: format!("payload.{}", err.field),
        message: err.message,
    }
}

/// Stored as given: the options without their defaults, and `track_id`.
impl Serialize for WaveformPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.options).map_err(S::Error::custom)?;
        if let Value::Object(fields) = &mut value {
            fields.insert("track_id".into(), Value::String(self.track_id.to_string()));
        }
        value.serialize(serializer)
    }
}

/// What a `waveform` job made: the stored file. The API shows `key` as an
/// expiring `url` when the job is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveformResult {
    /// Where the file is stored, under the track's keys.
    pub key: ObjectKey,
    /// Its MIME type.
    pub content_type: String,
    /// Its size.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn payload(fields: Value) -> Result<WaveformPayload, PayloadError> {
        let mut value = json!({"track_id": TrackId::new().to_string()});
        value
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        WaveformPayload::parse(&value)
    }

    fn metadata(duration_ms: u64, sample_rate: u32) -> TrackMetadata {
        TrackMetadata {
            container: "wav".into(),
            codec: "pcm".into(),
            duration_ms,
            sample_rate,
            channels: 2,
            bit_rate: None,
            tags: BTreeMap::new(),
            sha256: String::new(),
            size_bytes: 0,
        }
    }

    #[test]
    fn a_payload_round_trips_with_its_track() {
        let parsed = payload(json!({"format": "png", "width": 640, "style": "bars"})).unwrap();
        let stored = serde_json::to_value(&parsed).unwrap();
        assert_eq!(stored["width"], 640);
        assert_eq!(stored["waveform_style"], "bars");
        assert_eq!(WaveformPayload::parse(&stored).unwrap(), parsed);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let field = |fields: Value| payload(fields).unwrap_err().field;
        assert_eq!(field(json!({"format": "gif"})), "payload.format");
        assert_eq!(field(json!({})), "payload.format");
        assert_eq!(
            field(json!({"format": "png", "width": 9000})),
            "payload.width"
        );
        assert_eq!(
            field(json!({"format": "png", "height": 0})),
            "payload.height"
        );
        assert_eq!(field(json!({"format": "dat", "zoom": 1})), "payload.zoom");
        assert_eq!(
            field(json!({"format": "png", "colour": "red"})),
            "payload.colour"
        );
        let err = WaveformPayload::parse(&json!({"format": "png"})).unwrap_err();
        assert_eq!(err.field, "payload.track_id");
        let err = WaveformPayload::parse(&json!({"track_id": "x", "format": "png"}));
        assert_eq!(err.unwrap_err().field, "payload.track_id");
    }

    #[test]
    fn the_zoom_must_fit_the_tracks_audio() {
        let hour = metadata(3_600_000, 44_100);
        let fine = payload(json!({"format": "json", "zoom": 4})).unwrap();
        assert_eq!(fine.fits(&hour).unwrap_err().field, "payload.zoom");
        let fast = payload(json!({"format": "dat", "pixels_per_second": 40000})).unwrap();
        let err = fast.fits(&hour).unwrap_err();
        assert_eq!(err.field, "payload.pixels_per_second", "{err}");
        let image = payload(json!({"format": "png"})).unwrap();
        assert_eq!(image.fits(&metadata(4 * 3_600_000, 192_000)), Ok(()));
    }
}
