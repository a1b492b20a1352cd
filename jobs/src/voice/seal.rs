//! Voiceprints sealed at rest with AES-256-GCM: a random 96-bit nonce per
//! write, the tenant and user as associated data (a row copied onto another
//! user does not open), and the id of the key stored beside the ciphertext so
//! keys can rotate.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::UserId;
use crate::ids::TenantId;

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
    #[error("voiceprint sealed under key {0}, which is not configured")]
    UnknownKey(String),
    /// Tampered with, moved to another user, or sealed under another key of the same id.
    #[error("voiceprint does not open: tampered, moved or sealed under another key")]
    Tampered,
}

/// One AES-256 key and its id (derived from the key, so it cannot be mislabelled).
#[derive(Clone)]
pub struct VoiceKey {
    id: String,
    cipher: Aes256Gcm,
}

impl VoiceKey {
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

    /// The key's id, stored with every row it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl mixdown_settings::Value for VoiceKey {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        Self::from_base64(text).map_err(|e| e.to_string())
    }

    fn show(&self) -> String {
        "***".into()
    }
}

/// Earlier keys, comma-separated: they open old prints, which move to the
/// current key when next written.
#[derive(Debug, Clone, Default)]
pub struct OldVoiceKeys(pub Vec<VoiceKey>);

impl mixdown_settings::Value for OldVoiceKeys {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        let keys = text.split(',').filter(|k| !k.trim().is_empty());
        keys.map(|k| VoiceKey::from_base64(k).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn show(&self) -> String {
        format!("*** ({} keys)", self.0.len())
    }
}

impl fmt::Debug for VoiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VoiceKey({})", self.id)
    }
}

/// Bytes sealed under a key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the key that sealed them.
    pub key_id: String,
    /// The nonce of this write.
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

/// The key that seals, and older keys that still open.
#[derive(Debug, Clone)]
pub struct VoiceKeys {
    current: VoiceKey,
    old: Vec<VoiceKey>,
}

impl VoiceKeys {
    /// Seals under `current`; opens what `current` or any of `old` sealed.
    pub fn new(current: VoiceKey, old: Vec<VoiceKey>) -> Self {
        Self { current, old }
    }

    /// The key new writes are sealed under.
    pub fn current(&self) -> &VoiceKey {
        &self.current
    }

    /// Seals the print of `user` of `tenant`.
    pub fn seal(&self, tenant: TenantId, user: &UserId, plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(tenant, user);
        let payload = Payload {
            msg: plaintext,
            aad: &aad,
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

    /// Opens what was sealed for `user` of `tenant`.
    pub fn open(
        &self,
        sealed: &Sealed,
        tenant: TenantId,
        user: &UserId,
    ) -> Result<Vec<u8>, SealError> {
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_BYTES] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Tampered)?;
        let aad = associated_data(tenant, user);
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: &aad,
        };
        key.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SealError::Tampered)
    }
}

fn associated_data(tenant: TenantId, user: &UserId) -> Vec<u8> {
    format!("mixdown-voiceprint\0{tenant}\0{user}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> VoiceKeys {
        VoiceKeys::new(key(), Vec::new())
    }

    fn key() -> VoiceKey {
        VoiceKey::from_base64(&VoiceKey::generate_base64()).unwrap()
    }

    #[test]
    fn a_sealed_print_opens_for_its_user_only() {
        let (keys, tenant) = (keys(), TenantId::new());
        let alice = UserId::parse("alice").unwrap();
        let sealed = keys.seal(tenant, &alice, b"print");
        assert_ne!(sealed.ciphertext, b"print");
        assert_eq!(keys.open(&sealed, tenant, &alice).unwrap(), b"print");
        let bob = UserId::parse("bob").unwrap();
        assert!(keys.open(&sealed, tenant, &bob).is_err());
        assert!(keys.open(&sealed, TenantId::new(), &alice).is_err());
    }

    #[test]
    fn every_write_gets_its_own_nonce() {
        let (keys, tenant, user) = (keys(), TenantId::new(), UserId::parse("u").unwrap());
        assert_ne!(
            keys.seal(tenant, &user, b"x").nonce,
            keys.seal(tenant, &user, b"x").nonce
        );
    }

    #[test]
    fn old_keys_open_and_the_current_key_seals() {
        let (old, new) = (key(), key());
        let (tenant, user) = (TenantId::new(), UserId::parse("u").unwrap());
        let sealed = VoiceKeys::new(old.clone(), Vec::new()).seal(tenant, &user, b"x");
        let rotated = VoiceKeys::new(new.clone(), vec![old]);
        assert_eq!(rotated.open(&sealed, tenant, &user).unwrap(), b"x");
        assert_eq!(rotated.seal(tenant, &user, b"x").key_id, new.id());
        let forgotten = VoiceKeys::new(new, Vec::new());
        assert!(matches!(
            forgotten.open(&sealed, tenant, &user),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_must_be_base64_of_32_bytes() {
        assert!(matches!(
            VoiceKey::from_base64("c2hvcnQ="),
            Err(KeyError::Length(5))
        ));
        assert!(VoiceKey::from_base64("%%%").is_err());
    }
}
