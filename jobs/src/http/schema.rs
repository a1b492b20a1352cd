//! The JSON Schema of a submitted `http` payload, for the API's document:
//! what [`HttpSubmission::parse`] takes, written from the same bounds. The
//! rules that join fields are said by a `oneOf`: a GET or HEAD without a
//! body, any other method with one or without.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::{
    HttpSubmission,
    headers::{MAX_HEADERS, MAX_NAME_BYTES, MAX_VALUE_BYTES, OWN_PREFIX, REFUSED},
    request::{MAX_BODY_BYTES, MAX_URL_BYTES, TIMEOUT_RANGE_MS},
};

/// http(s) URLs of a plain host name, its last label not a number (which
/// would read as an IPv4 address): the subset of URLs the document lists;
/// the server takes any http(s) URL with a host.
pub const URL_PATTERN: &str = "^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?\\.){0,4}[A-Za-z]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?(:[1-9][0-9]{1,3})?(/[A-Za-z0-9._~-]{0,64}){0,8}$";

impl JsonSchema for HttpSubmission {
    fn schema_name() -> Cow<'static, str> {
        "HttpPayload".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let headers = headers_schema();
        let common = json!({
            "url": {
                "type": "string",
                "maxLength": MAX_URL_BYTES,
                "pattern": URL_PATTERN,
                "description": "Where the request goes: http(s), a host, no user:password."
            },
            "headers": headers.clone(),
            "secret_headers": described(
                headers,
                "Headers sealed at rest and never shown back (an OAuth token); not also in `headers`."
            ),
            "timeout_ms": {
                "type": "integer",
                "minimum": TIMEOUT_RANGE_MS.start(),
                "maximum": TIMEOUT_RANGE_MS.end(),
                "description": "How long the receiver has to answer, body included; default 10000."
            }
        });
        let variant = |methods: &[&str], body: bool, required: &[&str]| {
            let mut properties = common.clone();
            properties["method"] = json!({"type": "string", "enum": methods});
            if body {
                properties["body"] = json!({
                    "type": "string",
                    "nullable": true,
                    "maxLength": MAX_BODY_BYTES,
                    "description": "The body, text; null or left out for none."
                });
            }
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": required,
                "properties": properties
            })
        };
        let schema = json!({
            "description": "A request Mixdown makes on the caller's behalf.",
            "oneOf": [
                variant(&["GET", "HEAD"], false, &["url", "method"]),
                variant(&["POST", "PUT", "PATCH", "DELETE", "OPTIONS"], true, &["url"])
            ]
        });
        Schema::try_from(schema).unwrap_or_else(|_| json_schema!({"type": "object"}))
    }
}

/// A map of header names to values: names HTTP allows, none of those a job
/// may not set (matched whatever their case), values of visible ASCII.
fn headers_schema() -> Value {
    let refused: Vec<String> = REFUSED.iter().map(|n| any_case(n)).collect();
    let name = format!(
        "^(?!({})$)(?!{})[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{MAX_NAME_BYTES}}}$",
        refused.join("|"),
        any_case(OWN_PREFIX)
    );
    json!({
        "type": "object",
        "maxProperties": MAX_HEADERS,
        "propertyNames": {"pattern": name},
        "additionalProperties": {
            "type": "string",
            "maxLength": MAX_VALUE_BYTES,
            "pattern": "^[\\t -~]*$"
        }
    })
}

/// `name` matched whatever its case: `host` as `[hH][oO][sS][tT]`.
fn any_case(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                regex_escape(c)
            }
        })
        .collect()
}

fn regex_escape(c: char) -> String {
    if "\\^$.|?*+()[]{}".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// `schema` with `description`.
fn described(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_names_match_whatever_their_case() {
        assert_eq!(any_case("te"), "[tT][eE]");
        assert_eq!(any_case("mixdown-"), "[mM][iI][xX][dD][oO][wW][nN]-");
    }
}
