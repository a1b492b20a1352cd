//! Secrets every process sharing the database shares without configuration:
//! the key that signs the URLs the API serves, the master callback secret,
//! and the tenants' callback secrets derived from it, which rotate.

use std::{sync::Arc, time::Duration};

use mixdown_settings::Secret;
use sqlx::Row;
use tokio::sync::OnceCell;

use super::{Conn, StoreError};
use crate::{
    callbacks::{CallbackSecrets, PreviousSecret, SECRET_NAME, tenant_secret},
    ids::TenantId,
    time::Timestamp,
};

/// The secrets table.
#[derive(Debug, Clone)]
pub struct SecretRepo {
    db: Conn,
    /// The master callback secret never changes once stored, so every
    /// callback after the first reads only its tenant's row.
    master: Arc<OnceCell<String>>,
}

impl SecretRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self {
            db,
            master: Arc::default(),
        }
    }

    /// The secret stored as `name`, made by `fresh` (e.g. [`random_secret`]) and
    /// stored on first use; every process sharing the database gets the same one.
    pub async fn shared(
        &self,
        name: &str,
        fresh: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(fresh())
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.db.pool)
            .await?;
        Ok(row.try_get("value")?)
    }

    /// The secrets `tenant`'s callbacks are signed with now: the current one,
    /// and the one before it while its grace period lasts.
    pub async fn callback_secrets(&self, tenant: TenantId) -> Result<CallbackSecrets, StoreError> {
        let master = self
            .master
            .get_or_try_init(|| self.shared(SECRET_NAME, random_secret))
            .await?;
        let row = sqlx::query(
            "SELECT callback_secret_version, callback_previous_version, callback_previous_until \
             FROM tenants WHERE id = $1",
        )
        .bind(tenant.to_string())
        .fetch_optional(&self.db.pool)
        .await?;
        let (version, previous, until) = match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
            None => (0, None, None),
        };
        let now = self.db.clock.now();
        let previous = match (previous, until.map(Timestamp::from_millis)) {
            (Some(v), Some(until)) if until > now => Some(PreviousSecret {
                secret: Secret::new(tenant_secret(master, tenant, v)),
                until,
            }),
            _ => None,
        };
        Ok(CallbackSecrets {
            current: Secret::new(tenant_secret(master, tenant, version)),
            previous,
        })
    }

    /// Gives `tenant` a new callback secret; the current one keeps signing
    /// beside it for `grace`, and one replaced earlier stops at once.
    pub async fn rotate_callback_secret(
        &self,
        tenant: TenantId,
        grace: Duration,
    ) -> Result<CallbackSecrets, StoreError> {
        let until = self.db.clock.now().plus(grace);
        // Every SET reads the row as it was: the previous version is the one
        // being replaced.
        sqlx::query(
            "UPDATE tenants SET callback_previous_version = callback_secret_version, \
             callback_previous_until = $1, callback_secret_version = callback_secret_version + 1 \
             WHERE id = $2",
        )
        .bind(until.millis())
        .bind(tenant.to_string())
        .execute(&self.db.pool)
        .await?;
        self.callback_secrets(tenant).await
    }
}

/// A fresh secret for [`SecretRepo::shared`]: 32 random bytes in hex.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
