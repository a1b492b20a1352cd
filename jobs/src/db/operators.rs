//! Operators and their keys: an operator key opens the dashboard across
//! tenants and is no tenant's key; only a SHA-256 of each is stored.

use sqlx::Row;

use super::{
    Conn, StoreError,
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

    /// The name of the operator owning `key`, if the key is an operator's.
    pub async fn operator_for_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT operator FROM operator_keys WHERE key_hash = $1")
            .bind(hash_key(key))
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(|r| r.try_get("operator")).transpose()?)
    }
}
