//! Expiring URLs the API serves itself (objects of the embedded mode, HLS
//! playlists, presigned uploads into a directory store): an HMAC-SHA256 of
//! the path and the expiry, under a key every replica reads from the shared
//! database, so any replica accepts a URL another one made.

use hmac::{Hmac, Mac};
use mixdown_jobs::{
    db::{SecretRepo, StoreError, random_secret},
    time::Timestamp,
};
use sha2::Sha256;

/// Name of the signing key in the database's shared secrets.
const SECRET_NAME: &str = "url_signing_key";

/// Signs and checks expiring URLs.
#[derive(Clone)]
pub(crate) struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
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
    /// The signer over the database's key, made on first use.
    pub async fn load(secrets: &SecretRepo) -> Result<Self, StoreError> {
        let key = secrets.shared(SECRET_NAME, random_secret).await?;
        Ok(Self {
            key: key.into_bytes(),
        })
    }

    fn mac(&self, method: &str, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
        mac
    }

    /// `path` with the query that lets `method` reach it until `expires`.
    pub fn sign(&self, method: &str, path: &str, expires: Timestamp) -> String {
        let expires = expires.millis() / 1000;
        let sig = hex::encode(self.mac(method, path, expires).finalize().into_bytes());
        format!("{path}?expires={expires}&sig={sig}")
    }

    /// Whether `signature` lets `method` reach `path` at `now`.
    pub fn verify(&self, method: &str, path: &str, signature: &Signature, now: Timestamp) -> bool {
        let now = now.millis() / 1000;
        let Ok(sig) = hex::decode(&signature.sig) else {
            return false;
        };
        signature.expires >= now
            && self
                .mac(method, path, signature.expires)
                .verify_slice(&sig)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner {
            key: b"0123456789abcdef".to_vec(),
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
}
