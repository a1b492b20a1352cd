//! An `http` job's secret headers: in clear only between the request that
//! submits them and the API's seal, and between the worker's open and the
//! request it sends. Stored sealed for the tenant (AES-256-GCM, see
//! [`crate::seal`]), with their names beside them so they can be shown
//! masked; never printed (their `Debug` masks them), and cut out of what a
//! receiver answers before it is kept.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::headers::Headers;
use crate::{
    ids::TenantId,
    seal::{AssociatedData, SealError, SealKeys, Sealed},
};

/// How a secret shows wherever the job is read.
pub const MASK: &str = "***";

/// Secret headers in clear.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHeaders(Headers);

impl SecretHeaders {
    /// The headers, to send.
    pub fn headers(&self) -> &Headers {
        &self.0
    }

    /// Sealed for `tenant` under the current key; `None` when there are none.
    pub fn seal(&self, keys: &SealKeys, tenant: TenantId) -> Option<SealedHeaders> {
        if self.0.is_empty() {
            return None;
        }
        let clear = serde_json::to_vec(&self.0).expect("headers serialise");
        Some(SealedHeaders {
            names: self.0.names().map(str::to_owned).collect(),
            sealed: keys.seal(&binding(tenant), &clear),
        })
    }

    /// What cuts these secrets out of a text.
    pub fn redactor(&self) -> Redactor {
        let mut secrets: Vec<String> = self
            .0
            .iter()
            .map(|(_, v)| v.to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        // Longest first, so a secret holding another is cut whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }
}

impl fmt::Debug for SecretHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.names().map(|n| (n, MASK)))
            .finish()
    }
}

/// Secret headers as stored: their names, and the headers sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedHeaders {
    /// The names, shown with [`MASK`] for values.
    pub names: Vec<String>,
    /// The name → value map, as JSON, sealed for the tenant.
    pub sealed: Sealed,
}

impl SealedHeaders {
    /// The headers in clear, if `keys` opens them for `tenant`.
    pub fn open(&self, keys: &SealKeys, tenant: TenantId) -> Result<SecretHeaders, SealError> {
        let clear = keys.open(&self.sealed, &binding(tenant))?;
        // What the key opens was written by `seal`; anything else was tampered with.
        serde_json::from_slice(&clear).map_err(|_| SealError::Tampered)
    }
}

/// What secret headers are bound to: their use and their tenant, not the job,
/// so a schedule's template (sealed once) opens in each job it makes.
fn binding(tenant: TenantId) -> AssociatedData {
    AssociatedData::new("mixdown-secret-headers", &[&tenant.to_string()])
}

/// An `http` job's stored payload as clients read it: the secret headers'
/// names with [`MASK`] for values. Whatever else `secret_headers` holds is
/// dropped, so nothing sealed or unexpected is shown.
pub fn shown(mut stored: Value) -> Value {
    if let Some(fields) = stored.as_object_mut() {
        let sealed = fields.remove("secret_headers");
        let names = sealed
            .and_then(|v| serde_json::from_value::<SealedHeaders>(v).ok())
            .map(|s| s.names)
            .unwrap_or_default();
        let masked: BTreeMap<String, &str> = names.into_iter().map(|n| (n, MASK)).collect();
        fields.insert("secret_headers".into(), serde_json::json!(masked));
    }
    stored
}

/// Cuts secret values out of what a receiver answered, in case it echoes
/// them: every occurrence becomes [`MASK`].
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Bytes of the longest secret: how far past a cut a secret begun before
    /// it may reach.
    pub fn longest(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }

    /// `text` with every secret masked.
    pub fn text(&self, text: &str) -> String {
        let cut = self.bytes(text.as_bytes());
        // Secrets and the mask are ASCII, so cutting them keeps UTF-8 whole.
        String::from_utf8(cut).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }

    /// `bytes` with every secret masked.
    pub fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        'scan: while !rest.is_empty() {
            for secret in &self.secrets {
                if let Some(after) = rest.strip_prefix(secret.as_bytes()) {
                    out.extend_from_slice(MASK.as_bytes());
                    rest = after;
                    continue 'scan;
                }
            }
            out.push(rest[0]);
            rest = &rest[1..];
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys() -> SealKeys {
        crate::seal::test_keys()
    }

    fn secrets() -> SecretHeaders {
        serde_json::from_value(json!({"Authorization": "Bearer s3cr3t", "X-Key": "k-42"})).unwrap()
    }

    #[test]
    fn sealed_headers_open_for_their_tenant_only_and_never_print() {
        let (keys, tenant) = (keys(), TenantId::new());
        let sealed = secrets().seal(&keys, tenant).unwrap();
        let stored = serde_json::to_string(&sealed).unwrap();
        assert!(
            !stored.contains("s3cr3t") && stored.contains("Authorization"),
            "{stored}"
        );
        assert_eq!(sealed.open(&keys, tenant).unwrap(), secrets());
        assert!(sealed.open(&keys, TenantId::new()).is_err());
        let printed = format!("{:?}", secrets());
        assert!(
            !printed.contains("s3cr3t") && printed.contains("***"),
            "{printed}"
        );
        assert!(SecretHeaders::default().seal(&keys, tenant).is_none());
    }

    #[test]
    fn a_stored_payload_shows_names_with_masks_and_nothing_sealed() {
        let sealed = secrets().seal(&keys(), TenantId::new()).unwrap();
        let stored = json!({"url": "https://x.test/", "secret_headers": sealed});
        let view = shown(stored);
        assert_eq!(
            view["secret_headers"],
            json!({"Authorization": "***", "X-Key": "***"})
        );
        assert_eq!(view["url"], "https://x.test/");
        let odd = shown(json!({"url": "u", "secret_headers": {"Authorization": "clear"}}));
        assert_eq!(odd["secret_headers"], json!({}));
        assert_eq!(shown(json!({"url": "u"}))["secret_headers"], json!({}));
    }

    #[test]
    fn echoed_secrets_are_cut_out_of_an_answer() {
        let r = secrets().redactor();
        assert_eq!(r.text("got Bearer s3cr3t and k-42!"), "got *** and ***!");
        assert_eq!(r.bytes(b"\xffk-42\xfe"), b"\xff***\xfe");
        assert_eq!(r.longest(), "Bearer s3cr3t".len());
        assert_eq!(Redactor::default().text("k-42"), "k-42");
    }
}
