//! The OpenAPI document as clients get it: poem-openapi's, completed with
//! what it cannot say on its own — every error answer of every operation,
//! and which fields may be null.
//!
//! Handlers fail with [`crate::ApiError`], whose status comes from its code,
//! so the error answers an operation can give follow from its shape (a body,
//! path ids, query parameters, a key) plus the few conflicts named in
//! [`CONFLICTS`].

use std::collections::BTreeMap;

use mixdown_jobs::{
    codes::ErrorCode,
    http::{HttpSubmission, URL_PATTERN},
    kind::JobKind,
    model::{JobState, MaxAttempts, Priority},
    noop::NoopPayload,
    tracks::{MAX_PRESETS, RenditionsRequest, TrackPayload, WAVEFORM_LIMITS},
};
use schemars::{SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// Error answers particular to one operation, beyond those its shape gives:
/// (method, path, codes).
const CONFLICTS: &[(&str, &str, &[ErrorCode])] = &[
    (
        "post",
        "/v1/jobs/{job_id}/cancel",
        &[ErrorCode::NotCancellable],
    ),
    (
        "post",
        "/v1/jobs/{job_id}/retry",
        &[ErrorCode::NotRetryable],
    ),
    (
        "post",
        "/v1/jobs/{job_id}/redeliver",
        &[ErrorCode::NotRedeliverable],
    ),
    (
        "post",
        "/v1/uploads/{upload_id}/complete",
        &[ErrorCode::UploadMissing, ErrorCode::UploadExpired],
    ),
    (
        "post",
        "/v1/voice/verifications",
        &[ErrorCode::VerificationLocked],
    ),
    (
        "get",
        "/v1/tracks/{track_id}/duplicates",
        &[ErrorCode::TrackNotReady],
    ),
    // A job made from a track names it in its payload; an idempotency key
    // sent again with another request is refused.
    (
        "post",
        "/v1/jobs",
        &[
            ErrorCode::NotFound,
            ErrorCode::TrackNotReady,
            ErrorCode::IdempotencyKeyReused,
        ],
    ),
    (
        "post",
        "/v1/jobs/batch",
        &[
            ErrorCode::NotFound,
            ErrorCode::TrackNotReady,
            ErrorCode::IdempotencyKeyReused,
        ],
    ),
    (
        "post",
        "/v1/tracks/{track_id}/renditions",
        &[ErrorCode::TrackNotReady, ErrorCode::IdempotencyKeyReused],
    ),
    ("post", "/v1/activities", &[ErrorCode::IdempotencyKeyReused]),
];

/// What the document says that depends on how this API is configured.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// The names of the presets a track may ask for.
    pub presets: Vec<String>,
    /// The samples an enrollment needs at least.
    pub enroll_samples: usize,
}

/// Parameters the server needs although their type is optional (it answers
/// their absence with its own error): (method, path, name).
const REQUIRED: &[(&str, &str, &str)] = &[("get", "/v1/events", "topics")];

/// The document `spec` (poem-openapi's JSON) completed; `spec` itself if it
/// is not a JSON object, which poem-openapi never gives.
pub(crate) fn complete(spec: &str, facts: &Facts) -> String {
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    let schemas = doc
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .and_then(|c| {
            c.entry("schemas")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        })
        .map(std::mem::take)
        .unwrap_or_default();
    let mut schemas: Map<String, Value> = schemas
        .into_iter()
        .map(|(name, mut schema)| {
            allow_null_where_optional(&mut schema);
            (name, schema)
        })
        .collect();
    let mut requests = Vec::new();
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            let Value::Object(item) = item else { continue };
            for (method, op) in item.iter_mut() {
                add_error_answers(method, path, op);
                constrain_parameters(method, path, op, facts);
                requests.extend(constrain_inline_body(
                    &format!("{method} {path}"),
                    op,
                    facts,
                ));
            }
        }
    }
    for name in requested_schemas(&schemas, requests) {
        if let Some(schema) = schemas.get_mut(&name) {
            constrain_properties(&name, schema, facts);
        }
    }
    split_by_kind(&mut schemas, facts);
    schemas.insert("Error".into(), error_schema());
    doc["components"]["schemas"] = Value::Object(schemas);
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_else(|_| spec.to_owned())
}

/// The ids of users, actors and owners (see `UserId`).
const USER_ID: &str = "^[A-Za-z0-9._@:-]{1,128}$";
/// A UUID, as ids of jobs, tracks and activities are written.
const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
/// RFC 3339 instants of this century's range that every month has (the
/// server takes any RFC 3339 instant before 2100).
const INSTANT: &str = "^(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$";

/// Cron rules every one of which fires: optional seconds, then minutes,
/// hours, days 1 to 28, months and weekdays, each `*`, `*/n` or a value.
const CRON: &str = "^(([1-5]?[0-9]|\\*|\\*/[1-9]) )?([1-5]?[0-9]|\\*|\\*/[1-9]) (1?[0-9]|2[0-3]|\\*|\\*/[1-9]) ([1-9]|1[0-9]|2[0-8]|\\*) ([1-9]|1[0-2]|\\*) ([0-6]|\\*)$";
/// Time zones every IANA database has (the server takes any it knows).
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
];

/// What the server takes for a request field or parameter named `name`
/// (in `context`: the schema, or the method and path, it belongs to);
/// `None` where the generated schema says it already.
fn constraint(context: &str, name: &str, facts: &Facts) -> Option<Value> {
    let kinds = |submittable: bool| -> Vec<&'static str> {
        JobKind::ALL
            .iter()
            .filter(|k| !submittable || k.submittable())
            .map(|k| k.as_str())
            .collect()
    };
    let states: Vec<&str> = JobState::ALL
        .iter()
        .filter(|s| **s != JobState::Waiting)
        .map(|s| s.as_str())
        .collect();
    Some(match name {
        "user_id" | "actor_id" | "owner_id" => json!({"pattern": USER_ID}),
        "verb" | "object_type" => json!({"pattern": "^[a-z0-9_.-]{1,64}$"}),
        "object_id" => json!({"pattern": "^[ -~]{1,256}$"}),
        "title" => json!({"pattern": "^[ -~]{0,512}$"}),
        "occurred_at" | "run_at" | "created_before" | "created_after" => {
            json!({"pattern": INSTANT})
        }
        "callback_url" => json!({"pattern": URL_PATTERN, "maxLength": 2048}),
        "Idempotency-Key" | "idempotency_key" => json!({"pattern": "^[!-~]{1,255}$"}),
        // Empty is no id.
        "Last-Event-ID" => json!({"pattern": "^([0-9]{1,15}-[0-9]{1,9})?$"}),
        "schedule_id" => json!({"pattern": format!("^{UUID}$")}),
        // A request body's list of names.
        "presets" if !context.contains(' ') => json!({
            "minItems": 1,
            "maxItems": MAX_PRESETS,
            "items": {"enum": facts.presets}
        }),
        // An upload's bytes: an empty one is refused (`empty_audio`).
        "file" => json!({"minLength": 1}),
        "presets" if !facts.presets.is_empty() => {
            let one = format!("({})", facts.presets.join("|"));
            json!({"pattern": format!("^{one}(,{one})*$")})
        }
        "topics" => {
            let one = format!("(feed:[A-Za-z0-9._@:-]{{1,128}}|(job|track):{UUID})");
            json!({"pattern": format!("^{one}(,{one}){{0,99}}$")})
        }
        // A schedule's own fields: its name, and a subset of the rules and
        // zones the server takes (any 5- or 6-field rule that fires, any
        // IANA zone): plain values and steps on days every month has.
        "name" if context.ends_with("Schedule") => json!({"pattern": "^[ -~]{1,200}$"}),
        "cron" => json!({"pattern": CRON}),
        "timezone" => json!({"enum": ZONES}),
        "catch_up" => json!({"enum": ["skip", "once"]}),
        "kind" => json!({"enum": kinds(context == "CreateJob")}),
        "state" => json!({"enum": states}),
        "priority" => json!({"minimum": Priority::MIN, "maximum": Priority::MAX}),
        "max_attempts" => json!({"minimum": MaxAttempts::MIN, "maximum": MaxAttempts::MAX}),
        "limit" if context.starts_with("get ") => json!({"minimum": 1, "maximum": 500}),
        "wait" => json!({"minimum": 0, "maximum": 60}),
        "sample" if context == "post /v1/voice/enrollments" => {
            json!({"minItems": facts.enroll_samples})
        }
        "payload" | "data" => json!({"type": "object"}),
        "cursor" if context.starts_with("get /v1/feeds/") => {
            json!({"pattern": format!("^[0-9]{{1,15}}\\.{UUID}$")})
        }
        "cursor" if context.starts_with("get /v1/graph/") => json!({"pattern": USER_ID}),
        "cursor" => json!({"pattern": format!("^{UUID}$")}),
        _ => return None,
    })
}

/// Merges `extra` into the schema `schema`; an enumeration of a field that
/// may be null takes null too.
fn merge(schema: &mut Value, extra: Value) {
    if let (Value::Object(schema), Value::Object(mut extra)) = (schema, extra) {
        if schema.get("nullable") == Some(&Value::Bool(true))
            && let Some(Value::Array(values)) = extra.get_mut("enum")
        {
            values.push(Value::Null);
        }
        schema.extend(extra);
    }
}

/// Adds to the parameters of operation `op` on `path` what the server takes.
fn constrain_parameters(method: &str, path: &str, op: &mut Value, facts: &Facts) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for param in params {
        let Some(name) = param["name"].as_str().map(str::to_owned) else {
            continue;
        };
        let context = format!("{method} {path}");
        if let Some(extra) = constraint(&context, &name, facts)
            && let Some(schema) = param.get_mut("schema")
        {
            merge(schema, extra);
        }
        if REQUIRED.contains(&(method, path, name.as_str())) {
            param["required"] = Value::Bool(true);
        }
    }
}

/// Adds what the server takes to the properties of an inline request body
/// (a multipart form's) of `op`; answers the schemas its bodies name.
fn constrain_inline_body(context: &str, op: &mut Value, facts: &Facts) -> Vec<String> {
    let mut named = Vec::new();
    let Some(Value::Object(content)) = op.pointer_mut("/requestBody/content") else {
        return named;
    };
    for media in content.values_mut() {
        let Some(schema) = media.get_mut("schema") else {
            continue;
        };
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => named.extend(schema_name(reference)),
            // An upload's bytes: an empty one is refused (`empty_audio`).
            None if schema["format"] == "binary" => merge(schema, json!({"minLength": 1})),
            None => constrain_properties(context, schema, facts),
        }
    }
    named
}

/// The name of the component a `$ref` names.
fn schema_name(reference: &str) -> Option<String> {
    reference
        .strip_prefix("#/components/schemas/")
        .map(str::to_owned)
}

/// `roots` and every schema they name, however deep.
fn requested_schemas(schemas: &Map<String, Value>, roots: Vec<String>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut pending = roots;
    while let Some(name) = pending.pop() {
        if found.contains(&name) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            let mut refs = Vec::new();
            collect_refs(schema, &mut refs);
            pending.extend(refs);
        }
        found.push(name);
    }
    found
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(schema_name)
            {
                into.push(name);
            }
            map.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

/// Adds what the server takes to the properties of the request schema
/// `schema` named `context`.
fn constrain_properties(context: &str, schema: &mut Value, facts: &Facts) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    // Request bodies are read strictly: an unknown field is refused.
    object.insert("additionalProperties".into(), Value::Bool(false));
    let Some(Value::Object(properties)) = object.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if let Some(extra) = constraint(context, name, facts) {
            merge(property, extra);
        }
    }
}

/// The payload of each kind a client may submit, and whether it must be
/// given; the schemas they name are added to `schemas`.
fn kind_payloads(schemas: &mut Map<String, Value>, facts: &Facts) -> Vec<(JobKind, Value, bool)> {
    let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
    let mut payload = |kind: JobKind| -> (Value, bool) {
        match kind {
            JobKind::Noop => (generator.subschema_for::<NoopPayload>().to_value(), false),
            JobKind::Transcode => (
                generator.subschema_for::<RenditionsRequest>().to_value(),
                true,
            ),
            JobKind::Http => (generator.subschema_for::<HttpSubmission>().to_value(), true),
            JobKind::Waveform => (
                json!({"$ref": "#/components/schemas/WaveformPayload"}),
                true,
            ),
            JobKind::Analyze => (generator.subschema_for::<TrackPayload>().to_value(), true),
            // A fan-out's payload is the activity it records.
            JobKind::Fanout => (json!({"$ref": "#/components/schemas/CreateActivity"}), true),
            // Kinds not yet described take any object.
            _ => (json!({"type": "object"}), false),
        }
    };
    let kinds = JobKind::ALL
        .into_iter()
        .filter(|k| k.submittable())
        .map(|k| {
            let (schema, required) = payload(k);
            (k, schema, required)
        })
        .collect::<Vec<_>>();
    schemas.extend(generator.take_definitions(true));
    schemas.insert("WaveformPayload".into(), waveform_payload());
    // Preset names come from the catalogue this API was started with.
    let items = schemas
        .get_mut("RenditionsRequest")
        .and_then(|s| s.pointer_mut("/properties/presets/items"));
    if let Some(items) = items {
        merge(items, json!({"enum": facts.presets}));
    }
    kinds
}

/// Each request that describes a job as one schema per kind it takes,
/// chosen by `kind`: `CreateJob` (every submittable kind), the batch's jobs
/// and a schedule's (no `fanout`: it records an activity once).
fn split_by_kind(schemas: &mut Map<String, Value>, facts: &Facts) {
    let payloads = kind_payloads(schemas, facts);
    let Some(create) = schemas.get("CreateJob").cloned() else {
        return;
    };
    let every = |_: JobKind| true;
    let no_fanout = |k: JobKind| k != JobKind::Fanout;
    let batch = one_of_kinds(schemas, &create, "", &payloads, &no_fanout);
    if let Some(items) = schemas
        .get_mut("CreateBatch")
        .and_then(|s| s.pointer_mut("/properties/jobs/items"))
    {
        *items = batch;
    }
    let create = one_of_kinds(schemas, &create, "", &payloads, &every);
    schemas.insert("CreateJob".into(), create);
    if let Some(scheduled) = schemas.get("ScheduledJob").cloned() {
        let scheduled = one_of_kinds(schemas, &scheduled, "Scheduled", &payloads, &no_fanout);
        schemas.insert("ScheduledJob".into(), scheduled);
    }
}

/// `request` (an object with `kind` and `payload`) as a `oneOf` of one
/// schema per kind of `payloads` that `takes`, named `{prefix}{Kind}Job`;
/// a variant already made (the batch's and the single job's) is shared.
fn one_of_kinds(
    schemas: &mut Map<String, Value>,
    request: &Value,
    prefix: &str,
    payloads: &[(JobKind, Value, bool)],
    takes: &dyn Fn(JobKind) -> bool,
) -> Value {
    let mut variants = Vec::new();
    let mut mapping = Map::new();
    for (kind, payload, required) in payloads.iter().filter(|(k, ..)| takes(*k)) {
        let name = format!("{prefix}{}Job", pascal(kind.as_str()));
        let reference = format!("#/components/schemas/{name}");
        mapping.insert(kind.as_str().into(), json!(reference));
        variants.push(json!({"$ref": reference}));
        if schemas.contains_key(&name) {
            continue;
        }
        let mut variant = request.clone();
        variant["title"] = json!(name);
        variant["description"] = json!(format!("A `{kind}` job."));
        variant["properties"]["kind"] = json!({"type": "string", "enum": [kind.as_str()]});
        if *required {
            variant["properties"]["payload"] = payload.clone();
            if let Some(Value::Array(names)) = variant.get_mut("required") {
                names.push(json!("payload"));
            }
        } else {
            // Left out or null, the payload is all defaults.
            variant["properties"]["payload"] = json!({"allOf": [payload], "nullable": true});
        }
        schemas.insert(name, variant);
    }
    json!({
        "description": request.get("description").cloned().unwrap_or_default(),
        "oneOf": variants,
        "discriminator": {"propertyName": "kind", "mapping": mapping}
    })
}

/// A `waveform` job's payload: the options of `mixdown waveform` within
/// [`WAVEFORM_LIMITS`]. The plain subset: `zoom` or `pixels_per_second`, not
/// both; `end`, `summary` and `amplitude_scale`, whose rules join several
/// fields, are taken as the README says but not listed.
fn waveform_payload() -> Value {
    let limits = WAVEFORM_LIMITS;
    let color =
        json!({"type": "string", "nullable": true, "pattern": "^[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$"});
    let pixels =
        |most: u32| json!({"type": "integer", "nullable": true, "minimum": 1, "maximum": most});
    json!({
        "type": "object",
        "description": "The ready track to draw, and the options of `mixdown waveform`.",
        "required": ["track_id", "format"],
        "additionalProperties": false,
        "not": {"required": ["zoom", "pixels_per_second"]},
        "properties": {
            "track_id": {"type": "string", "pattern": format!("^{UUID}$")},
            "format": {"type": "string", "enum": ["dat", "json", "png", "svg"]},
            "zoom": {"type": "integer", "nullable": true, "minimum": 2, "maximum": i32::MAX,
                     "description": "Frames per pixel; default 256."},
            "pixels_per_second": {"type": "integer", "nullable": true, "minimum": 1, "maximum": 100_000},
            "bits": {"type": "integer", "nullable": true, "enum": [8, 16, null]},
            "split_channels": {"type": "boolean"},
            "start": {"type": "number", "nullable": true, "minimum": 0, "maximum": 86_400},
            "width": pixels(limits.max_width),
            "height": pixels(limits.max_height),
            "background_color": color.clone(),
            "waveform_color": color.clone(),
            "axis_label_color": color,
            "waveform_style": {"type": "string", "nullable": true, "enum": ["normal", "bars", null]},
            "bar_width": pixels(limits.max_bar),
            "bar_gap": {"type": "integer", "nullable": true, "minimum": 0, "maximum": limits.max_bar},
            "bar_style": {"type": "string", "nullable": true, "enum": ["square", "rounded", null]},
            "no_axis_labels": {"type": "boolean"}
        }
    })
}

/// `fanout_chunk` as `FanoutChunk`.
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `{"error": {"code", "message", "field"?}}`, every code of the catalogue
/// that answers a request.
fn error_schema() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| c.http_status().is_some())
        .map(|c| c.as_str())
        .collect();
    json!({
        "type": "object",
        "title": "Error",
        "description": "An answer that is not a success.",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": codes, "description": "Stable code; the README's catalogue says what each means."},
                "message": {"type": "string", "description": "Human sentence."},
                "field": {"type": "string", "description": "The field or parameter at fault (a 422's)."}
            }
        }}
    })
}

/// Optional fields are written as `null` when absent: say so.
fn allow_null_where_optional(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let required: Vec<String> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if required.contains(name) {
                continue;
            }
            if let Some(reference) = property.get("$ref").cloned() {
                // `nullable` beside a bare `$ref` is ignored in OpenAPI 3.0.
                *property = json!({"allOf": [{"$ref": reference}], "nullable": true});
            } else if let Value::Object(p) = property {
                p.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
}

/// Adds to operation `op` (`method` on `path`) the error answers it can give.
fn add_error_answers(method: &str, path: &str, op: &mut Value) {
    let mut codes: Vec<ErrorCode> = vec![ErrorCode::InvalidRequest, ErrorCode::Unavailable];
    if op.get("security").is_some() {
        codes.push(ErrorCode::Unauthorized);
    }
    let limited = path.starts_with("/v1/");
    if limited {
        codes.push(ErrorCode::RateLimited);
    }
    if crate::edge::takes_upload(method, path) {
        codes.push(ErrorCode::TooManyUploads);
    }
    let params = op.get("parameters").and_then(Value::as_array);
    let has = |place: &str| params.is_some_and(|ps| ps.iter().any(|p| p["in"] == place));
    if has("path") {
        codes.push(ErrorCode::NotFound);
    }
    if has("query") || has("header") {
        codes.push(ErrorCode::InvalidField);
    }
    if op.get("requestBody").is_some() {
        codes.extend([
            ErrorCode::InvalidJson,
            ErrorCode::InvalidBody,
            ErrorCode::RequestTimeout,
            ErrorCode::InvalidField,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
        ]);
    }
    codes.extend(
        CONFLICTS
            .iter()
            .filter(|(m, p, _)| *m == method && *p == path)
            .flat_map(|(_, _, extra)| extra.iter().copied()),
    );
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for code in codes {
        if let Some(status) = code.http_status() {
            let named = by_status.entry(status).or_default();
            if !named.contains(&code.as_str()) {
                named.push(code.as_str());
            }
        }
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (status, named) in by_status {
        responses.entry(status.to_string()).or_insert_with(|| {
            json!({
                "description": format!("`{}` (or another code of this status)", named.join("`, `")),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            })
        });
    }
    if limited {
        add_rate_limit_headers(responses);
    }
}

/// The headers every answer of a `/v1` operation carries, with
/// `Retry-After` on its 429 (and on the 503 of a busy upload).
const RATE_LIMIT_HEADERS: [(&str, &str); 3] = [
    (
        "RateLimit-Limit",
        "Most requests the caller's bucket holds (its burst).",
    ),
    ("RateLimit-Remaining", "Requests left in the bucket now."),
    ("RateLimit-Reset", "Seconds until the bucket is full again."),
];

fn add_rate_limit_headers(responses: &mut Map<String, Value>) {
    let header =
        |text: &str| json!({"description": text, "schema": {"type": "integer", "minimum": 0}});
    for (status, answer) in responses.iter_mut() {
        let Some(answer) = answer.as_object_mut() else {
            continue;
        };
        let Value::Object(headers) = answer.entry("headers").or_insert_with(|| json!({})) else {
            continue;
        };
        for (name, text) in RATE_LIMIT_HEADERS {
            headers.insert(name.into(), header(text));
        }
        if status == "429" || status == "503" {
            headers.insert(
                "Retry-After".into(),
                header("Seconds to wait before trying again."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_gain_the_errors_their_shape_gives() {
        let spec = json!({
            "paths": {"/v1/jobs/{job_id}/retry": {"post": {
                "parameters": [{"name": "job_id", "in": "path"}],
                "responses": {"200": {"description": "ok"}},
                "security": [{"Tenant": []}]
            }}},
            "components": {"schemas": {"View": {
                "type": "object", "required": ["a"],
                "properties": {"a": {"type": "string"}, "b": {"type": "string"},
                               "c": {"$ref": "#/components/schemas/Other"}}
            }}}
        });
        let facts = Facts {
            presets: vec!["mp3_128".into()],
            enroll_samples: 3,
        };
        let doc: Value = serde_json::from_str(&complete(&spec.to_string(), &facts)).unwrap();
        let responses = &doc["paths"]["/v1/jobs/{job_id}/retry"]["post"]["responses"];
        for status in ["200", "400", "401", "404", "409", "429", "503"] {
            assert!(responses.get(status).is_some(), "{status}: {responses}");
            let headers = &responses[status]["headers"];
            assert!(
                headers["RateLimit-Remaining"].is_object(),
                "{status}: {headers}"
            );
        }
        assert!(responses["429"]["headers"]["Retry-After"].is_object());
        assert!(responses.get("413").is_none(), "no body, no 413");
        let view = &doc["components"]["schemas"]["View"]["properties"];
        assert_eq!(view["a"].get("nullable"), None);
        assert_eq!(view["b"]["nullable"], true);
        assert_eq!(view["c"]["allOf"][0]["$ref"], "#/components/schemas/Other");
        assert!(doc["components"]["schemas"]["Error"].is_object());
    }
}

/// The paths of the document and the methods each takes: what a 405
/// answers in its `Allow` header, and the route a request is counted under.
#[derive(Debug, Clone, Default)]
pub(crate) struct Methods(std::sync::Arc<Vec<PathMethods>>);

/// One path of the document.
#[derive(Debug)]
struct PathMethods {
    template: String,
    segments: Vec<String>,
    methods: String,
}

impl Methods {
    /// The methods of every path of `document`.
    pub(crate) fn of(document: &str) -> Self {
        let doc: Value = serde_json::from_str(document).unwrap_or_default();
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            return Self::default();
        };
        let table = paths
            .iter()
            .filter_map(|(path, item)| {
                let methods: Vec<String> = item
                    .as_object()?
                    .keys()
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                Some(PathMethods {
                    template: path.clone(),
                    segments: path.split('/').map(str::to_owned).collect(),
                    methods: methods.join(", "),
                })
            })
            .collect();
        Self(std::sync::Arc::new(table))
    }

    /// The methods `path` takes, if the document has it.
    pub(crate) fn allowed(&self, path: &str) -> Option<&str> {
        self.find(path).map(|p| p.methods.as_str())
    }

    /// The document's template of `path` (`/v1/jobs/{job_id}`), if it has one.
    pub(crate) fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|p| p.template.as_str())
    }

    fn find(&self, path: &str) -> Option<&PathMethods> {
        let asked: Vec<&str> = path.split('/').collect();
        // A template segment (`{job_id}`) takes any one segment; a fixed
        // one wins over a template, as the router has it.
        let fits = |template: &[String]| {
            template.len() == asked.len()
                && template
                    .iter()
                    .zip(&asked)
                    .all(|(t, a)| t == a || (t.starts_with('{') && !a.is_empty()))
        };
        let fixed = |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
        self.0
            .iter()
            .filter(|p| fits(&p.segments))
            .max_by_key(|p| fixed(&p.segments))
    }
}
