#!/usr/bin/env bash
# Runs an outside OpenAPI fuzzer, schemathesis (from PyPI, in a virtualenv
# kept in the cache), with every check against a `mixdown dev` started here
# in a temporary directory: the document must describe what the server does
# (every status it answers, every body it gives, every request it takes).
#
#   scripts/openapi-check.sh [MAX_EXAMPLES]
#
# MAX_EXAMPLES (default 30) is how many cases each operation gets per phase.
# Installs python3-venv when missing; builds the debug binary the way the
# test suite does (so after `cargo test --workspace` nothing is rebuilt).
# Settings beyond the command line are in scripts/schemathesis.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

examples=${1:-30}
mixdown_require_cargo
mixdown_install_packages "${MIXDOWN_BUILD_PACKAGES[@]}" python3-venv
venv=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/schemathesis
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4.3,<5'
fi
cargo build -q --workspace --tests --locked
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
MIXDOWN_LISTEN=127.0.0.1:$port MIXDOWN_OPS_LISTEN=127.0.0.1:0 MIXDOWN_DATA_DIR=$work/data RUST_LOG=warn \
  target/debug/mixdown dev >"$work/dev.log" 2>&1 &
dev=$!
trap 'kill $dev 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
key=$(cat "$work/data/dev-api-key")
# The hooks make the fuzzer send what a client would (see the module); its
# cache of findings stays in the temporary directory.
hooks=$PWD/scripts
cd "$work"
PYTHONPATH=$hooks SCHEMATHESIS_HOOKS=openapi_hooks "$venv/bin/st" --config-file "$hooks/schemathesis.toml" run "http://127.0.0.1:$port/openapi.json" --checks all \
  -H "Authorization: Bearer $key" --max-examples "$examples" --no-color --seed 1 \
  --max-response-time 70 --request-timeout 75
