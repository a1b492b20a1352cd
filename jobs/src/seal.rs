//! Values sealed at rest with AES-256-GCM: a random 96-bit nonce per write,
//! associated data naming the use and the owner (a sealed value copied onto
//! another owner, or into another use, does not open), and the id of the key
//! stored beside the ciphertext so keys can rotate: the current key seals,
//! earlier keys still open. Voiceprints and the secret headers of `http` jobs
//! are sealed this way, each under a key of its own.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes of a key.
const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
const NONCE_BYTES: usize = 12;

/// A configured key that is not one.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not base64.
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not 32 bytes once decoded.
    #[error("must be 32 bytes, got {0}")]
    Length(usize),
}

/// Why sealed bytes did not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Sealed under a key that is not configured (any more).
    #[error("sealed under key {0}, which is not configured")]
    UnknownKey(String),
    /// Tampered with, moved to another owner, or sealed under another key of the same id.
    #[error("does not open: tampered, moved or sealed under another key")]
    Tampered,
}

/// One AES-256 key and its id (derived from the key, so it cannot be mislabelled).
#[derive(Clone)]
pub struct SealKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealKey {
    /// Parses the base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(text.trim())?;
        if bytes.len() != KEY_BYTES {
            return Err(KeyError::Length(bytes.len()));
        }
        // A hash of a random 256-bit key tells nothing about the key.
        let id = hex::encode(&Sha256::digest(&bytes)[..8]);
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Self { id, cipher })
    }

    /// A new random key, as base64 (for `mixdown dev`).
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The key's id, stored with everything it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl mixdown_settings::Value for SealKey {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        Self::from_base64(text).map_err(|e| e.to_string())
    }

    fn show(&self) -> String {
        "***".into()
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({})", self.id)
    }
}

/// Earlier keys, comma-separated: they open what they sealed, which moves to
/// the current key when next written.
#[derive(Debug, Clone, Default)]
pub struct OldSealKeys(pub Vec<SealKey>);

impl mixdown_settings::Value for OldSealKeys {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        let keys = text.split(',').filter(|k| !k.trim().is_empty());
        keys.map(|k| SealKey::from_base64(k).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn show(&self) -> String {
        format!("*** ({} keys)", self.0.len())
    }
}

/// What a sealed value is bound to: its use and its owner. It is not stored;
/// opening must name the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociatedData(Vec<u8>);

impl AssociatedData {
    /// `use_name`, then each part of the owner, NUL-separated (no part holds a NUL).
    pub fn new(use_name: &str, owner: &[&str]) -> Self {
        let mut bytes = use_name.as_bytes().to_vec();
        for part in owner {
            bytes.push(0);
            bytes.extend_from_slice(part.as_bytes());
        }
        Self(bytes)
    }
}

/// Bytes sealed under a key, as stored (as JSON, nonce and ciphertext are base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Id of the key that sealed them.
    pub key_id: String,
    /// The nonce of this write.
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
}

/// The key that seals, and older keys that still open.
#[derive(Debug, Clone)]
pub struct SealKeys {
    current: SealKey,
    old: Vec<SealKey>,
}

impl SealKeys {
    /// Seals under `current`; opens what `current` or any of `old` sealed.
    pub fn new(current: SealKey, old: Vec<SealKey>) -> Self {
        Self { current, old }
    }

    /// The key new writes are sealed under.
    pub fn current(&self) -> &SealKey {
        &self.current
    }

    /// Seals `plaintext`, bound to `data`.
    pub fn seal(&self, data: &AssociatedData, plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: &data.0,
        };
        let ciphertext = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .expect("AES-GCM seals any message shorter than 64 GiB");
        Sealed {
            key_id: self.current.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens what was sealed bound to `data`.
    pub fn open(&self, sealed: &Sealed, data: &AssociatedData) -> Result<Vec<u8>, SealError> {
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_BYTES] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Tampered)?;
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: &data.0,
        };
        key.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SealError::Tampered)
    }
}

/// Bytes as base64 text in JSON.
mod base64_bytes {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(D::Error::custom)
    }
}

/// Keys made up for a test: a random current key, no old ones.
#[cfg(test)]
pub(crate) fn test_keys() -> SealKeys {
    SealKeys::new(
        SealKey::from_base64(&SealKey::generate_base64()).expect("a generated key parses"),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SealKeys {
        test_keys()
    }

    fn key() -> SealKey {
        SealKey::from_base64(&SealKey::generate_base64()).unwrap()
    }

    fn owner(parts: &[&str]) -> AssociatedData {
        AssociatedData::new("test-use", parts)
    }

    #[test]
    fn a_sealed_value_opens_for_its_owner_and_use_only() {
        let keys = keys();
        let sealed = keys.seal(&owner(&["t", "alice"]), b"print");
        assert_ne!(sealed.ciphertext, b"print");
        assert_eq!(
            keys.open(&sealed, &owner(&["t", "alice"])).unwrap(),
            b"print"
        );
        assert!(keys.open(&sealed, &owner(&["t", "bob"])).is_err());
        assert!(keys.open(&sealed, &owner(&["u", "alice"])).is_err());
        let other_use = AssociatedData::new("other-use", &["t", "alice"]);
        assert!(keys.open(&sealed, &other_use).is_err());
    }

    #[test]
    fn every_write_gets_its_own_nonce() {
        let (keys, data) = (keys(), owner(&["t"]));
        assert_ne!(keys.seal(&data, b"x").nonce, keys.seal(&data, b"x").nonce);
    }

    #[test]
    fn old_keys_open_and_the_current_key_seals() {
        let (old, new, data) = (key(), key(), owner(&["t"]));
        let sealed = SealKeys::new(old.clone(), Vec::new()).seal(&data, b"x");
        let rotated = SealKeys::new(new.clone(), vec![old]);
        assert_eq!(rotated.open(&sealed, &data).unwrap(), b"x");
        assert_eq!(rotated.seal(&data, b"x").key_id, new.id());
        let forgotten = SealKeys::new(new, Vec::new());
        assert!(matches!(
            forgotten.open(&sealed, &data),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn sealed_bytes_round_trip_through_json_as_base64() {
        let sealed = keys().seal(&owner(&["t"]), b"x");
        let json = serde_json::to_value(&sealed).unwrap();
        assert_eq!(json["nonce"], STANDARD.encode(&sealed.nonce));
        assert_eq!(serde_json::from_value::<Sealed>(json).unwrap(), sealed);
    }

    #[test]
    fn keys_must_be_base64_of_32_bytes() {
        assert!(matches!(
            SealKey::from_base64("c2hvcnQ="),
            Err(KeyError::Length(5))
        ));
        assert!(SealKey::from_base64("%%%").is_err());
    }
}
