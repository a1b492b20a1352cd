//! What every request handler shares.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use mixdown_jobs::{Stores, codes::ErrorCode, ids::TenantId, settings::JobsSettings};
use mixdown_media::transcode::{Preset, default_presets};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::{error::ApiError, settings::ApiSettings, signing::UrlSigner};

/// How long a known API key is trusted without asking the database.
const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// Shared state of the API; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The stores behind the API.
    pub stores: Stores,
    /// The API's own settings.
    pub settings: ApiSettings,
    /// The settings every process of the fleet shares.
    pub fleet: JobsSettings,
    presets: Arc<[Preset]>,
    /// Fires when the process begins to stop: `/readyz` then says draining.
    pub draining: CancellationToken,
    keys: Arc<RwLock<HashMap<String, (TenantId, Instant)>>>,
    signer: Arc<OnceCell<UrlSigner>>,
}

impl AppState {
    /// State over `stores`.
    pub fn new(stores: Stores, settings: ApiSettings, fleet: JobsSettings) -> Self {
        let presets = match &settings.presets_file {
            Some(file) => file.presets().into(),
            None => default_presets().into(),
        };
        Self {
            stores,
            settings,
            fleet,
            presets,
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

    /// The presets a track may ask for; all of them when it names none.
    pub(crate) fn presets(&self) -> &[Preset] {
        &self.presets
    }

    /// Where clients reach the API, prefixed to the URLs it serves itself
    /// (empty: those URLs are paths on the host the client called).
    pub(crate) fn public_url(&self) -> &str {
        let url = self.settings.public_url.as_deref().unwrap_or_default();
        url.trim_end_matches('/')
    }

    /// How long the URLs of a track answer, and a presigned upload, stay valid.
    pub(crate) fn url_ttl(&self) -> Duration {
        self.settings.url_ttl_secs.get()
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
            && at.elapsed() < KEY_CACHE_TTL
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
