//! Secrets every process sharing the database shares without configuration:
//! the key that signs the URLs the API serves, the master callback secret.

use sqlx::Row;

use super::{Conn, StoreError};
use crate::{
    callbacks::{SECRET_NAME, tenant_secret},
    ids::TenantId,
};

/// The secrets table.
#[derive(Debug, Clone)]
pub struct SecretRepo {
    db: Conn,
}

impl SecretRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
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

    /// The secret `tenant` checks its callbacks' signatures with.
    pub async fn callback_secret(&self, tenant: TenantId) -> Result<String, StoreError> {
        let master = self.shared(SECRET_NAME, random_secret).await?;
        Ok(tenant_secret(&master, tenant))
    }
}

/// A fresh secret for [`SecretRepo::shared`]: 32 random bytes in hex.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
