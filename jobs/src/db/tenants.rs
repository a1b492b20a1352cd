//! Tenants and their API keys; only a SHA-256 of each key is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{
    Conn, StoreError,
    keys::{KeyTable, touch},
    rows::parse_id,
};
use crate::ids::TenantId;

/// A freshly made API key: shown once, never stored in clear.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The key itself.
    pub key: String,
}

/// What begins every tenant's key.
pub const TENANT_KEY_PREFIX: &str = "mdk_";

/// The stored form of a key.
pub(super) fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: `prefix` then 48 hex digits.
pub(super) fn random_key(prefix: &str) -> String {
    let mut secret = [0u8; 24];
    rand::rng().fill_bytes(&mut secret);
    format!("{prefix}{}", hex::encode(secret))
}

/// The tenants and API keys tables.
#[derive(Debug, Clone)]
pub struct TenantRepo {
    db: Conn,
}

impl TenantRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Makes a new API key for the tenant called `name`, creating the tenant
    /// on first use.
    pub async fn create_key(&self, name: &str) -> Result<NewApiKey, StoreError> {
        let now = self.db.clock.now().millis();
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(TenantId::new().to_string())
        .bind(name.to_owned())
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        let row = sqlx::query("SELECT id FROM tenants WHERE name = $1")
            .bind(name.to_owned())
            .fetch_one(&self.db.pool)
            .await?;
        let tenant_id = parse_id(&row, "id", TenantId::parse)?;
        let key = random_key(TENANT_KEY_PREFIX);
        sqlx::query("INSERT INTO api_keys (key_hash, tenant_id, created_at) VALUES ($1, $2, $3)")
            .bind(hash_key(&key))
            .bind(tenant_id.to_string())
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        Ok(NewApiKey { tenant_id, key })
    }

    /// The tenant called `name`, if there is one.
    pub async fn named(&self, name: &str) -> Result<Option<TenantId>, StoreError> {
        let row = sqlx::query("SELECT id FROM tenants WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| parse_id(&r, "id", TenantId::parse)).transpose()
    }

    /// The tenant owning `key`, if the key is known and not revoked.
    pub async fn tenant_for_key(&self, key: &str) -> Result<Option<TenantId>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_key(key))
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| parse_id(&r, "tenant_id", TenantId::parse))
            .transpose()
    }

    /// The tenant owning `key` and the rate limit stored for it (as set,
    /// unparsed), if the key is known and not revoked; the key's use is
    /// recorded.
    pub async fn key_owner(
        &self,
        key: &str,
    ) -> Result<Option<(TenantId, Option<String>)>, StoreError> {
        let hash = hash_key(key);
        let row = sqlx::query(
            "SELECT k.tenant_id, t.rate_limit, k.last_used_at FROM api_keys k \
             JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(hash.clone())
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        touch(
            &self.db,
            KeyTable::Tenants,
            &hash,
            r.try_get("last_used_at")?,
        )
        .await?;
        Ok(Some((
            parse_id(&r, "tenant_id", TenantId::parse)?,
            r.try_get("rate_limit")?,
        )))
    }

    /// Stores the rate limit of a tenant (`None`: the configured one applies).
    pub async fn set_rate_limit(&self, id: TenantId, rate: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET rate_limit = $1 WHERE id = $2")
            .bind(rate.map(str::to_owned))
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The name of a tenant.
    pub async fn name(&self, id: TenantId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(|r| r.try_get("name")).transpose()?)
    }
}
