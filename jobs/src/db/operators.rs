//! Operators and their keys: an operator key opens the dashboard across
//! tenants and is no tenant's key; only a SHA-256 of each is stored.

use sqlx::Row;

use super::{
    Conn, StoreError,
    keys::{KeyTable, touch},
    tenants::{hash_key, random_key},
};

/// What begins every operator's key, so a key says what it is at a glance.
pub const OPERATOR_KEY_PREFIX: &str = "mdo_";

/// A freshly made operator key: shown once, never stored in clear.
#[derive(Debug, Clone)]
pub struct NewOperatorKey {
    /// The operator it belongs to.
    pub operator: String,
    /// The key itself.
    pub key: String,
}

/// The operator keys table.
#[derive(Debug, Clone)]
pub struct OperatorRepo {
    db: Conn,
}

impl OperatorRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Makes a new key for the operator called `name`.
    pub async fn create_key(&self, name: &str) -> Result<NewOperatorKey, StoreError> {
        let key = random_key(OPERATOR_KEY_PREFIX);
        sqlx::query(
            "INSERT INTO operator_keys (key_hash, operator, created_at) VALUES ($1, $2, $3)",
        )
        .bind(hash_key(&key))
        .bind(name.to_owned())
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        Ok(NewOperatorKey {
            operator: name.to_owned(),
            key,
        })
    }

    /// The name of the operator owning `key`, if the key is an operator's
    /// and not revoked; the key's use is recorded.
    pub async fn operator_for_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        let hash = hash_key(key);
        let row = sqlx::query(
            "SELECT operator, last_used_at FROM operator_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash.clone())
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        touch(
            &self.db,
            KeyTable::Operators,
            &hash,
            r.try_get("last_used_at")?,
        )
        .await?;
        Ok(Some(r.try_get("operator")?))
    }
}
