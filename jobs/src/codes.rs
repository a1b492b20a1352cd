//! Every error code a client can see, in one catalogue: the codes of API
//! answers (with the HTTP status they come with) and the codes a job's
//! `error` carries. The README's catalogue lists the same table.

use std::fmt;

macro_rules! catalogue {
    ($($variant:ident = $code:literal, $status:expr, $meaning:literal;)*) => {
        /// A stable snake_case error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the catalogue's order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as sent and stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status an API answer with this code carries; `None`
            /// for codes that only ever end a job.
            pub fn http_status(self) -> Option<u16> {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// What the code means, in one sentence.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

catalogue! {
    // Requests the API refuses.
    InvalidJson = "invalid_json", Some(400), "The body is not well-formed JSON.";
    InvalidBody = "invalid_body", Some(400), "The body could not be read: it broke off, or is not what the route takes.";
    InvalidMultipart = "invalid_multipart", Some(400), "A multipart body that does not parse, or a text part that is not UTF-8.";
    InvalidRequest = "invalid_request", Some(400), "A request the HTTP layer refuses; the message says why.";
    Unauthorized = "unauthorized", Some(401), "No API key, or one that is not known.";
    InvalidSignature = "invalid_signature", Some(403), "A served URL whose signature does not match, or that has expired.";
    OperatorKeyRequired = "operator_key_required", Some(403), "A tenant's key where only an operator's key is taken: the dashboard.";
    InvalidCsrfToken = "invalid_csrf_token", Some(403), "A dashboard form sent without the token of the operator's session.";
    NotFound = "not_found", Some(404), "No such resource for this tenant; another tenant's ids answer the same.";
    MethodNotAllowed = "method_not_allowed", Some(405), "The route does not take this method.";
    RequestTimeout = "request_timeout", Some(408), "The request body arrived too slowly: a pause longer than the body read timeout, or a trickle under the least rate.";
    NotCancellable = "not_cancellable", Some(409), "The job already ended.";
    NotRetryable = "not_retryable", Some(409), "Only failed or cancelled jobs can be retried.";
    NotRedeliverable = "not_redeliverable", Some(409), "Only an ended job with a callback URL has an end to report again.";
    UploadMissing = "upload_missing", Some(409), "Nothing was uploaded to the presigned URL yet.";
    TrackNotReady = "track_not_ready", Some(409), "The track is not ready: renditions and waveforms are made from a ready track's original.";
    UploadExpired = "upload_expired", Some(410), "The presigned upload was not completed in time.";
    PayloadTooLarge = "payload_too_large", Some(413), "The body, an upload or a part is larger than the limit.";
    UnsupportedMediaType = "unsupported_media_type", Some(415), "The body's content type is not one the route takes.";
    RangeNotSatisfiable = "range_not_satisfiable", Some(416), "A served file's requested byte range starts past its end; `Content-Range` gives its size.";
    InvalidGraphLine = "invalid_graph_line", Some(422), "A line of a graph change is not an edge change; the message names the line, and nothing of the request was applied.";
    UnknownKind = "unknown_kind", Some(422), "No job kind has that name.";
    KindNotSubmittable = "kind_not_submittable", Some(422), "Jobs of that kind are made by their own endpoints or by the fleet.";
    KindNotSchedulable = "kind_not_schedulable", Some(422), "Jobs of that kind cannot be made by a schedule: a `fanout` records its activity once.";
    InvalidCron = "invalid_cron", Some(422), "A schedule's cron expression does not parse, or never fires; the message says why.";
    UnknownTimezone = "unknown_timezone", Some(422), "A time zone that is not an IANA name the fleet knows, such as `Europe/Berlin`.";
    InvalidPayload = "invalid_payload", Some(422), "A job's payload does not fit its kind; `field` names the part.";
    IdempotencyKeyReused = "idempotency_key_reused", Some(422), "The idempotency key was used before for another request: another body, or another sort of request.";
    InvalidField = "invalid_field", Some(422), "A field or parameter has a bad value; `field` names it.";
    MissingField = "missing_field", Some(422), "A required field or part is missing; `field` names it.";
    UnknownField = "unknown_field", Some(422), "A field or part the route does not take; `field` names it.";
    InvalidTopic = "invalid_topic", Some(422), "A live-events topic that is not `feed:{user_id}`, `job:{job_id}` or `track:{track_id}`, or no topic at all; the message names it.";
    TooManyTopics = "too_many_topics", Some(422), "More topics than one live-events subscription takes (100).";
    InvalidPresets = "invalid_presets", Some(422), "Unknown, repeated or too many presets.";
    TooManySamples = "too_many_samples", Some(422), "More voice samples than the request takes.";
    NotEnoughSamples = "not_enough_samples", Some(422), "Fewer voice samples than an enrollment needs.";
    EmptyAudio = "empty_audio", Some(422), "No bytes, or no audio frames.";
    VerificationLocked = "verification_locked", Some(429), "Too many rejected verifications of the user lately; `Retry-After` says when to come back.";
    RateLimited = "rate_limited", Some(429), "Past the rate limit of the tenant (or, for failed keys, of the client address); `Retry-After` says when to come back.";
    UploadFinal = "upload_final", Some(403), "A final (concatenated) resumable upload takes no bytes of its own.";
    OffsetMismatch = "offset_mismatch", Some(409), "A resumable upload's `Upload-Offset` is not the offset the server holds; `HEAD` tells it.";
    PartialIncomplete = "partial_incomplete", Some(409), "A final resumable upload names a partial upload that is not whole yet.";
    TusVersionUnsupported = "tus_version_unsupported", Some(412), "A resumable upload request without `Tus-Resumable: 1.0.0`.";
    UploadLocked = "upload_locked", Some(423), "Another request is writing the resumable upload; try again when it ends.";
    TooManyOpenUploads = "too_many_open_uploads", Some(429), "The tenant has as many resumable uploads open as it may; finish or terminate one.";
    ChecksumMismatch = "checksum_mismatch", Some(460), "A resumable upload's chunk does not match its `Upload-Checksum`; it was discarded.";
    TooManyUploads = "too_many_uploads", Some(503), "As many uploads as the API takes at once are running; `Retry-After` says when to try again.";
    Unavailable = "unavailable", Some(503), "A store behind the API cannot be reached; try again.";
    InternalError = "internal_error", Some(500), "A fault of Mixdown's own (a panic, a bug); it is logged.";
    // Ends of jobs.
    Timeout = "timeout", None, "An attempt ran past its kind's time limit.";
    WorkerLost = "worker_lost", None, "The worker running the attempt stopped (crashed, or was killed).";
    Cancelled = "cancelled", None, "Processing was cancelled: a track one of whose jobs was cancelled.";
    DatabaseUnavailable = "database_unavailable", None, "The database could not be reached; another attempt follows.";
    StorageUnavailable = "storage_unavailable", None, "The object store could not be reached; another attempt follows.";
    ScratchUnavailable = "scratch_unavailable", None, "The worker's scratch directory could not be used.";
    NoopFailure = "noop_failure", None, "A `noop` job failed on request.";
    ActivityMissing = "activity_missing", None, "The activity a fan-out spreads is not recorded for its tenant.";
    FaultInjectionDisabled = "fault_injection_disabled", None, "A `noop` job asked for a fault this worker does not inject.";
    TrackMissing = "track_missing", None, "The job's track does not exist (any more).";
    OriginalMissing = "original_missing", None, "The track's uploaded original is gone.";
    OriginalChanged = "original_changed", None, "The track's stored original is not what was uploaded: its size or SHA-256 differs from what the upload and ingest recorded.";
    ReadFailed = "read_failed", None, "The input could not be read; not the uploader's fault.";
    UnsupportedFormat = "unsupported_format", None, "Not audio, or a container or codec no decoder reads.";
    CorruptAudio = "corrupt_audio", None, "Audio whose data is damaged or cut short.";
    TooLong = "too_long", None, "Longer than the duration limit.";
    TooShort = "too_short", None, "Shorter than the least duration (or, for voice, too little speech).";
    EncodeFailed = "encode_failed", None, "An encoder could not be set up or refused the audio.";
    WriteFailed = "write_failed", None, "An output could not be written.";
    ClipOutsideAudio = "clip_outside_audio", None, "A preset's clip starts after the audio ends.";
    DuplicatePreset = "duplicate_preset", None, "Two presets share a name.";
    SinkFailed = "sink_failed", None, "An analysis fed from the decode (loudness, peaks) failed.";
    CallbackSubjectMissing = "callback_subject_missing", None, "The job a callback reports is gone, or has no callback URL.";
    CallbackAddressRefused = "callback_address_refused", None, "The callback URL reaches no public address.";
    CallbackUnreachable = "callback_unreachable", None, "The callback receiver could not be reached; another attempt follows.";
    CallbackRefused = "callback_refused", None, "The callback receiver answered with an error status.";
    HttpAddressRefused = "http_address_refused", None, "The URL of an `http` job reaches no public address.";
    HttpUnreachable = "http_unreachable", None, "The receiver of an `http` job could not be reached or did not answer in time; another attempt follows.";
    HttpRefused = "http_refused", None, "The receiver of an `http` job answered with a status other than 2xx (408, 429 and 5xx are retried).";
    SecretHeadersUnreadable = "secret_headers_unreadable", None, "An `http` job's secret headers are sealed under a key no longer configured.";
    VoiceUnconfigured = "voice_unconfigured", None, "The worker runs no voice engine.";
    VoiceModelMissing = "voice_model_missing", None, "The worker's voice model file is absent.";
    VoiceModelInvalid = "voice_model_invalid", None, "The worker's voice model file is unreadable.";
    SampleMissing = "sample_missing", None, "An uploaded voice sample is gone.";
    NotEnrolled = "not_enrolled", None, "The user has no voiceprint.";
    ReenrollRequired = "reenroll_required", None, "The voiceprint was made by another model; enroll again.";
    VoiceprintUnreadable = "voiceprint_unreadable", None, "The voiceprint is sealed under a key no longer configured.";
    UserForgotten = "user_forgotten", None, "The user was forgotten while the enrollment ran.";
    UnsupportedSampleRate = "unsupported_sample_rate", None, "A voice sample's rate the engine does not take.";
    TooQuiet = "too_quiet", None, "A voice sample is too quiet.";
    Clipped = "clipped", None, "A voice sample is clipped.";
    NotSpeech = "not_speech", None, "No speech was found in a voice sample.";
    TooNoisy = "too_noisy", None, "A voice sample is too noisy.";
}

impl ErrorCode {
    /// The code named `name`, if the catalogue has it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The code a pure crate (the decoder, the encoder, the voice engine)
    /// names by text; those crates know no catalogue, and every name they
    /// give is in it (their tests say so), so an unknown one is a fault of
    /// Mixdown's own.
    pub fn named(name: &str) -> Self {
        Self::parse(name).unwrap_or(ErrorCode::InternalError)
    }
}

impl From<mixdown_media::decode::ErrorCode> for ErrorCode {
    fn from(code: mixdown_media::decode::ErrorCode) -> Self {
        Self::named(code.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `err` and every cause under it, joined by `: `: what a log needs, and
/// more than a client may see (causes name hosts, buckets and paths).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_parse_back() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            let name = code.as_str();
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(ErrorCode::parse(name), Some(*code));
            assert!(
                !ErrorCode::ALL[..i].iter().any(|c| c.as_str() == name),
                "{name} twice"
            );
        }
        assert_eq!(ErrorCode::parse("nope"), None);
        assert_eq!(ErrorCode::named("nope"), ErrorCode::InternalError);
    }

    #[test]
    fn the_readme_lists_every_code_with_its_status_and_meaning() {
        let readme = include_str!("../../README.md");
        for code in ErrorCode::ALL {
            let status = code
                .http_status()
                .map_or("— (jobs only)".to_owned(), |s| s.to_string());
            let row = format!("| `{code}` | {status} | {} |", code.meaning());
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }

    #[test]
    fn every_decoder_code_is_in_the_catalogue() {
        use mixdown_media::decode::ErrorCode as Decode;
        for code in [
            Decode::UnsupportedFormat,
            Decode::CorruptAudio,
            Decode::EmptyAudio,
            Decode::TooLong,
            Decode::ReadFailed,
        ] {
            assert_eq!(ErrorCode::from(code).as_str(), code.as_str());
        }
    }
}
