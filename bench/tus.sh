#!/usr/bin/env bash
# Resumable uploads against the S3 test server: a file of SIZE_MB sent in
# CHUNK_MIB chunks through `/v1/uploads/tus` (one PATCH a chunk, each
# answered once its bytes are stored), beside a plain multipart upload of
# the same file straight to the same server in the same run. Prints both
# rates, their ratio, and the API process's peak RSS (VmHWM), which must
# stay flat whatever the file's size.
#
#   bench/tus.sh [SIZE_MB] [CHUNK_MIB]
#
# Defaults: 500 MB in 8 MiB chunks. Needs the services of scripts/test.sh
# (started here if they are not running).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

size_mb=${1:-500}
chunk=$((${2:-8} * 1024 * 1024))
bench_fleet tus
if [ "$bench_profile" = release ]; then
  cargo build --release -p mixdown --example tus_bench >/dev/null
fi
client=target/$bench_profile/examples/tus_bench

head -c "$((size_mb * 1000 * 1000))" /dev/urandom >"$work/upload.bin"
key=$("$bin" keys create --tenant bench | awk '{print $NF}')
"$bin" api --listen 127.0.0.1:18082 >"$work/api.log" 2>&1 &
api=$!
bench_pids+=("$api")
for _ in $(seq 100); do curl -fs http://127.0.0.1:18082/healthz >/dev/null && break; sleep 0.1; done

echo "== $size_mb MB in $((chunk / 1024 / 1024)) MiB chunks: direct multipart, then tus ($bench_profile build)"
"$client" http://127.0.0.1:18082 "$key" "$work/upload.bin" "$chunk"
echo "API peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$api/status")"
