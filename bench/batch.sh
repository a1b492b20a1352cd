#!/usr/bin/env bash
# Batch enqueue benchmark: jobs per second accepted through POST /v1/jobs/batch
# (every job a durable row in Postgres and an entry in Redis), printed beside
# the raw ceiling of the same Redis measured in the same run: LPUSH one at a
# time, and pipelined as the batch's own push is.
#
#   bench/batch.sh [SECONDS] [BATCH_SIZE] [CONNECTIONS]
#
# Defaults: 10 s, 1,000 jobs a batch, 4 connections. Needs the services of
# scripts/test.sh (started here if they are not running) and wrk (installed
# if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

seconds=${1:-10}
export BATCH_SIZE=${2:-1000}
connections=${3:-4}
bench_fleet batch wrk redis-tools

MIXDOWN_BENCH_KEY=$("$bin" keys create --tenant bench | awk '{print $NF}')
export MIXDOWN_BENCH_KEY
"$bin" api --listen 127.0.0.1:18081 >"$work/api.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 100); do curl -fs http://127.0.0.1:18081/healthz >/dev/null && break; sleep 0.1; done

echo "== raw Redis ceiling (redis-benchmark LPUSH, 50 clients; then pipelined by $BATCH_SIZE)"
single=$(redis-benchmark -u "$REDIS_URL" -t lpush -n 200000 -c 50 --csv 2>/dev/null |
  awk -F'"' '$2 == "LPUSH" {print $4}')
piped=$(redis-benchmark -u "$REDIS_URL" -t lpush -n 2000000 -c 4 -P "$BATCH_SIZE" --csv 2>/dev/null |
  awk -F'"' '$2 == "LPUSH" {print $4}')
echo "LPUSH $single/s; pipelined $piped/s"

echo "== batches through the API (wrk, 2 threads, $connections connections, ${seconds}s, $BATCH_SIZE jobs a batch)"
wrk_out=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 30s -s bench/batch.lua http://127.0.0.1:18081/v1/jobs/batch)
echo "$wrk_out" | grep -E 'Requests/sec|Latency|Non-2xx|requests in' || true
if echo "$wrk_out" | grep -q 'Non-2xx'; then
  echo "some batches were refused: see $work/api.log" >&2
  exit 1
fi
requests=$(echo "$wrk_out" | awk '/requests in/ {print $1}')
elapsed=$(echo "$wrk_out" | awk '/requests in/ {sub(/s,/, "", $4); print $4}')
rows=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs")
queued=$(redis-cli -u "$REDIS_URL" get "{$MIXDOWN_REDIS_PREFIX:noop}:ready_count" 2>/dev/null || echo "?")
# Batches answered within the run; those in flight at its end land after.
jobs_per_s=$(echo "$requests * $BATCH_SIZE / $elapsed" | bc -l)

printf '\n%-40s %12s %10s\n' "measure" "per second" "ratio"
printf '%-40s %12.0f %10s\n' "Redis LPUSH (ceiling, unpipelined)" "$single" "1"
printf '%-40s %12.0f %10s\n' "Redis LPUSH (ceiling, pipelined)" "$piped" "1"
printf '%-40s %12.0f %10.3f\n' "batch enqueue (durable rows, HTTP)" "$jobs_per_s" "$(echo "$jobs_per_s / $single" | bc -l)"
printf '%-40s %12s %10.3f\n' "  … against the pipelined ceiling" "" "$(echo "$jobs_per_s / $piped" | bc -l)"
echo "batches answered: $requests; rows recorded: $rows (at least $((requests * BATCH_SIZE)): batches in flight at the end land too); ready in Redis: $queued"
