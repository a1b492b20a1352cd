//! The HTTP API's own settings.

use std::net::SocketAddr;

use mixdown_jobs::tracks::PresetsFile;
use mixdown_settings::{Millis, Seconds, settings};

settings! {
    /// What the API listens on, and the limits of what it takes and gives.
    pub struct ApiSettings {
        /// address the API listens on
        listen: SocketAddr = "127.0.0.1:8080", "MIXDOWN_LISTEN";
        /// largest JSON request body
        max_json_bytes: usize = "1048576", "MIXDOWN_MAX_JSON_BYTES";
        /// largest body of a batch of jobs (POST /v1/jobs/batch)
        max_batch_bytes: usize = "16777216", "MIXDOWN_MAX_BATCH_BYTES";
        /// largest track upload
        max_upload_bytes: u64 = "2147483648", "MIXDOWN_MAX_UPLOAD_BYTES";
        /// TOML file of [[preset]] tables replacing the built-in output presets
        presets_file: Option<PresetsFile> = "", "MIXDOWN_PRESETS_FILE";
        /// how long output URLs and presigned uploads stay valid
        url_ttl_secs: Seconds = "3600", "MIXDOWN_URL_TTL_SECS";
        /// where clients reach the API, e.g. https://media.example.com (default: paths only)
        public_url: Option<String> = "", "MIXDOWN_PUBLIC_URL";
        /// largest voice sample upload
        voice_max_sample_bytes: u64 = "10485760", "MIXDOWN_VOICE_MAX_SAMPLE_BYTES";
        /// time between keep-alive comments on a quiet live-events stream
        events_keepalive_ms: Millis = "15000", "MIXDOWN_EVENTS_KEEPALIVE_MS";
    }
}
