//! Every key, a tenant's or an operator's, as an operator names it without
//! holding it: by its [`KeyId`], with when it was made, last used and
//! revoked; and revocation, which no cache outlives for more than seconds.

use std::{fmt, time::Duration};

use sqlx::{Row, any::AnyRow};

use super::{Conn, StoreError, tenants::hash_key};
use crate::time::Timestamp;

/// How stale a key's `last_used_at` may grow before a use writes it again:
/// a busy key costs a write a minute, not one per request.
const LAST_USED_PRECISION: Duration = Duration::from_secs(60);

/// The name of a key that does not reveal it: the first 12 hex digits of its
/// SHA-256 (the stored hash's own beginning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    /// Hex digits in an id.
    const LEN: usize = 12;

    /// The id of `key`.
    pub fn of_key(key: &str) -> Self {
        Self::of_hash(&hash_key(key))
    }

    fn of_hash(hash: &str) -> Self {
        Self(hash[..Self::LEN].to_owned())
    }

    /// An id as `keys list` prints it: 12 lower-case hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        (text.len() == Self::LEN && text.bytes().all(hex)).then(|| Self(text.to_owned()))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whom a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// A tenant, by name: the key opens `/v1`.
    Tenant(String),
    /// An operator, by name: the key opens the dashboard.
    Operator(String),
}

/// A key as operators see it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Its id.
    pub id: KeyId,
    /// Its owner.
    pub owner: KeyOwner,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it last opened anything, to within a minute.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// What revoking a key by its id did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The key opens nothing from now on.
    Revoked(KeyRecord),
    /// The key had been revoked before.
    AlreadyRevoked(KeyRecord),
    /// No key has that id.
    Unknown,
    /// Several keys share the id (astronomically unlikely); none was revoked.
    Ambiguous(usize),
}

/// The two tables of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyTable {
    /// `api_keys`, the tenants'.
    Tenants,
    /// `operator_keys`.
    Operators,
}

/// Every key of both tables, listed and revoked.
#[derive(Debug, Clone)]
pub struct KeyRepo {
    db: Conn,
}

impl KeyRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Every key, the tenants' then the operators', oldest first.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut keys = Vec::new();
        for table in [KeyTable::Tenants, KeyTable::Operators] {
            let rows = sqlx::query(table.select_all())
                .fetch_all(&self.db.pool)
                .await?;
            for row in &rows {
                keys.push(record(row, table)?.1);
            }
        }
        Ok(keys)
    }

    /// Revokes the key called `id`, whichever table holds it.
    pub async fn revoke(&self, id: &KeyId) -> Result<Revocation, StoreError> {
        let mut found = Vec::new();
        for table in [KeyTable::Tenants, KeyTable::Operators] {
            let rows = sqlx::query(table.select_by_id())
                .bind(id.0.clone())
                .fetch_all(&self.db.pool)
                .await?;
            for row in &rows {
                let (hash, key) = record(row, table)?;
                found.push((table, hash, key));
            }
        }
        let (table, hash, mut key) = match found.len() {
            0 => return Ok(Revocation::Unknown),
            1 => found.remove(0),
            n => return Ok(Revocation::Ambiguous(n)),
        };
        let now = self.db.clock.now();
        let done = sqlx::query(table.revoke())
            .bind(now.millis())
            .bind(hash)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(Revocation::AlreadyRevoked(key));
        }
        key.revoked_at = Some(now);
        Ok(Revocation::Revoked(key))
    }
}

impl KeyTable {
    fn select_all(self) -> &'static str {
        match self {
            Self::Tenants => {
                "SELECT k.key_hash, t.name AS owner, k.created_at, k.last_used_at, k.revoked_at \
                 FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
                 ORDER BY k.created_at, k.key_hash"
            }
            Self::Operators => {
                "SELECT key_hash, operator AS owner, created_at, last_used_at, revoked_at \
                 FROM operator_keys ORDER BY created_at, key_hash"
            }
        }
    }

    // Revocations are rare and the tables small: a scan is fine.
    fn select_by_id(self) -> &'static str {
        match self {
            Self::Tenants => {
                "SELECT k.key_hash, t.name AS owner, k.created_at, k.last_used_at, k.revoked_at \
                 FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
                 WHERE substr(k.key_hash, 1, 12) = $1"
            }
            Self::Operators => {
                "SELECT key_hash, operator AS owner, created_at, last_used_at, revoked_at \
                 FROM operator_keys WHERE substr(key_hash, 1, 12) = $1"
            }
        }
    }

    fn revoke(self) -> &'static str {
        match self {
            Self::Tenants => {
                "UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL"
            }
            Self::Operators => {
                "UPDATE operator_keys SET revoked_at = $1 WHERE key_hash = $2 \
                 AND revoked_at IS NULL"
            }
        }
    }

    fn touch(self) -> &'static str {
        match self {
            Self::Tenants => "UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2",
            Self::Operators => "UPDATE operator_keys SET last_used_at = $1 WHERE key_hash = $2",
        }
    }
}

/// A row of a key table's selects: the key's hash and its record.
fn record(row: &AnyRow, table: KeyTable) -> Result<(String, KeyRecord), StoreError> {
    let hash: String = row.try_get("key_hash")?;
    let name: String = row.try_get("owner")?;
    let at = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(Timestamp::from_millis))
    };
    let key = KeyRecord {
        id: KeyId::of_hash(&hash),
        owner: match table {
            KeyTable::Tenants => KeyOwner::Tenant(name),
            KeyTable::Operators => KeyOwner::Operator(name),
        },
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_used_at: at("last_used_at")?,
        revoked_at: at("revoked_at")?,
    };
    Ok((hash, key))
}

/// Records that the key hashed as `hash` was used now, unless its stored
/// `last_used` is recent enough.
pub(super) async fn touch(
    db: &Conn,
    table: KeyTable,
    hash: &str,
    last_used: Option<i64>,
) -> Result<(), StoreError> {
    let now = db.clock.now();
    let fresh =
        last_used.is_some_and(|at| now.since(Timestamp::from_millis(at)) < LAST_USED_PRECISION);
    if !fresh {
        sqlx::query(table.touch())
            .bind(now.millis())
            .bind(hash.to_owned())
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}
