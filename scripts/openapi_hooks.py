"""Schemathesis hooks for scripts/openapi-check.sh: act as a real client would.

- Idempotency keys: a client sends a new key for each new request (reusing
  one for another request is refused, 422 `idempotency_key_reused`), and the
  same key in the header and the body. Generated keys are short and repeat
  across requests, so each valid one is replaced by a fresh UUID; invalid
  ones are kept, since they are what a negative case tests.
- Header maps (`headers`, `secret_headers` of an `http` job) say which
  names they take with `propertyNames`, which OpenAPI 3.0 tools do not read:
  a name refused for what only `propertyNames` says (its characters, a
  connection's own headers, Mixdown's, a name in both maps) is not a
  finding; a refused value still is. Nor is an `idempotency_key` that
  differs from the `Idempotency-Key` header: a rule across the two.
- NDJSON bodies are sent as the text generated for them.
- A valid `wait` (long poll of a job) is cut to at most a second.
- Multipart forms carry text only: a value generated as an integer or null
  reaches the server as the text of it, which may well be a valid user id.
  Such "type" violations cannot be told apart on the wire, so those failures
  are dropped for multipart operations (the other checks still apply).
- URL fields (`callback_url`, an `http` job's `url`) are documented by a
  pattern of plain host names, a subset of the http(s) URLs the server takes:
  a value outside the pattern that the server accepted is not a finding.
"""

import re
import uuid

import schemathesis

KEY = re.compile(r"^[!-~]{1,255}$")


def fresh(value):
    """A new key in place of a valid one; anything else as it is."""
    if isinstance(value, str) and KEY.match(value):
        return str(uuid.uuid4())
    return value


@schemathesis.hook
def map_case(context, case):
    # `?wait=` holds an answer up to 60 s by design; a valid wait is cut to
    # a second so the run spends its time on cases, not on sleeping.
    query = case.query or {}
    wait = query.get("wait")
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and 0 <= wait <= 60:
        query["wait"] = min(wait, 1)
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    new_key = fresh(key)
    if key is not None:
        headers["Idempotency-Key"] = new_key
    body = case.body
    if isinstance(body, dict):
        if "idempotency_key" in body:
            # Given twice, a client gives the same key.
            given = body["idempotency_key"]
            both = isinstance(key, str) and KEY.match(key) and isinstance(given, str) and KEY.match(given)
            body["idempotency_key"] = new_key if both else fresh(given)
        jobs = body.get("jobs")
        if isinstance(jobs, list):
            for job in jobs:
                if isinstance(job, dict) and "idempotency_key" in job:
                    job["idempotency_key"] = fresh(job["idempotency_key"])
    return case


@schemathesis.serializer("application/x-ndjson")
def ndjson(context, value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


URL_FIELD = re.compile(r"violates `pattern` at \S*(callback_url|/url)\b")
HEADER_NAME = re.compile(r'"field":"(job\.|jobs\[\d+\]\.)?payload\.(secret_)?headers\.')


@schemathesis.hook
def filter_failure(context, failure, case, response):
    operation = context.operation
    media = operation.definition.raw.get("requestBody", {}).get("content", {}) if operation else {}
    multipart = any(m.startswith("multipart/") for m in media)
    text = str(getattr(failure, "message", "")) + str(failure)
    if multipart and "violates `type`" in text:
        return False
    if response is not None and response.status_code < 400 and URL_FIELD.search(text):
        return False
    body = response.text if response is not None else ""
    about_names = any(
        reason in body
        for reason in ("a header name", "per connection", "Mixdown's own", "in headers too")
    )
    refused = response is not None and response.status_code == 422
    if refused and HEADER_NAME.search(body) and about_names:
        return False
    # Two keys given for one request must agree, which no schema can say.
    return not (refused and "differs from the Idempotency-Key header" in body)
