//! Callbacks: a job's end, or a track's, reported by a signed POST to the URL its
//! client gave. Each end is reported once by a `callback` job of its own, recorded
//! by the reconciler; that job's attempts and errors are the delivery log.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{JobId, TenantId};

/// Name of the fleet's master callback secret among the database's shared secrets.
pub const SECRET_NAME: &str = "callback_signing_key";

/// Header carrying the signature of a callback's body.
pub const SIGNATURE_HEADER: &str = "Mixdown-Signature";

/// Input of a `callback` job: the job whose end it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackPayload {
    /// The ended job (for a track's jobs, the report is about the track).
    pub job_id: JobId,
}

/// The secret a tenant checks its callbacks with: an HMAC of its id under the master
/// secret, so tenants never share one and the master never leaves the fleet.
pub fn tenant_secret(master: &str, tenant: TenantId) -> String {
    hex::encode(mac(master.as_bytes(), tenant.to_string().as_bytes()))
}

/// The [`SIGNATURE_HEADER`] value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the tenant secret>`.
/// The timestamp lets a receiver refuse replays of old deliveries.
pub fn signature(tenant_secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let v1 = hex::encode(mac(tenant_secret.as_bytes(), &signed));
    format!("t={timestamp},v1={v1}")
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_get_different_secrets_from_one_master() {
        let (a, b) = (TenantId::new(), TenantId::new());
        assert_ne!(tenant_secret("master", a), tenant_secret("master", b));
        assert_eq!(tenant_secret("master", a), tenant_secret("master", a));
        assert_eq!(tenant_secret("master", a).len(), 64);
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let s = signature("secret", 1_700_000_000, b"{}");
        assert!(s.starts_with("t=1700000000,v1="), "{s}");
        assert_ne!(s, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("secret", 1_700_000_000, b"{ }"));
        // HMAC-SHA256 of "1700000000.{}" under "secret", as `openssl dgst -sha256 -hmac` computes it.
        assert_eq!(
            s,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
