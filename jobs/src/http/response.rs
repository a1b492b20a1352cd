//! What an `http` job keeps of the answer: its status, its headers and the
//! start of its body, read a chunk at a time so a large answer is never
//! held whole.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::secrets::Redactor;

/// Bytes of an answer's body a result keeps.
pub const RESULT_BODY_BYTES: usize = 64 * 1024;

/// What an `http` job produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResult {
    /// The answer's status.
    pub status: u16,
    /// Its headers, names in lower case; a repeated header's values joined by `, `.
    pub headers: BTreeMap<String, String>,
    /// The start of its body: text, or base64 when it is not UTF-8.
    pub body: String,
    /// `utf-8` or `base64`: how `body` holds the bytes.
    pub body_encoding: BodyEncoding,
    /// Whether the body was longer than what is kept.
    pub body_truncated: bool,
}

/// How a result holds the body's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyEncoding {
    /// The bytes are UTF-8 text, kept as is.
    #[serde(rename = "utf-8")]
    Utf8,
    /// The bytes are not UTF-8: kept as standard base64.
    #[serde(rename = "base64")]
    Base64,
}

/// The start of a body, gathered chunk by chunk: enough for the kept part,
/// plus what a secret begun before the cut needs to be recognised.
#[derive(Debug)]
pub struct BodyStart {
    bytes: Vec<u8>,
    capacity: usize,
    more: bool,
    redactor: Redactor,
}

impl BodyStart {
    /// An empty start that will mask what `redactor` cuts.
    pub fn new(redactor: Redactor) -> Self {
        Self {
            bytes: Vec::new(),
            capacity: RESULT_BODY_BYTES + redactor.longest(),
            more: false,
            redactor,
        }
    }

    /// Adds a chunk; `false` once enough is read (the rest need not be).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.capacity - self.bytes.len();
        if chunk.len() > room {
            self.more = true;
        }
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        !self.more
    }

    /// The kept part, secrets masked: its text and how it is encoded, and
    /// whether the body went on past it.
    pub fn finish(self) -> (String, BodyEncoding, bool) {
        let masked = self.redactor.bytes(&self.bytes);
        let truncated = self.more || masked.len() > RESULT_BODY_BYTES;
        let kept = &masked[..masked.len().min(RESULT_BODY_BYTES)];
        let (text, encoding) = encode(kept, truncated);
        (text, encoding, truncated)
    }
}

/// UTF-8 text as is (a character cut in two at the end of a truncated body
/// is dropped), anything else as base64.
fn encode(bytes: &[u8], truncated: bool) -> (String, BodyEncoding) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), BodyEncoding::Utf8),
        Err(e) if truncated && e.error_len().is_none() => {
            let whole = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            (whole.into_owned(), BodyEncoding::Utf8)
        }
        Err(_) => (STANDARD.encode(bytes), BodyEncoding::Base64),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::http::SecretHeaders;

    fn start() -> BodyStart {
        BodyStart::new(Redactor::default())
    }

    #[test]
    fn a_short_text_body_is_kept_whole() {
        let mut b = start();
        assert!(b.push(b"hello "));
        assert!(b.push(b"world"));
        assert_eq!(
            b.finish(),
            ("hello world".into(), BodyEncoding::Utf8, false)
        );
    }

    #[test]
    fn a_long_body_is_cut_and_reading_stops() {
        let mut b = start();
        let chunk = vec![b'a'; 10_000];
        let mut pushed = 0;
        while b.push(&chunk) {
            pushed += 1;
        }
        assert_eq!(pushed, 6, "stops after the chunk that passes 64 KiB");
        let (text, encoding, truncated) = b.finish();
        assert_eq!(
            (text.len(), encoding, truncated),
            (RESULT_BODY_BYTES, BodyEncoding::Utf8, true)
        );
    }

    #[test]
    fn a_character_cut_at_the_end_is_dropped_and_binary_is_base64() {
        let mut b = start();
        let mut bytes = vec![b'a'; RESULT_BODY_BYTES - 1];
        bytes.extend_from_slice("é and more".as_bytes());
        b.push(&bytes);
        let (text, encoding, truncated) = b.finish();
        assert_eq!(
            (text.len(), encoding, truncated),
            (RESULT_BODY_BYTES - 1, BodyEncoding::Utf8, true)
        );
        let mut b = start();
        b.push(&[0xff, 0x00, 0x80]);
        assert_eq!(b.finish(), ("/wCA".into(), BodyEncoding::Base64, false));
    }

    #[test]
    fn a_secret_across_the_cut_is_masked_not_halved() {
        let secrets: SecretHeaders = serde_json::from_value(json!({"X-Key": "TOPSECRET"})).unwrap();
        let mut b = BodyStart::new(secrets.redactor());
        let mut bytes = vec![b'a'; RESULT_BODY_BYTES - 4];
        bytes.extend_from_slice(b"TOPSECRET");
        b.push(&bytes);
        let (text, _, truncated) = b.finish();
        assert!(
            text.ends_with("aaaa***") && !text.contains("TOPS"),
            "{}",
            &text[text.len() - 10..]
        );
        assert!(!truncated);
    }

    #[test]
    fn results_name_their_encoding() {
        let r = HttpResult {
            status: 200,
            headers: BTreeMap::new(),
            body: String::new(),
            body_encoding: BodyEncoding::Utf8,
            body_truncated: false,
        };
        assert_eq!(serde_json::to_value(r).unwrap()["body_encoding"], "utf-8");
    }
}
