//! Expiring URLs the API serves itself (objects of the embedded mode, HLS
//! playlists, presigned uploads into a directory store): an HMAC-SHA256 of
//! the path and the expiry, under a key every replica shares — the
//! configured `url_signing_keys`, else one every replica reads from the
//! shared database — so any replica accepts a URL another one made. Of
//! configured keys the first signs and each opens, so keys rotate without
//! breaking a URL already handed out.

use hmac::{Hmac, Mac};
use mixdown_jobs::{
    db::{SecretRepo, StoreError, random_secret},
    settings::Secret,
    time::Timestamp,
};
use mixdown_settings::Value;
use sha2::Sha256;

/// Name of the signing key in the database's shared secrets.
const SECRET_NAME: &str = "url_signing_key";

/// The shortest configured key, in bytes: as many as the stored one's
/// random bytes.
const MIN_KEY_LEN: usize = 32;

/// Configured keys of served URLs, comma-separated: the first signs, every
/// one opens what it signed.
#[derive(Clone)]
pub struct UrlSigningKeys(Vec<Vec<u8>>);

impl std::fmt::Debug for UrlSigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Secret itself rather than inside [`Secret`], whose parse error hides the
/// reason: this one never quotes a key, so an operator learns what is wrong.
impl Value for UrlSigningKeys {
    const SECRET: bool = true;

    fn parse(text: &str) -> Result<Self, String> {
        let keys: Vec<Vec<u8>> = text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        if keys.iter().any(|k| k.len() < MIN_KEY_LEN) {
            return Err(format!(
                "each key must be at least {MIN_KEY_LEN} characters"
            ));
        }
        Ok(Self(keys))
    }

    fn show(&self) -> String {
        format!("*** ({} keys)", self.0.len())
    }
}

/// Signs and checks expiring URLs: the first key signs, each key checks.
#[derive(Debug, Clone)]
pub(crate) struct UrlSigner {
    keys: Secret<Vec<Vec<u8>>>,
}

/// The query parameters that make a signed URL.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Signature {
    /// Unix seconds after which the URL is refused.
    pub expires: i64,
    /// Hex HMAC of the path and `expires`.
    pub sig: String,
}

impl UrlSigner {
    /// The signer over the configured keys, or, with none configured, over
    /// the database's key (made on first use).
    pub async fn load(
        configured: Option<&UrlSigningKeys>,
        secrets: &SecretRepo,
    ) -> Result<Self, StoreError> {
        let keys = match configured.map(|k| k.0.clone()) {
            Some(keys) if !keys.is_empty() => keys,
            _ => vec![
                secrets
                    .shared(SECRET_NAME, random_secret)
                    .await?
                    .into_bytes(),
            ],
        };
        Ok(Self {
            keys: Secret::new(keys),
        })
    }

    fn mac(key: &[u8], method: &str, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
        mac
    }

    /// `path` with the query that lets `method` reach it until `expires`.
    pub fn sign(&self, method: &str, path: &str, expires: Timestamp) -> String {
        let expires = expires.millis() / 1000;
        let current = &self.keys.expose()[0];
        let sig = Self::mac(current, method, path, expires).finalize();
        format!(
            "{path}?expires={expires}&sig={}",
            hex::encode(sig.into_bytes())
        )
    }

    /// Whether `signature` lets `method` reach `path` at `now`.
    pub fn verify(&self, method: &str, path: &str, signature: &Signature, now: Timestamp) -> bool {
        let now = now.millis() / 1000;
        let Ok(sig) = hex::decode(&signature.sig) else {
            return false;
        };
        signature.expires >= now
            && self.keys.expose().iter().any(|key| {
                Self::mac(key, method, path, signature.expires)
                    .verify_slice(&sig)
                    .is_ok()
            })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner {
            keys: Secret::new(vec![b"0123456789abcdef".to_vec()]),
        }
    }

    fn parse(url: &str) -> (String, Signature) {
        let (path, query) = url.split_once('?').unwrap();
        let (expires, sig) = query.split_once("&sig=").unwrap();
        let expires = expires.strip_prefix("expires=").unwrap().parse().unwrap();
        let sig = sig.to_owned();
        (path.to_owned(), Signature { expires, sig })
    }

    #[test]
    fn a_signed_url_opens_its_path_for_its_method_until_it_expires() {
        let s = signer();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let url = s.sign("GET", "/files/a/b", now.plus(Duration::from_secs(60)));
        let (path, sig) = parse(&url);
        assert!(s.verify("GET", &path, &sig, now));
        assert!(!s.verify("PUT", &path, &sig, now));
        assert!(!s.verify("GET", "/files/a/c", &sig, now));
        let later = Signature {
            expires: sig.expires + 1,
            ..sig.clone()
        };
        assert!(!s.verify("GET", &path, &later, now));
        assert!(!s.verify("GET", &path, &sig, now.plus(Duration::from_secs(61))));
        let old = s.sign("GET", "/files/a/b", now.minus(Duration::from_secs(5)));
        let (path, sig) = parse(&old);
        assert!(!s.verify("GET", &path, &sig, now));
    }

    #[test]
    fn configured_keys_must_be_long_and_never_show() {
        let short = UrlSigningKeys::parse("k".repeat(31).as_str());
        assert!(short.err().unwrap().contains("32 characters"));
        let two = UrlSigningKeys::parse(&format!("{}, {} ,", "a".repeat(32), "b".repeat(40)));
        assert_eq!(two.unwrap().0.len(), 2);
        let s = UrlSigner {
            keys: Secret::new(vec![b"a-secret-signing-key-of-32-bytes".to_vec()]),
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("a-secret") && !shown.contains("97, 45"),
            "{shown}"
        );
    }
}
