//! What a job produced, typed per kind; stored and shown as JSON.

use serde::Serialize;
use serde_json::Value;

use crate::{
    callbacks::DeliveryResult,
    http::HttpResult,
    noop::NoopResult,
    social::FanoutResult,
    tracks::{
        AnalysisRecord, IngestResult, RenditionsResult, TrackReady, TranscodeResult, WaveformResult,
    },
    voice::{EnrollResult, VerifyResult},
};

/// A job's result, one variant per kind that produces one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobResult {
    /// Of a `noop` job.
    Noop(NoopResult),
    /// Of a `voice_enroll` job.
    VoiceEnroll(EnrollResult),
    /// Of a `voice_verify` job.
    VoiceVerify(VerifyResult),
    /// Of an `ingest` job.
    Ingest(Box<IngestResult>),
    /// Of the track workflow's `transcode` job.
    Transcode(Box<TranscodeResult>),
    /// Of a `transcode` job adding renditions.
    Renditions(RenditionsResult),
    /// Of a `waveform` job.
    Waveform(WaveformResult),
    /// Of an `analyze` job.
    Analyze(Box<AnalysisRecord>),
    /// Of a `track` job.
    Track(TrackReady),
    /// Of a `callback` job.
    Callback(DeliveryResult),
    /// Of a `fanout` or `fanout_chunk` job.
    Fanout(FanoutResult),
    /// Of an `http` job.
    Http(HttpResult),
}

impl JobResult {
    /// The result as stored and shown.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

macro_rules! from_result {
    ($($ty:ty => $variant:ident $(boxed $boxed:tt)?),* $(,)?) => {$(
        impl From<$ty> for JobResult {
            fn from(result: $ty) -> Self {
                JobResult::$variant(from_result!(@wrap result $($boxed)?))
            }
        }
    )*};
    (@wrap $v:ident) => { $v };
    (@wrap $v:ident yes) => { Box::new($v) };
}

from_result!(
    NoopResult => Noop,
    EnrollResult => VoiceEnroll,
    VerifyResult => VoiceVerify,
    IngestResult => Ingest boxed yes,
    TranscodeResult => Transcode boxed yes,
    RenditionsResult => Renditions,
    WaveformResult => Waveform,
    AnalysisRecord => Analyze boxed yes,
    TrackReady => Track,
    DeliveryResult => Callback,
    FanoutResult => Fanout,
    HttpResult => Http,
);
