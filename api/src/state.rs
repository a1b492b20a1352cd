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

use crate::{
    edge::{Edge, RateLimit},
    error::ApiError,
    intake::Intake,
    settings::ApiSettings,
    signing::UrlSigner,
};

/// How long a known API key is trusted without asking the database: a
/// revoked key opens nothing on any replica once this has passed, with no
/// message between replicas to lose.
const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Shared state of the API; cheap to clone: one reference count, since a
/// copy goes with every request.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What every copy of an [`AppState`] shares.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The stores behind the API.
    pub stores: Stores,
    /// The API's own settings.
    pub settings: ApiSettings,
    /// The settings every process of the fleet shares.
    pub fleet: JobsSettings,
    presets: Arc<[Preset]>,
    /// Fires when the process begins to stop: `/readyz` then says draining.
    pub draining: CancellationToken,
    keys: Arc<RwLock<HashMap<String, KnownKey>>>,
    signer: Arc<OnceCell<UrlSigner>>,
    /// The limits every request is held to.
    pub(crate) edge: Edge,
    /// Records single jobs of concurrent requests together.
    pub(crate) intake: Intake,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A key known to the API: its caller, when that was read from the database,
/// and whether a request is reading it again.
#[derive(Debug, Clone, Copy)]
struct KnownKey {
    caller: Caller,
    read_at: Instant,
    rereading: bool,
}

impl KnownKey {
    /// The caller for the first half of [`KEY_CACHE_TTL`] after the read and,
    /// for the second half, while another request reads it again: the
    /// requests that find a busy key due together must not all queue for the
    /// database (each would also wait on the others' writes of its last use).
    fn caller(&self) -> Option<Caller> {
        let age = self.read_at.elapsed();
        (age < KEY_CACHE_TTL / 2 || (self.rereading && age < KEY_CACHE_TTL)).then_some(self.caller)
    }
}

/// Who a key proves the caller to be, and the rate its tenant is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    /// The key's tenant.
    pub(crate) tenant: TenantId,
    /// The tenant's own rate; `None`: the configured one.
    pub(crate) rate: Option<RateLimit>,
}

impl AppState {
    /// State over `stores`.
    pub fn new(stores: Stores, settings: ApiSettings, fleet: JobsSettings) -> Self {
        let presets = match &settings.presets_file {
            Some(file) => file.presets().into(),
            None => default_presets().into(),
        };
        let edge = Edge::new(&stores.queue, &settings);
        Self(Arc::new(Shared {
            intake: Intake::new(stores.clone()),
            stores,
            settings,
            fleet,
            presets,
            draining: CancellationToken::new(),
            keys: Arc::default(),
            signer: Arc::default(),
            edge,
        }))
    }

    /// The same state, draining once `token` fires.
    pub fn draining_on(self, token: CancellationToken) -> Self {
        Self(Arc::new(Shared {
            draining: token,
            ..Arc::unwrap_or_clone(self.0)
        }))
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
            .get_or_try_init(|| {
                let configured = self.settings.url_signing_keys.as_ref();
                UrlSigner::load(configured, &self.stores.db.secrets)
            })
            .await
            .map_err(ApiError::unavailable)
    }

    /// The tenant owning `key`.
    pub async fn tenant_for_key(&self, key: &str) -> Result<TenantId, ApiError> {
        Ok(self.caller(key).await?.tenant)
    }

    /// Resolves once `key` proves no caller any more (it was revoked), asked
    /// as often as the cache forgets it: what ends a long answer, such as a
    /// live-events stream, opened with a key since revoked.
    pub(crate) async fn key_revoked(self, key: String) {
        loop {
            tokio::time::sleep(KEY_CACHE_TTL).await;
            if let Err(err) = self.caller(&key).await
                && err.code() == ErrorCode::Unauthorized
            {
                return;
            }
        }
    }

    /// The caller `key` proves, if the key was known lately: no query.
    pub(crate) fn cached_caller(&self, key: &str) -> Option<Caller> {
        self.keys.read().ok()?.get(key)?.caller()
    }

    /// Whether `key` proved a caller when last read, however long ago: it is
    /// read again whatever its address's failed keys, so that a client
    /// sharing an address with a guesser keeps working.
    pub(crate) fn knows(&self, key: &str) -> bool {
        self.keys.read().is_ok_and(|map| map.contains_key(key))
    }

    /// The caller `key` proves. Known keys are cached briefly, so the hot
    /// path of a busy client does not cost a query per request, and read
    /// again by one request at a time; unknown keys are not cached, so a
    /// flood of random keys cannot grow memory (the address's
    /// failed-authentication limit keeps it from the database).
    pub(crate) async fn caller(&self, key: &str) -> Result<Caller, ApiError> {
        // Every `/v1` request asks: the common answer must not wait for the
        // write lock.
        if let Some(caller) = self.cached_caller(key) {
            return Ok(caller);
        }
        if let Ok(mut map) = self.keys.write()
            && let Some(known) = map.get_mut(key)
        {
            if let Some(caller) = known.caller() {
                return Ok(caller);
            }
            known.rereading = true;
        }
        let read = self.read_caller(key).await;
        if let Ok(mut map) = self.keys.write() {
            match &read {
                Ok(caller) => {
                    let known = KnownKey {
                        caller: *caller,
                        read_at: Instant::now(),
                        rereading: false,
                    };
                    map.insert(key.to_owned(), known);
                }
                Err(err) if err.code() == ErrorCode::Unauthorized => {
                    map.remove(key);
                }
                Err(_) => {
                    if let Some(known) = map.get_mut(key) {
                        known.rereading = false;
                    }
                }
            }
        }
        read
    }

    async fn read_caller(&self, key: &str) -> Result<Caller, ApiError> {
        let (tenant, rate) = self
            .stores
            .db
            .tenants
            .key_owner(key)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing or unknown API key"))?;
        let rate = rate.and_then(|text| match text.parse() {
            Ok(rate) => Some(rate),
            Err(err) => {
                tracing::warn!(%tenant, %err, "a stored rate limit does not parse; the configured one applies");
                None
            }
        });
        Ok(Caller { tenant, rate })
    }
}
