//! Header names and values an `http` job may send: what HTTP allows,
//! bounded, and none that belongs to one connection, frames the body, or
//! that Mixdown sets itself.

use std::{collections::BTreeMap, fmt};

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{DeserializeSeed, Error, MapAccess, Visitor},
};

/// Most headers in one map.
pub const MAX_HEADERS: usize = 64;
/// Longest header name.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest header value.
pub const MAX_VALUE_BYTES: usize = 8192;
/// Most bytes of names and values together in one map.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Names the client of a connection sets itself, hop by hop or to frame the
/// body, lower-case: a job that set them would break the request or smuggle
/// another one behind it.
pub(super) const REFUSED: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Prefix of the headers Mixdown sets itself (`Mixdown-Signature`,
/// `Mixdown-Delivery`): a receiver must be able to trust them.
pub(super) const OWN_PREFIX: &str = "mixdown-";

/// Headers to send: name → value, names unique whatever their case, each
/// allowed and bounded. Names keep the case the client gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(BTreeMap<String, String>);

impl Headers {
    /// Each name and its value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first name that `other` has too, whatever the case.
    pub fn shared_with<'a>(&'a self, other: &Headers) -> Option<&'a str> {
        self.names()
            .find(|n| other.names().any(|o| o.eq_ignore_ascii_case(n)))
    }
}

/// Why a name may not be sent.
fn check_name(name: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let lower = name.to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        Err(format!("a header name must be 1 to {MAX_NAME_BYTES} bytes"))
    } else if !name.bytes().all(token) {
        Err("a header name may hold only letters, digits and !#$%&'*+-.^_`|~".into())
    } else if REFUSED.contains(&lower.as_str()) {
        Err(format!(
            "{name} is set per connection by Mixdown's client, never by a job"
        ))
    } else if lower.starts_with(OWN_PREFIX) {
        Err(format!("{name}: Mixdown-* headers are Mixdown's own"))
    } else {
        Ok(())
    }
}

/// Why a value may not be sent.
fn check_value(value: &str) -> Result<(), String> {
    let visible = |b: u8| b == b'\t' || (0x20..0x7f).contains(&b);
    if value.len() > MAX_VALUE_BYTES {
        Err(format!(
            "a header value must be at most {MAX_VALUE_BYTES} bytes"
        ))
    } else if !value.bytes().all(visible) {
        Err("a header value may hold only visible ASCII, spaces and tabs".into())
    } else {
        Ok(())
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header names and string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
        let mut headers = BTreeMap::new();
        let mut bytes = 0;
        while let Some(name) = map.next_key::<String>()? {
            let entry = Entry {
                name: &name,
                taken: &headers,
                bytes,
            };
            // Checked while reading the value, so an error names the header.
            let value = map.next_value_seed(entry)?;
            bytes += name.len() + value.len();
            headers.insert(name, value);
        }
        Ok(Headers(headers))
    }
}

/// The value of header `name`, checked with its name against the headers
/// read before it.
struct Entry<'a> {
    name: &'a str,
    taken: &'a BTreeMap<String, String>,
    bytes: usize,
}

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let value = String::deserialize(d)?;
        check_name(self.name).map_err(D::Error::custom)?;
        check_value(&value).map_err(D::Error::custom)?;
        if self.taken.keys().any(|n| n.eq_ignore_ascii_case(self.name)) {
            return Err(D::Error::custom("the header is named twice"));
        }
        if self.taken.len() == MAX_HEADERS {
            return Err(D::Error::custom(format!("at most {MAX_HEADERS} headers")));
        }
        if self.bytes + self.name.len() + value.len() > MAX_HEADER_BYTES {
            let message = format!("headers may hold at most {MAX_HEADER_BYTES} bytes in all");
            return Err(D::Error::custom(message));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn parse(v: Value) -> Result<Headers, (String, String)> {
        serde_path_to_error::deserialize(&v).map_err(|e| (e.path().to_string(), e.to_string()))
    }

    #[test]
    fn ordinary_headers_parse_and_keep_their_case() {
        let h = parse(json!({"Content-Type": "application/json", "X-Trace": "a b\tc"})).unwrap();
        let names: Vec<&str> = h.names().collect();
        assert_eq!(names, ["Content-Type", "X-Trace"]);
        assert_eq!(serde_json::to_value(&h).unwrap()["X-Trace"], "a b\tc");
    }

    #[test]
    fn connection_framing_and_own_headers_are_refused_by_name() {
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "TE",
            "Upgrade",
            "Mixdown-Signature",
            "mixdown-delivery",
        ] {
            let (path, _) = parse(json!({ name: "x" })).unwrap_err();
            assert_eq!(path, name, "{name}");
        }
    }

    #[test]
    fn bad_names_values_and_sizes_are_refused_naming_the_header() {
        let cases = [
            (json!({"Bad Name": "x"}), "Bad Name"),
            (json!({"": "x"}), ""),
            (json!({"X-A": "line\r\nInjected: 1"}), "X-A"),
            (json!({"X-A": "é"}), "X-A"),
            (json!({"X-A": 5}), "X-A"),
            (json!({"X-A": "1", "x-a": "2"}), "x-a"),
            (json!({"X-A": "v".repeat(MAX_VALUE_BYTES + 1)}), "X-A"),
        ];
        for (value, header) in cases {
            let (path, message) = parse(value.clone()).unwrap_err();
            assert_eq!(path, header, "{value}: {message}");
        }
        let many: serde_json::Map<String, Value> = (0..=MAX_HEADERS)
            .map(|i| (format!("X-{i:03}"), json!("v")))
            .collect();
        assert!(parse(Value::Object(many)).is_err());
        let big: serde_json::Map<String, Value> = (0..5)
            .map(|i| (format!("X-{i}"), json!("v".repeat(8000))))
            .collect();
        assert!(
            parse(Value::Object(big)).is_err(),
            "more than 32 KiB in all"
        );
    }

    #[test]
    fn a_name_shared_with_another_map_is_found_whatever_its_case() {
        let a = parse(json!({"Authorization": "x", "X-A": "1"})).unwrap();
        let b = parse(json!({"authorization": "y"})).unwrap();
        assert_eq!(a.shared_with(&b), Some("Authorization"));
        assert_eq!(b.shared_with(&Headers::default()), None);
    }
}
