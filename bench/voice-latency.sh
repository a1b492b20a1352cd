#!/usr/bin/env bash
# End-to-end latency of voice verification under load on an embedded `mixdown
# dev` (release): CLIENTS concurrent clients each upload a 5 s sample, then
# `GET /v1/jobs/{id}?wait=` until the verdict, RUNS times in a row. Prints
# the p50 and p99 upload-to-verdict latency and the verifications per second
# (and per core) over the whole run.
#
#   bench/voice-latency.sh [CLIENTS] [RUNS]
#
# CLIENTS defaults to 20, RUNS to 5. The speaker is enrolled first from three LJ Speech
# files of the shared corpus (MIXDOWN_TEST_VOICE_DATA, default
# ../shared/testdata/voice); the verification sample is another file of the
# same speaker cut to 5.00 s with sox. Needs curl, sox and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

clients=${1:-20}
runs=${2:-5}
corpus=${MIXDOWN_TEST_VOICE_DATA:-../shared/testdata/voice}
mixdown_install_packages curl sox python3
MIXDOWN_VOICE_MODEL=${MIXDOWN_VOICE_MODEL:-$(scripts/voice-model.sh)}
export MIXDOWN_VOICE_MODEL
# MIXDOWN_BIN runs a given binary instead of building the release one.
bin=${MIXDOWN_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -p mixdown >/dev/null
  bin=${CARGO_TARGET_DIR:-target}/release/mixdown
fi

work=$(mktemp -d)
cleanup() {
  kill "${dev_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ops_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Concurrent verifications of one user count against its lockout: off here.
MIXDOWN_VOICE_MAX_FAILURES=0 MIXDOWN_OPS_LISTEN=127.0.0.1:$ops_port RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/out" &
dev_pid=$!
for _ in $(seq 100); do
  grep -q 'API key' "$work/out" 2>/dev/null && break
  sleep 0.1
done
key=$(grep 'API key' "$work/out" | awk '{print $NF}')
base=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $key")

job_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])'; }
state_of() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["state"], json.dumps(j["result"] or j["error"]))'; }

enrolled=$(curl -sf "${auth[@]}" -F user_id=lj \
  -F "sample=@$corpus/ljspeech-lj_LJ001-0006.wav" \
  -F "sample=@$corpus/ljspeech-lj_LJ001-0009.wav" \
  -F "sample=@$corpus/ljspeech-lj_LJ001-0011.wav" "$base/v1/voice/enrollments" | job_of)
echo "enrollment: $(curl -sf "${auth[@]}" "$base/v1/jobs/$enrolled?wait=60" | state_of)"

sox "$corpus/ljspeech-lj_LJ001-0004.wav" "$work/five.wav" trim 0 5
# One client: upload, then wait for the verdict, `runs` times; one line of ms each.
client() {
  for _ in $(seq "$runs"); do
    local start job ms
    start=$(date +%s%N)
    job=$(curl -sf "${auth[@]}" -F user_id=lj -F "sample=@$work/five.wav" "$base/v1/voice/verifications" | job_of)
    curl -sf "${auth[@]}" "$base/v1/jobs/$job?wait=30" | state_of >>"$work/verdicts"
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "$ms"
  done
}
started=$(date +%s%N)
for c in $(seq "$clients"); do
  client >"$work/client-$c" &
done
wait $(jobs -p | grep -v "^$dev_pid$")
wall_ms=$((($(date +%s%N) - started) / 1000000))
cat "$work"/client-* | sort -n >"$work/all"
total=$(wc -l <"$work/all")
pct() { awk -v q="$1" '{a[NR] = $1} END {i = int(q * NR + 0.999999); if (i < 1) i = 1; print a[i]}' "$work/all"; }
cores=$(nproc)
echo "verdicts: $(cut -d' ' -f1 "$work/verdicts" | sort | uniq -c | tr '\n' ' ')"
echo "$clients clients x $runs verifications of a 5 s sample: $total in ${wall_ms} ms"
echo "upload -> verdict latency: p50 $(pct 0.50) ms, p99 $(pct 0.99) ms, max $(tail -1 "$work/all") ms"
awk -v n="$total" -v ms="$wall_ms" -v c="$cores" 'BEGIN {
  printf "throughput: %.2f verifications/s, %.2f per core (%d cores)\n", n * 1000 / ms, n * 1000 / ms / c, c }'
