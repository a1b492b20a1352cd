#!/usr/bin/env bash
# End-to-end latency of a voice verification on an idle embedded `mixdown
# dev` (release): upload a 5 s sample, then `GET /v1/jobs/{id}?wait=` until
# the verdict; prints each run and the median.
#
#   bench/voice-latency.sh [RUNS]
#
# RUNS defaults to 10. The speaker is enrolled first from three LJ Speech
# files of the shared corpus (MIXDOWN_TEST_VOICE_DATA, default
# ../shared/testdata/voice); the verification sample is another file of the
# same speaker cut to 5.00 s with sox. Needs curl, sox and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

runs=${1:-10}
corpus=${MIXDOWN_TEST_VOICE_DATA:-../shared/testdata/voice}
mixdown_install_packages curl sox python3
MIXDOWN_VOICE_MODEL=${MIXDOWN_VOICE_MODEL:-$(scripts/voice-model.sh)}
export MIXDOWN_VOICE_MODEL
cargo build --release -p mixdown >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/mixdown

work=$(mktemp -d)
cleanup() {
  kill "${dev_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/out" &
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
times=()
for i in $(seq "$runs"); do
  start=$(date +%s%N)
  job=$(curl -sf "${auth[@]}" -F user_id=lj -F "sample=@$work/five.wav" "$base/v1/voice/verifications" | job_of)
  verdict=$(curl -sf "${auth[@]}" "$base/v1/jobs/$job?wait=30" | state_of)
  ms=$((($(date +%s%N) - start) / 1000000))
  times+=("$ms")
  echo "run $i: ${ms} ms  $verdict"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "median end-to-end verification of a 5 s sample: ${median} ms"
