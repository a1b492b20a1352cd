//! The HTTP API's own settings.

use std::net::SocketAddr;

use mixdown_jobs::tracks::PresetsFile;
use mixdown_settings::{Millis, Seconds, settings};

use crate::{edge::RateLimit, signing::UrlSigningKeys};

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
        /// keys of the URLs the API serves, comma-separated, 32+ characters each: the first signs, all open (default: one kept in the database)
        url_signing_keys: Option<UrlSigningKeys> = "", "MIXDOWN_URL_SIGNING_KEYS";
        /// where clients reach the API, e.g. https://media.example.com (default: paths only)
        public_url: Option<String> = "", "MIXDOWN_PUBLIC_URL";
        /// how long a resumable (tus) upload may take before it is swept, from its creation
        tus_expiry_secs: Seconds = "86400", "MIXDOWN_TUS_EXPIRY_SECS";
        /// most resumable (tus) uploads a tenant may have open at once (429 beyond)
        tus_max_open_uploads: u64 = "100", "MIXDOWN_TUS_MAX_OPEN_UPLOADS";
        /// largest voice sample upload
        voice_max_sample_bytes: u64 = "10485760", "MIXDOWN_VOICE_MAX_SAMPLE_BYTES";
        /// time between keep-alive comments on a quiet live-events stream
        events_keepalive_ms: Millis = "15000", "MIXDOWN_EVENTS_KEEPALIVE_MS";
        /// address of the API's /metrics, /readyz with details and /healthz, for operators only
        ops_listen: SocketAddr = "127.0.0.1:9090", "MIXDOWN_OPS_LISTEN";
        /// longest a request's head (request line and headers) may take to arrive whole
        header_read_timeout_ms: Millis = "10000", "MIXDOWN_HEADER_READ_TIMEOUT_MS";
        /// longest wait for the next bytes of a request body
        body_read_timeout_ms: Millis = "30000", "MIXDOWN_BODY_READ_TIMEOUT_MS";
        /// least average rate of a request body after its first body_read_timeout_ms (0: none)
        min_body_bytes_per_sec: u64 = "1024", "MIXDOWN_MIN_BODY_BYTES_PER_SEC";
        /// longest a connection stays open with nothing moving and no request running
        idle_timeout_ms: Millis = "60000", "MIXDOWN_IDLE_TIMEOUT_MS";
        /// most connections open at once per listener; more are closed as they arrive
        max_connections: usize = "10000", "MIXDOWN_MAX_CONNECTIONS";
        /// most uploads received at once; more answer 503 too_many_uploads
        max_concurrent_uploads: usize = "64", "MIXDOWN_MAX_CONCURRENT_UPLOADS";
        /// requests per tenant, e.g. `200/s burst 400` (`mixdown keys create --rate` sets one tenant's)
        rate_limit: RateLimit = "1000/s burst 2000", "MIXDOWN_RATE_LIMIT";
        /// failed authentications per client address, e.g. `10/s burst 100`
        auth_failure_rate: RateLimit = "10/s burst 100", "MIXDOWN_AUTH_FAILURE_RATE";
    }
}

#[cfg(test)]
mod tests {
    use mixdown_settings::{Layers, Settings};

    use super::*;

    #[test]
    fn signing_keys_are_masked_when_printed() {
        let keys = format!("{},{}", "new-key-".repeat(4), "old-key-".repeat(4));
        let layers = Layers::from_pairs(
            &[ApiSettings::FIELDS],
            &[("MIXDOWN_URL_SIGNING_KEYS", keys.as_str())],
        );
        let s: ApiSettings = layers.and_then(|l| l.build()).unwrap();
        let shown = format!("{s:?} {:?}", s.entries());
        assert!(
            !shown.contains("new-key") && !shown.contains("old-key"),
            "{shown}"
        );
        assert!(shown.contains("url_signing_keys: Some(***)"), "{shown}");
        let short = Layers::from_pairs(
            &[ApiSettings::FIELDS],
            &[("MIXDOWN_URL_SIGNING_KEYS", "short-key")],
        );
        let err = short.and_then(|l| l.build::<ApiSettings>()).err().unwrap();
        assert!(!err.to_string().contains("short-key"), "{err}");
    }
}
