//! What every request handler shares.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use mixdown_jobs::{Stores, codes::ErrorCode, ids::TenantId, voice::Lockout};
use mixdown_media::transcode::{Preset, default_presets};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::{error::ApiError, signing::UrlSigner};

/// Limits and knobs of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest JSON body accepted.
    pub max_json_bytes: usize,
    /// How long a known API key is trusted without asking the database.
    pub key_cache_ttl: Duration,
    /// A worker silent for longer than this is not listed as live.
    pub worker_dead_after: Duration,
    /// Limits of the voice endpoints.
    pub voice: VoiceLimits,
    /// Limits and knobs of uploads and tracks.
    pub tracks: TrackLimits,
}

/// Limits and knobs of uploads and tracks.
#[derive(Debug, Clone)]
pub struct TrackLimits {
    /// Largest upload, bytes.
    pub max_upload_bytes: u64,
    /// The presets a track may ask for; all of them when it names none.
    pub presets: Vec<Preset>,
    /// How long the URLs of a track answer stay valid.
    pub url_ttl: Duration,
    /// How long a presigned upload may take.
    pub upload_ttl: Duration,
    /// Where clients reach the API, prefixed to the URLs it serves itself
    /// (empty: those URLs are paths on the host the client called).
    pub public_url: String,
}

impl Default for TrackLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 2 << 30,
            presets: default_presets(),
            url_ttl: Duration::from_secs(60 * 60),
            upload_ttl: Duration::from_secs(60 * 60),
            public_url: String::new(),
        }
    }
}

/// Limits of the voice endpoints.
#[derive(Debug, Clone, Copy)]
pub struct VoiceLimits {
    /// Largest voice sample, bytes.
    pub max_sample_bytes: u64,
    /// Samples an enrollment needs at least.
    pub enrollment_samples: usize,
    /// When rejected verifications lock a user.
    pub lockout: Lockout,
}

impl Default for VoiceLimits {
    fn default() -> Self {
        Self {
            max_sample_bytes: 10 << 20,
            enrollment_samples: 3,
            lockout: Lockout::default(),
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            max_json_bytes: 1 << 20,
            key_cache_ttl: Duration::from_secs(60),
            worker_dead_after: Duration::from_secs(15),
            voice: VoiceLimits::default(),
            tracks: TrackLimits::default(),
        }
    }
}

/// Shared state of the API; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The stores behind the API.
    pub stores: Stores,
    /// Limits and knobs.
    pub settings: ApiSettings,
    /// Fires when the process begins to stop: `/readyz` then says draining.
    pub draining: CancellationToken,
    keys: Arc<RwLock<HashMap<String, (TenantId, Instant)>>>,
    signer: Arc<OnceCell<UrlSigner>>,
}

impl AppState {
    /// State over `stores`.
    pub fn new(stores: Stores, settings: ApiSettings) -> Self {
        Self {
            stores,
            settings,
            draining: CancellationToken::new(),
            keys: Arc::default(),
            signer: Arc::default(),
        }
    }

    /// The same state, draining once `token` fires.
    pub fn draining_on(self, token: CancellationToken) -> Self {
        Self {
            draining: token,
            ..self
        }
    }

    /// The signer of the URLs the API serves, its key read on first use.
    pub(crate) async fn signer(&self) -> Result<&UrlSigner, ApiError> {
        self.signer
            .get_or_try_init(|| UrlSigner::load(&self.stores.db.secrets))
            .await
            .map_err(ApiError::unavailable)
    }

    /// The tenant owning `key`. Known keys are cached briefly, so the hot path
    /// of a busy client does not cost a query per request; unknown keys are
    /// not cached, so a flood of random keys cannot grow memory.
    pub async fn tenant_for_key(&self, key: &str) -> Result<TenantId, ApiError> {
        let cached = self.keys.read().ok().and_then(|m| m.get(key).copied());
        if let Some((tenant, at)) = cached
            && at.elapsed() < self.settings.key_cache_ttl
        {
            return Ok(tenant);
        }
        let tenant = self
            .stores
            .db
            .tenants
            .tenant_for_key(key)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing or unknown API key"))?;
        if let Ok(mut map) = self.keys.write() {
            map.insert(key.to_owned(), (tenant, Instant::now()));
        }
        Ok(tenant)
    }
}
